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

// maxGunzip is the most a gzip stream may decompress to: the .tar.gz copy
// (written to disk) and the diff_id pass of a legacy gzip layer (hashed).
// It is absolute, not a multiple of the compressed size: deflate cannot
// exceed about 1032:1 (gzip -9 makes 1 GiB of zeros 1,042,069 bytes), so a
// multiple of 1032 or more bounds nothing, and a smaller one refuses real
// layers that are mostly zeros (a sparse file stored whole, like the
// /var/log/lastlog of a user with a large UID: gigabytes of zeros at about
// 1000:1), which is exactly a bomb's shape. 64 GiB is more than ECR's
// largest layer (52,000 MiB) and than any image worth decompressing at
// every plan (layouts and uncompressed tarballs, read in place, have no
// such limit); a bomb then costs at most what the largest image accepted
// costs (64 GiB of temporary disk, removed, or of hashing), not a full
// disk or an endless plan. A variable for tests.
var maxGunzip int64 = 64 << 30

// gunzipTo copies what zr decompresses to into w, at most maxGunzip bytes:
// more is a *GunzipLimitError for the gzip file name of size bytes.
func gunzipTo(w io.Writer, zr io.Reader, name string, size int64) error {
	n, err := io.Copy(w, io.LimitReader(zr, maxGunzip+1))
	if err == nil && n > maxGunzip {
		return &GunzipLimitError{Name: name, Size: size, Limit: maxGunzip}
	}
	return err
}

// hashGzip reads a gzip file once and returns the sha256 of its bytes and
// of what they decompress to, both "sha256:<hex>". gzErr says why the bytes
// do not decompress (diffID is then ""); err is a failure to read them, or
// a *GunzipLimitError naming the file as name.
func hashGzip(r io.ReaderAt, size int64, name string) (digest, diffID string, gzErr, err error) {
	file := &readFailure{r: io.NewSectionReader(r, 0, size)}
	compressed, decompressed := sha256.New(), sha256.New()
	tee := io.TeeReader(file, compressed)
	zr, gzErr := gzip.NewReader(tee)
	if gzErr == nil {
		gzErr = gunzipTo(decompressed, zr, name, size)
		var limit *GunzipLimitError
		if errors.As(gzErr, &limit) {
			return "", "", nil, gzErr
		}
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
