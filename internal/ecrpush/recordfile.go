// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Record files (resume records here, digest records in the provider) live
// in a cache directory that may come from anywhere: a CI cache restored from
// another machine, a directory others can write. So a record is read only
// when it is a regular file of at most MaxRecordSize bytes, replaced by
// renaming a new file over it, and every operation on one gives up when its
// context is done or recordIOLimit passes: a record is a hint, never worth a
// stuck plan.

// MaxRecordSize bounds a record file; records are a few hundred bytes.
const MaxRecordSize = 64 << 10

var (
	// recordIOLimit bounds a record operation on a hung file system (a
	// stalled NFS or FUSE mount): the caller goes on without the record.
	recordIOLimit = 10 * time.Second
	// cancelGrace is how long an operation may still finish after its
	// context is done: a record saved as Ctrl-C arrives, right after ECR
	// acknowledged a part, is the one the next run resumes from.
	cancelGrace = 100 * time.Millisecond
)

// within runs op in its own goroutine and waits for it no longer than ctx
// and recordIOLimit allow; an op given up on finishes in the background.
func within(ctx context.Context, op func() error) error {
	done := make(chan error, 1)
	go func() { done <- op() }()
	limit := time.NewTimer(recordIOLimit)
	defer limit.Stop()
	select {
	case err := <-done:
		return err
	case <-limit.C:
		return fmt.Errorf("the cache directory did not answer within %s", recordIOLimit)
	case <-ctx.Done():
	}
	select {
	case err := <-done:
		return err
	case <-time.After(cancelGrace):
		return context.Cause(ctx)
	}
}

// ReadRecordFile returns the content of the record file at path and its
// file information. A symlink, FIFO, device or directory there, or a file
// over MaxRecordSize, is an error, found without blocking or reading it.
func ReadRecordFile(ctx context.Context, path string) ([]byte, fs.FileInfo, error) {
	var b []byte // set by the op, read only once it has returned
	var info fs.FileInfo
	err := within(ctx, func() error {
		f, err := openRecordFile(path)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		if info, err = f.Stat(); err != nil {
			return err
		}
		if !info.Mode().IsRegular() || info.Size() > MaxRecordSize {
			return fmt.Errorf("%s is not a record: %s, %d bytes", path, info.Mode().Type(), info.Size())
		}
		b, err = io.ReadAll(io.LimitReader(f, MaxRecordSize+1))
		if err == nil && len(b) > MaxRecordSize {
			err = fmt.Errorf("%s is not a record: over %d bytes", path, MaxRecordSize)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return b, info, nil
}

// WriteRecordFile replaces the record file at path with b: b is written to
// a new file in the same directory (created 0700 if need be), which is then
// renamed over path. The rename replaces the entry at path, whatever it is
// (a symlink is replaced, not written through); a directory there, which a
// rename cannot replace, is removed first.
func WriteRecordFile(ctx context.Context, path string, b []byte) error {
	return within(ctx, func() error {
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		f, err := os.CreateTemp(dir, ".record-*.tmp")
		if err != nil {
			return err
		}
		_, werr := f.Write(b)
		if err = errors.Join(werr, f.Close()); err == nil {
			if err = os.Rename(f.Name(), path); err != nil && isDir(path) && os.RemoveAll(path) == nil {
				err = os.Rename(f.Name(), path)
			}
		}
		if err != nil {
			_ = os.Remove(f.Name())
		}
		return err
	})
}

func isDir(path string) bool {
	info, err := os.Lstat(path)
	return err == nil && info.IsDir()
}

// removeRecordFile removes the record file at path; none there is no error.
func removeRecordFile(path string) error {
	return within(context.Background(), func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// sweepLimit bounds the entries a sweep looks at: a directory with more is
// swept in part.
const sweepLimit = 4096

var swept sync.Map // directories swept in this process

// SweepRecords removes, once per process for each directory, the record
// files (and temporary files left by WriteRecordFile) in dir not modified
// for maxAge. It looks at no more than sweepLimit entries, never follows a
// symlink (an old one is removed itself), never descends into a directory,
// and gives up without a word on any error or when ctx is done.
func SweepRecords(ctx context.Context, dir string, maxAge time.Duration) {
	if _, done := swept.LoadOrStore(dir, true); done {
		return
	}
	_ = within(ctx, func() error {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		entries, _ := d.ReadDir(sweepLimit)
		_ = d.Close()
		before := time.Now().Add(-maxAge)
		for _, e := range entries {
			if ctx.Err() != nil {
				return ctx.Err() // a sweep cut short is no failure: the caller ignores it
			}
			if !isRecordName(e.Name()) || e.IsDir() {
				continue
			}
			if info, err := e.Info(); err == nil && info.ModTime().Before(before) {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
		return nil
	})
}

// isRecordName reports whether name is a record's (64 hex digits, .json),
// a record lock's (.json.lock, see resumelock.go) or a temporary file's: a
// sweep removes nothing else.
func isRecordName(name string) bool {
	if strings.HasPrefix(name, ".record-") && strings.HasSuffix(name, ".tmp") {
		return true
	}
	hexPart, ok := strings.CutSuffix(strings.TrimSuffix(name, ".lock"), ".json")
	return ok && len(hexPart) == 64 && strings.Trim(hexPart, "0123456789abcdef") == ""
}
