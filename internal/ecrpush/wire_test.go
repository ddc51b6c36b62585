// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// TestBase64BodyReadsAndSeeks reads bodies of many blob sizes with many read
// sizes, seeking back and forth, and compares with the encoding done at once;
// with the blob encoded as it is read, and with its text encoded in advance.
func TestBase64BodyReadsAndSeeks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 2, 3, 4, 5, 6, 7, 100, 1000, 4096, 65537} {
		blob := make([]byte, size)
		for i := range blob {
			blob[i] = byte(r.Uint32())
		}
		want := []byte(`{"a":1,"layerPartBlob":"` + base64.StdEncoding.EncodeToString(blob) + `"}`)
		for i, chunk := range []int{1, 2, 3, 4, 5, 7, 64, 32 << 10} {
			body := &base64Body{head: []byte(`{"a":1,"layerPartBlob":"`), blob: blob, tail: []byte(`"}`)}
			if i%2 == 1 {
				// The text encoded in advance, blob a placeholder.
				body.encoded = []byte(base64.StdEncoding.EncodeToString(blob))
				body.blob = make([]byte, size)
			}
			if n, _ := body.Seek(0, io.SeekEnd); n != int64(len(want)) {
				t.Fatalf("size %d: length %d, want %d", size, n, len(want))
			}
			for _, from := range []int64{0, int64(len(want)) / 3, 0} {
				if _, err := body.Seek(from, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				var got []byte
				buf := make([]byte, chunk)
				for {
					n, err := body.Read(buf)
					got = append(got, buf[:n]...)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						t.Fatal("Read returned 0 bytes and no error")
					}
				}
				if !bytes.Equal(got, want[from:]) {
					t.Fatalf("size %d, reads of %d, from %d: got %q\nwant %q", size, chunk, from, got, want[from:])
				}
			}
		}
	}
}

// TestStreamedPartIsTheSDKsRequest sends UploadLayerPart with and without
// streamParts and compares the two requests as received: the same JSON
// members and values, the same signed headers, and a Content-Length.
func TestStreamedPartIsTheSDKsRequest(t *testing.T) {
	var bodies []map[string]any
	var lengths []int64
	api := ecr.New(ecr.Options{
		Region:       region,
		BaseEndpoint: aws.String("http://ecr.invalid"),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient: roundTrip(func(r *http.Request) (*http.Response, error) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			bodies = append(bodies, m)
			lengths = append(lengths, r.ContentLength)
			if r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerRegistry_V20150921.UploadLayerPart" ||
				r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Fatalf("headers %v", r.Header)
			}
			return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader([]byte(`{"lastByteReceived": 9}`))),
				Header: http.Header{}, Request: r}, nil
		}),
	})
	blob := []byte("0123456789")
	in := &ecr.UploadLayerPartInput{RepositoryName: aws.String("team/app"), RegistryId: aws.String("123456789012"),
		UploadId: aws.String("0f0e0d0c-0b0a-4908-8706-050403020100"), PartFirstByte: aws.Int64(0),
		PartLastByte: aws.Int64(9), LayerPartBlob: blob}
	for _, opts := range [][]func(*ecr.Options){nil, {streamParts}} {
		out, err := api.UploadLayerPart(context.Background(), in, opts...)
		if err != nil || aws.ToInt64(out.LastByteReceived) != 9 {
			t.Fatalf("%v %v", out, err)
		}
	}
	if !reflect.DeepEqual(bodies[0], bodies[1]) || lengths[1] <= 0 {
		t.Fatalf("SDK: %v\nstreamed: %v (Content-Length %d)", bodies[0], bodies[1], lengths[1])
	}
	if !bytes.Equal(in.LayerPartBlob, blob) {
		t.Fatal("the caller's input was changed")
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestPresignedHashIsTheBodysHash: a part's payload hash begun by the
// reader and finished with the body's tail is the sha256 of the body sent;
// for other bytes than those it was begun for, there is none.
func TestPresignedHashIsTheBodysHash(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{1, 2, 3, 47, 48, 49, 100000, 3 << 20} {
		blob := make([]byte, size)
		for i := range blob {
			blob[i] = byte(r.Uint32())
		}
		pre, err := presign(blob, make([]byte, 64))
		if err != nil {
			t.Fatal(err)
		}
		tail := []byte(`"partFirstByte":0}`)
		body := &base64Body{head: []byte(blobHead), blob: blob, tail: append([]byte{'"', ','}, tail...)}
		all, _ := io.ReadAll(body)
		sum := sha256.Sum256(all)
		if got := pre.payloadHash(blob, append([]byte{','}, tail...)); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("size %d: presigned %s, body %x", size, got, sum)
		}
		if pre.payloadHash(blob[:size-1], tail) != "" || pre.payloadHash(append([]byte(nil), blob...), tail) != "" {
			t.Fatalf("size %d: a hash for other bytes", size)
		}
	}
}

// TestPresignedHashIsUsed: the signer signs with the presigned payload
// hash, not one it computes: a presigned hash for other bytes (a test can
// change the part in place; the engine never does) makes the endpoint, which
// checks SigV4, refuse the request. With the right one, it takes the part.
func TestPresignedHashIsUsed(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	api := client(srv, 1)
	up, err := InitiateLayerUpload(context.Background(), api, pushTarget)
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("the bytes of a part")
	in := &ecr.UploadLayerPartInput{RepositoryName: aws.String(pushTarget.Repository), UploadId: aws.String(up.ID),
		PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(blob) - 1)), LayerPartBlob: blob}
	pre, err := presign(blob, make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	copy(blob, "THE")
	_, err = api.UploadLayerPart(context.Background(), in, streamPart(pre))
	if facts, _ := FactsOf(operationError(context.Background(), "UploadLayerPart", pushTarget, err)); facts.Code != "InvalidSignatureException" {
		t.Fatalf("a wrong presigned hash: want InvalidSignatureException, got %v", err)
	}
	if pre, err = presign(blob, make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.UploadLayerPart(context.Background(), in, streamPart(pre)); err != nil {
		t.Fatal(err)
	}
}
