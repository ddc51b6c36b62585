// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// blobOpener returns a Blob's Open for the blob of digest and size: a GET
// through the session's client, so that the registry's auth applies and a
// redirect to blob storage elsewhere is followed without it. The body is
// streamed: no temporary file, no whole blob in memory.
func (s *remoteSession) blobOpener(digest string, size int64) func(context.Context, int64) (io.ReadCloser, error) {
	return func(ctx context.Context, offset int64) (io.ReadCloser, error) {
		return s.openBlob(ctx, digest, size, offset)
	}
}

func (s *remoteSession) openBlob(ctx context.Context, digest string, size, offset int64) (io.ReadCloser, error) {
	name := s.blobName(digest)
	if offset < 0 || offset > size {
		return nil, fmt.Errorf("reading %s from byte %d: it has %d bytes", name, offset, size)
	}
	s.mu.Lock()
	raw, read := s.smallBlobs[digest]
	s.mu.Unlock()
	if read && int64(len(raw)) == size {
		return io.NopCloser(bytes.NewReader(raw[offset:])), nil
	}
	if offset == size && size > 0 {
		// Nothing left; a registry would answer the empty range 416.
		return io.NopCloser(strings.NewReader("")), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url("blobs", digest), nil)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		// With its last byte: go-containerregistry's registry, for one,
		// refuses the open-ended form ("bytes=<first>-").
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, size-1))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.remoteError(err, "blob "+digest)
	}
	body := resp.Body
	fail := func(err error) (io.ReadCloser, error) {
		_ = body.Close()
		return nil, err
	}
	start := int64(0)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusPartialContent:
		if offset == 0 {
			return fail(fmt.Errorf("reading %s: the registry answered 206 Partial Content to a request for the whole blob", name))
		}
		if start, err = contentRangeStart(resp.Header.Get("Content-Range")); err != nil || start != offset {
			return fail(fmt.Errorf("reading %s from byte %d: the registry answered the range %q",
				name, offset, resp.Header.Get("Content-Range")))
		}
	default:
		return fail(s.remoteError(transport.CheckError(resp, http.StatusOK), "blob "+digest))
	}
	if resp.ContentLength >= 0 && resp.ContentLength != size-start {
		return fail(&SizeMismatchError{Name: name, Digest: digest, Want: size - start, Got: resp.ContentLength})
	}
	if start < offset {
		// The registry ignored the range: skip to offset.
		if n, err := io.CopyN(io.Discard, body, offset-start); err != nil {
			return fail(fmt.Errorf("reading %s: skipping to byte %d: %w after %d bytes", name, offset, err, start+n))
		}
	}
	r := &blobReader{body: body, name: name, digest: digest, size: size, read: offset}
	if offset == 0 {
		r.hash = sha256.New()
	}
	return r, nil
}

// contentRangeStart reads the first byte of "bytes <first>-<last>/<size>".
func contentRangeStart(h string) (int64, error) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	first, _, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 {
		return 0, errors.New("not a byte range")
	}
	return strconv.ParseInt(first, 10, 64)
}

// blobReader streams a blob, checking its length and, read from its start,
// its digest: the Read that delivers the last byte returns the
// *DigestMismatchError with it.
type blobReader struct {
	body   io.ReadCloser
	name   string
	digest string
	size   int64
	read   int64     // bytes of the blob read, from its start
	hash   hash.Hash // nil when reading from an offset
	done   bool
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	// Never ask for more than the blob has left, so that a longer body is
	// noticed here and not handed on.
	if left := r.size - r.read; int64(len(p)) > left {
		p = p[:left]
	}
	n := 0
	var err error
	if len(p) > 0 {
		n, err = r.body.Read(p)
	}
	r.read += int64(n)
	if r.hash != nil {
		r.hash.Write(p[:n])
	}
	switch {
	case r.read == r.size:
		return n, r.end()
	case err == io.EOF:
		r.done = true
		return n, &SizeMismatchError{Name: r.name, Digest: r.digest, Want: r.size, Got: r.read}
	case err != nil:
		return n, fmt.Errorf("reading %s: %w", r.name, err)
	}
	return n, nil
}

// end checks, at the last byte, that the body ends there and that the
// bytes have the blob's digest.
func (r *blobReader) end() error {
	r.done = true
	var one [1]byte
	if n, _ := io.ReadFull(r.body, one[:]); n > 0 {
		return fmt.Errorf("reading %s: the registry sent more than its %d bytes: %w", r.name, r.size,
			&SizeMismatchError{Name: r.name, Digest: r.digest, Want: r.size, Got: r.size + 1})
	}
	if r.hash == nil {
		return io.EOF
	}
	if got := "sha256:" + hex.EncodeToString(r.hash.Sum(nil)); got != r.digest {
		return &DigestMismatchError{Name: r.name, Want: r.digest, Got: got, Size: r.size}
	}
	return io.EOF
}

func (r *blobReader) Close() error { return r.body.Close() }

// smallBlob reads a whole small blob (a config), checked against its
// descriptor, at most limit bytes.
func (s *remoteSession) smallBlob(ctx context.Context, d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d this reads", s.blobName(d.Digest.String()), d.Size, limit)
	}
	rc, err := s.openBlob(ctx, d.Digest.String(), d.Size, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	// Checked against its digest as it was read: the push sends these
	// bytes rather than fetch the blob a second time.
	s.mu.Lock()
	s.smallBlobs[d.Digest.String()] = raw
	s.mu.Unlock()
	return raw, nil
}

// verifyStream is Verify for a blob read with Open.
func (b Blob) verifyStream(ctx context.Context) error {
	rc, err := b.Open(ctx, 0)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	_, err = io.Copy(io.Discard, rc)
	return err
}
