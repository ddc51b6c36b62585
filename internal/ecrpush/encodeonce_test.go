// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// Parts encoded once: through the SDK's client, after the first part proved
// that the serializer streams the engine's own slice, the reader keeps only
// each part's base64 text (presignEncoded) and the body sends it as it is.

// TestPresignEncodedIsTheBodysHashAndText: the text kept is base64(part),
// the presigned hash is the body's, whatever the sizes of part and chunk.
func TestPresignEncodedIsTheBodysHashAndText(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{1, 2, 3, 4, 47, 48, 49, 100000, 1 << 20} {
		content := make([]byte, size+7)
		for i := range content {
			content[i] = byte(r.Uint32())
		}
		part := content[7:]
		for _, chunk := range []int{3, 6, 48, 3 << 10} {
			enc := make([]byte, base64.StdEncoding.EncodedLen(size))
			pre, err := presignEncoded(bytes.NewReader(content), 7, int64(size), int64(len(content)), enc, make([]byte, chunk))
			if err != nil {
				t.Fatal(err)
			}
			if string(pre.encoded) != base64.StdEncoding.EncodeToString(part) || !pre.owns(enc[:size]) {
				t.Fatalf("size %d, chunk %d: the text kept is not the part's base64", size, chunk)
			}
			tail := []byte(`"partFirstByte":7}`)
			body := &base64Body{head: []byte(blobHead), blob: pre.blob, encoded: pre.encoded, tail: append([]byte{'"', ','}, tail...)}
			all, _ := io.ReadAll(body)
			want := `{"layerPartBlob":"` + base64.StdEncoding.EncodeToString(part) + `",` + string(tail)
			if string(all) != want {
				t.Fatalf("size %d, chunk %d: the body is not the part's", size, chunk)
			}
			sum := sha256.Sum256(all)
			if got := pre.payloadHash(pre.blob, append([]byte{','}, tail...)); got != hex.EncodeToString(sum[:]) {
				t.Fatalf("size %d, chunk %d: presigned %s, body %x", size, chunk, got, sum)
			}
		}
	}
	// Content shorter than said: a *BlobReadError, as for a plain read.
	_, err := presignEncoded(bytes.NewReader(make([]byte, 10)), 0, 12, 12, make([]byte, 16), make([]byte, 6))
	var readErr *BlobReadError
	if !errors.As(err, &readErr) {
		t.Fatalf("short content: %v", err)
	}
}

// TestPartsAreEncodedOnceThroughTheSDK pushes through the SDK's client to
// the endpoint (which checks SigV4 and the digest): after the first parts,
// the content is read a chunk at a time into base64 text only, and what
// the endpoint stores is the blob.
func TestPartsAreEncodedOnceThroughTheSDK(t *testing.T) {
	const part = 5 * mib
	parts := 5
	if raceEnabled {
		parts = 3
	}
	srv := pushEndpoint(t, part)
	blob, content := randomBlob(parts*part+3, 80)
	reads := &chunkReads{r: bytes.NewReader(content)}
	blob.Content = reads
	res, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil || res.BytesSent != blob.Size {
		t.Fatalf("result %+v, error %v", res, err)
	}
	storedIs(t, srv, blob.Digest, content)
	whole, chunked, total := reads.counts(part)
	// The first part, and the second read while it was sent, are read
	// whole; the rest in chunks.
	if whole != 2 || chunked == 0 || total != blob.Size {
		t.Fatalf("%d whole parts, %d chunks, %d bytes read of %d", whole, chunked, total, blob.Size)
	}
}

// chunkReads counts reads by size.
type chunkReads struct {
	r     io.ReaderAt
	mu    sync.Mutex
	sizes []int
}

func (c *chunkReads) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(p))
	c.mu.Unlock()
	return c.r.ReadAt(p, off)
}

func (c *chunkReads) counts(part int) (whole, chunked int, total int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.sizes {
		total += int64(n)
		switch {
		case n == part:
			whole++
		case n <= presignScratch/4*3:
			chunked++
		}
	}
	return whole, chunked, total
}

// copyingClient copies the LayerPartBlob of each part from byte from on
// before handing the call to the client, as a wrapper that changes parts
// must, and changes byte flip of the blob in its copy when flip >= 0. It
// records whether each copy it handed on held the blob's bytes.
type copyingClient struct {
	PushAPI
	content    []byte
	from, flip int64

	mu      sync.Mutex
	calls   int
	copied  int // calls answered errPartCopied
	badCopy int // copies handed on that did not hold the content's bytes
}

func (c *copyingClient) UploadLayerPart(ctx context.Context, in *ecr.UploadLayerPartInput,
	opts ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error) {
	first := *in.PartFirstByte
	if first < c.from {
		return c.PushAPI.UploadLayerPart(ctx, in, opts...)
	}
	cp := *in
	cp.LayerPartBlob = append([]byte(nil), in.LayerPartBlob...)
	right := bytes.Equal(cp.LayerPartBlob, c.content[first:first+int64(len(cp.LayerPartBlob))])
	if c.flip >= first && c.flip < first+int64(len(cp.LayerPartBlob)) {
		cp.LayerPartBlob[c.flip-first] ^= 0xff
	}
	out, err := c.PushAPI.UploadLayerPart(ctx, &cp, opts...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	switch {
	case errors.Is(err, errPartCopied):
		c.copied++
	case !right:
		c.badCopy++
	}
	return out, err
}

// TestWrappersThatCopyPartsGetTheContent: a wrapper of the SDK's client
// that copies (and maybe changes) LayerPartBlob gets the content's bytes in
// every part it hands on: when the engine had kept a part in base64 only,
// the serializer refuses the copy before sending anything and the engine
// sends the part again from a plain buffer, and keeps to plain buffers.
func TestWrappersThatCopyPartsGetTheContent(t *testing.T) {
	const part = 5 * mib
	parts := 4
	if raceEnabled {
		parts = 3
	}
	for _, tc := range []struct {
		name       string
		from, flip int64
		refused    int // parts refused as copies of a placeholder
	}{
		{"every part copied", 0, -1, 0},
		// The first two parts are read whole, the third in base64 only.
		{"copied from the third part on", 2 * part, -1, 1},
		{"copied from the third part on, one byte changed", 2 * part, int64(parts)*part + 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := pushEndpoint(t, part)
			blob, content := randomBlob(parts*part+3, 81)
			api := &copyingClient{PushAPI: client(srv, 1), content: content, from: tc.from, flip: tc.flip}
			res, err := (&Pusher{API: api}).PushBlob(context.Background(), pushTarget, blob, nil)
			if api.badCopy != 0 {
				t.Fatalf("%d parts handed on without the content's bytes", api.badCopy)
			}
			if api.copied != tc.refused {
				t.Fatalf("%d parts refused as copies; want %d", api.copied, tc.refused)
			}
			if tc.flip < 0 {
				if err != nil || res.BytesSent != blob.Size {
					t.Fatalf("result %+v, error %v", res, err)
				}
				storedIs(t, srv, blob.Digest, content)
				return
			}
			var mismatch *DigestMismatchError
			if !errors.As(err, &mismatch) || !mismatch.ByECR || isAvailable(t, srv, blob.Digest) {
				t.Fatalf("a changed part: %v", err)
			}
		})
	}
}
