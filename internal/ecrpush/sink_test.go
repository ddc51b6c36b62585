// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// sink is an ECR that reads every request body to its end and keeps
// nothing: it answers each operation as a willing ECR would, without
// checking digests, so that what a test or benchmark measures is the
// client's work alone (SDK, signing, the engine), not an endpoint's.
type sink struct {
	partSize int64
	received atomic.Int64 // request body bytes read
}

// client is an SDK client whose transport is the sink itself, in process.
func (s *sink) client() *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       region,
		BaseEndpoint: aws.String("https://ecr.sink.invalid"),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:   s,
	})
}

var partLastByteKey = []byte(`"partLastByte":`)

func (s *sink) Do(r *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerRegistry_V20150921.")
	// Read the body through in chunks, finding "partLastByte":<digits> with
	// bytes.Index; a chunk keeps the previous one's last 64 bytes in front,
	// so a match across two reads is found too.
	buf := make([]byte, 64+32<<10)
	var (
		n, carry int
		digits   []byte
	)
	for {
		m, err := r.Body.Read(buf[carry:])
		n += m
		window := buf[:carry+m]
		if digits == nil {
			if i := bytes.Index(window, partLastByteKey); i >= 0 {
				rest := bytes.TrimLeft(window[i+len(partLastByteKey):], " ")
				j := 0
				for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
					j++
				}
				if j < len(rest) { // the number ends inside the window
					digits = append([]byte(nil), rest[:j]...)
				}
			}
		}
		if err != nil {
			break
		}
		carry = min(64, len(window))
		copy(buf, window[len(window)-carry:])
	}
	received := int64(n)
	s.received.Add(received)
	var body string
	switch op {
	case "BatchCheckLayerAvailability":
		body = `{"layers":[],"failures":[]}`
	case "InitiateLayerUpload":
		body = fmt.Sprintf(`{"uploadId":"0f0e0d0c-0b0a-4908-8706-050403020100","partSize":%d}`, s.partSize)
	case "UploadLayerPart":
		last, err := strconv.ParseInt(string(digits), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("sink: no partLastByte in the part (%q)", digits)
		}
		body = fmt.Sprintf(`{"lastByteReceived":%d}`, last)
	default:
		body = `{}`
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body: io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)), Request: r}, nil
}

// TestPartsAreNotCopied pushes parts through the SDK client and counts the
// bytes the process allocates: the engine's few part buffers, not a copy
// (or four, as the SDK's own serializer makes) of every part.
func TestPartsAreNotCopied(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	const part, parts = 5 * mib, 12
	s := &sink{partSize: part}
	api := s.client()
	digest, err := HashBlob(context.Background(), zeros{}, parts*part, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob := Blob{Digest: digest, Size: parts * part, Content: zeros{}}
	p := &Pusher{API: api}
	// Warm up: the first push allocates the buffers the next ones reuse. It
	// is another blob: one this process has pushed is not sent again.
	warm, err := HashBlob(context.Background(), zeros{}, part+1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PushBlob(context.Background(), pushTarget, Blob{Digest: warm, Size: part + 1, Content: zeros{}}, nil); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = p.PushBlob(context.Background(), pushTarget, blob, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.received.Load(); got < int64(parts*part*4/3) {
		t.Fatalf("the sink read %d bytes, fewer than the parts' base64", got)
	}
	// Up to pipelineDepth new buffers (each for a part's base64) if the
	// pool was emptied by the GC, plus small change per request.
	alloc, most := after.TotalAlloc-before.TotalAlloc, uint64(pipelineDepth*base64.StdEncoding.EncodedLen(part)+4*mib)
	t.Logf("%d parts of %d bytes: %d bytes allocated", parts, part, alloc)
	if alloc > most {
		t.Fatalf("pushing %d parts of %d bytes allocated %d bytes; want at most %d", parts, part, alloc, most)
	}
}
