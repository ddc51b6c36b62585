// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// hashChunk is how much is read at a time when hashing.
const hashChunk = 1 << 20

// hashReaderAt returns "sha256:<hex>" of the first size bytes of ra.
func hashReaderAt(ctx context.Context, ra io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if err := hashRange(ctx, h, ra, 0, size); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// hashRange writes bytes [from, to) of ra to h.
func hashRange(ctx context.Context, h hash.Hash, ra io.ReaderAt, from, to int64) error {
	buf := make([]byte, min(to-from, hashChunk))
	for off := from; off < to; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(len(buf)), to-off)
		got, err := ra.ReadAt(buf[:n], off)
		if int64(got) < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("the content ends at byte %d, before its size %d (changed since it was opened?)", off+int64(got), to)
			}
			return err
		}
		h.Write(buf[:n])
		off += n
	}
	return nil
}

// hashGzip reads a gzip file once and returns the sha256 of its bytes and
// of what they decompress to, both "sha256:<hex>". gzErr says why the bytes
// do not decompress (diffID is then ""); err is a failure to read them.
func hashGzip(r io.ReaderAt, size int64) (digest, diffID string, gzErr, err error) {
	file := &readFailure{r: io.NewSectionReader(r, 0, size)}
	compressed, decompressed := sha256.New(), sha256.New()
	tee := io.TeeReader(file, compressed)
	zr, gzErr := gzip.NewReader(tee)
	if gzErr == nil {
		_, gzErr = io.Copy(decompressed, zr)
	}
	// Hash what gzip did not read: bytes after a corruption.
	_, _ = io.Copy(io.Discard, tee)
	if file.err != nil {
		return "", "", nil, file.err
	}
	digest = "sha256:" + hex.EncodeToString(compressed.Sum(nil))
	if gzErr != nil {
		return digest, "", gzErr, nil
	}
	return digest, "sha256:" + hex.EncodeToString(decompressed.Sum(nil)), nil, nil
}

// readFailure keeps the first error, other than io.EOF, of a reader.
type readFailure struct {
	r   io.Reader
	err error
}

func (f *readFailure) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && f.err == nil {
		f.err = err
	}
	return n, err
}
