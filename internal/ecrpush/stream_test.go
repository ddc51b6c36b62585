// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// streamed makes a Blob that streams content, recording each offset it is
// opened at; lastErr, when set, comes with the read that ends the content,
// as a digest check's error does.
type streamed struct {
	content []byte
	lastErr error
	mu      sync.Mutex
	opened  []int64
}

func (s *streamed) blob(digest string) Blob {
	return Blob{Name: "streamed", Digest: digest, Size: int64(len(s.content)), Open: s.open}
}

func (s *streamed) open(_ context.Context, off int64) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opened = append(s.opened, off)
	s.mu.Unlock()
	return io.NopCloser(&endErrReader{r: bytes.NewReader(s.content[off:]), err: s.lastErr}), nil
}

func (s *streamed) offsets() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.opened)
}

// endErrReader returns err, when set, with the bytes of its last read.
type endErrReader struct {
	r   *bytes.Reader
	err error
}

func (e *endErrReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if e.err != nil && e.r.Len() == 0 {
		return n, e.err
	}
	return n, err
}

// TestStreamedBlobIsOpenedWhereECRStands sends a streamed blob of three
// parts and has ECR claim less than it holds after the first: the stream is
// opened again at the byte ECR names, then at the byte the endpoint's real
// answer names, and what ECR stores is the content.
func TestStreamedBlobIsOpenedWhereECRStands(t *testing.T) {
	const part = 5 * mib
	srv := pushEndpoint(t, part)
	blob, content := randomBlob(2*part+999, 31)
	src := &streamed{content: content}
	var once sync.Once
	p := &Pusher{API: client(srv, 1), Progress: func(pr Progress) {
		if pr.Phase == PhaseUploading && pr.Done == part {
			once.Do(func() {
				srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Code: "InvalidLayerPartException", Message: "injected",
					Extra: map[string]any{"lastValidByteReceived": int64(part - 1000)}})
			})
		}
	}}
	if _, err := p.PushBlob(context.Background(), pushTarget, src.blob(blob.Digest), nil); err != nil {
		t.Fatal(err)
	}
	storedIs(t, srv, blob.Digest, content)
	if got, want := src.offsets(), []int64{0, part - 999, part}; !slices.Equal(got, want) {
		t.Fatalf("stream opened at %v, want %v", got, want)
	}
}

// TestAStreamsLastReadErrorStopsThePush: the error a stream returns with its
// last bytes (a digest mismatch found as it streams) fails the push before
// CompleteLayerUpload, although every byte was read.
func TestAStreamsLastReadErrorStopsThePush(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	blob, content := randomBlob(6*mib, 32)
	bad := errors.New("the bytes do not hash to the digest")
	src := &streamed{content: content, lastErr: bad}
	_, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, src.blob(blob.Digest), nil)
	var readErr *BlobReadError
	if !errors.Is(err, bad) || !errors.As(err, &readErr) {
		t.Fatalf("want the stream's error in a *BlobReadError, got %v", err)
	}
	if n := srv.ArrivalsFor("CompleteLayerUpload"); n != 0 {
		t.Fatalf("CompleteLayerUpload called %d times after the stream failed", n)
	}
}

// TestAStreamThatCannotOpenFailsTheBlob names the stream's error.
func TestAStreamThatCannotOpenFailsTheBlob(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	refused := errors.New("registry said 503")
	b := Blob{Name: "streamed", Digest: digestOf([]byte("x")), Size: 1,
		Open: func(context.Context, int64) (io.ReadCloser, error) { return nil, refused }}
	_, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, b, nil)
	if !errors.Is(err, refused) {
		t.Fatalf("want the open error, got %v", err)
	}
}

// TestAStreamedBlobMustGiveItsDigest: a stream is read once, to be sent.
func TestAStreamedBlobMustGiveItsDigest(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	src := &streamed{content: []byte("abc")}
	_, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, src.blob(""), nil)
	var invalid *InvalidBlobError
	if !errors.As(err, &invalid) || len(src.offsets()) != 0 {
		t.Fatalf("want an *InvalidBlobError and no read, got %v after opens at %v", err, src.offsets())
	}
}
