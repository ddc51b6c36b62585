// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Blob is content to push: a layer, a config, any content-addressed bytes.
type Blob struct {
	// Name is what the caller calls it (a file path, "layer 3"), for
	// progress and errors only.
	Name string
	// Digest is "sha256:<64 hex digits>", or empty when not known: the
	// engine then reads the content once to compute it before anything else
	// (ECR is asked by digest whether it has the blob).
	Digest string
	// Size is the content's length in bytes.
	Size int64
	// Content is read with ReadAt, from several goroutines at once when the
	// same content is hashed and sent; *os.File and *bytes.Reader do.
	Content io.ReaderAt
	// Open, for content that streams (a blob copied from a registry), reads
	// it from offset to its end; it is used only when Content is nil, and
	// called again at the byte ECR wants when an upload goes on from
	// another byte than the next. A streamed blob must give its Digest.
	// What its reader returns with the last byte (a digest check's error)
	// counts: the engine does not drop an error that comes with a full read.
	Open func(ctx context.Context, offset int64) (io.ReadCloser, error)
}

// streamReaderAt reads a stream opened at pos as a ReaderAt that must be
// read in order, as the part reader does: each ReadAt starts where the last
// one ended.
type streamReaderAt struct {
	r   io.Reader
	pos int64
}

func (s *streamReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off != s.pos {
		return 0, fmt.Errorf("the streamed content was read at byte %s where it stands at byte %s",
			commas(off), commas(s.pos))
	}
	n := 0
	for n < len(p) {
		m, err := s.r.Read(p[n:])
		n += m
		s.pos += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// OpenFileBlob opens a file as a Blob (its Name is the path, its Digest
// empty: set it when known). Close the returned file when the push is done.
func OpenFileBlob(path string) (Blob, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return Blob{}, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return Blob{}, nil, err
	}
	if !info.Mode().IsRegular() {
		_ = f.Close()
		return Blob{}, nil, fmt.Errorf("%s is not a regular file (%s)", path, info.Mode().Type())
	}
	return Blob{Name: path, Size: info.Size(), Content: f}, f, nil
}

// digestRegexp is the only digest form the engine pushes: ECR computes
// sha256 digests, and CompleteLayerUpload is checked against one.
var digestRegexp = regexp.MustCompile(`^sha256:[a-fA-F0-9]{64}$`)

// checkDigest reports why d is not a digest the engine can push, or "".
func checkDigest(d string) string {
	if digestRegexp.MatchString(d) {
		return ""
	}
	return fmt.Sprintf("digest %q is not of the form sha256:<64 hex digits>", d)
}

// hashChunk is how much HashBlob reads at a time.
const hashChunk = 4 << 20

// HashBlob reads content (size bytes) and returns its digest,
// "sha256:<hex>". It stops when ctx ends. onProgress, when not nil, is told
// the bytes hashed so far after each chunk.
func HashBlob(ctx context.Context, content io.ReaderAt, size int64, onProgress func(done int64)) (string, error) {
	h := sha256.New()
	buf := make([]byte, min(size, hashChunk))
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n := min(int64(len(buf)), size-off)
		if err := readFull(content, buf[:n], off, size); err != nil {
			return "", err
		}
		h.Write(buf[:n])
		off += n
		if onProgress != nil {
			onProgress(off)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// readFull fills buf from content at off, or says why it could not: a
// *BlobReadError (unreadable, or shorter than size).
func readFull(content io.ReaderAt, buf []byte, off, size int64) error {
	n, err := content.ReadAt(buf, off)
	if n == len(buf) && (err == nil || errors.Is(err, io.EOF)) {
		return nil // ReadAt may report io.EOF with a full read at the end
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = fmt.Errorf("the content ends at byte %s, before its size (changed while being read?)",
			commas(off+int64(n)))
	}
	return &BlobReadError{Offset: off, Size: size, Err: err}
}

func sameDigest(a, b string) bool { return strings.EqualFold(a, b) }
