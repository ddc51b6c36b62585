// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// digestRecords is a layer file of 5 bytes, the cache directory its record
// goes in, and fileDigest bounded to 10 seconds, counting the file's reads.
type digestRecords struct {
	t                 *testing.T
	cache, file, want string
	reads             int
}

func newDigestRecords(t *testing.T) *digestRecords { //nolint:thelper // not a helper: it sets up
	d := &digestRecords{t: t, cache: t.TempDir(), file: filepath.Join(t.TempDir(), "layer.bin")}
	origHash, origWindow := hashFile, racyWindow
	t.Cleanup(func() { hashFile, racyWindow = origHash, origWindow })
	hashFile = func(ctx context.Context, f *os.File, size int64) (string, error) {
		d.reads++
		return origHash(ctx, f, size)
	}
	racyWindow = -time.Hour // the file is fresh; record its digest anyway
	if err := os.WriteFile(d.file, []byte("layer"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("layer"))
	d.want = "sha256:" + hex.EncodeToString(sum[:])
	return d
}

// recordPath is where the file's digest record goes.
func (d *digestRecords) recordPath() string {
	sum := sha256.Sum256([]byte(d.file))
	return filepath.Join(d.cache, "digests", hex.EncodeToString(sum[:])+".json")
}

// record is a record that fileDigest trusts for the file, of digest.
func (d *digestRecords) record(digest string) []byte {
	info, err := os.Stat(d.file)
	if err != nil {
		d.t.Fatal(err)
	}
	b, _ := json.Marshal(digestRecord{fileIdentity: identityOf(d.file, info), Digest: digest})
	return b
}

// digest calls fileDigest and checks its answer and the reads so far. It
// returns the record error.
func (d *digestRecords) digest(wantReads int) (recordErr error) {
	d.t.Helper()
	done := make(chan struct{})
	var got string
	var err error
	go func() { defer close(done); got, _, recordErr, err = fileDigest(context.Background(), d.cache, d.file) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.t.Fatal("fileDigest did not return within 10 seconds")
	}
	if err != nil || got != d.want || d.reads != wantReads {
		d.t.Fatalf("fileDigest = %s, %v after %d reads; want %s after %d", got, err, d.reads, d.want, wantReads)
	}
	return recordErr
}

// TestFileDigestRecordThatIsNoRegularFile: whatever sits where a digest
// record goes (a symlink, a FIFO, a directory, a huge file, a digest that is
// none) is ignored at once, the file hashed, and a proper record written in
// its place, without writing through a symlink.
func TestFileDigestRecordThatIsNoRegularFile(t *testing.T) { //nolint:paralleltest // replaces hashFile
	for name, setup := range map[string]func(d *digestRecords, path string) error{
		"symlink to /dev/zero": func(_ *digestRecords, path string) error { return os.Symlink("/dev/zero", path) },
		"symlink to a record": func(d *digestRecords, path string) error {
			victim, good := filepath.Join(d.t.TempDir(), "victim.json"), d.record(d.want)
			if err := os.WriteFile(victim, good, 0o600); err != nil {
				return err
			}
			d.t.Cleanup(func() {
				if b, _ := os.ReadFile(victim); !bytes.Equal(b, good) {
					d.t.Error("the record was written through the symlink")
				}
			})
			return os.Symlink(victim, path)
		},
		"FIFO":      func(_ *digestRecords, path string) error { return mkfifo(path) },
		"directory": func(_ *digestRecords, path string) error { return os.MkdirAll(filepath.Join(path, "in"), 0o700) },
		"100 MB": func(d *digestRecords, path string) error {
			return os.WriteFile(path, append(d.record(d.want), bytes.Repeat([]byte(" "), 100<<20)...), 0o600)
		},
		"a digest that is none": func(d *digestRecords, path string) error {
			return os.WriteFile(path, d.record("sha256:not a digest"), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDigestRecords(t)
			if err := os.MkdirAll(filepath.Dir(d.recordPath()), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := setup(d, d.recordPath()); err != nil {
				t.Skip("cannot make one here:", err)
			}
			if err := d.digest(1); err != nil { // the record ignored, the file hashed
				t.Fatal(err)
			}
			if info, err := os.Lstat(d.recordPath()); err != nil || !info.Mode().IsRegular() {
				t.Fatalf("after the digest was recorded: %v, %v", info, err)
			}
			if err := d.digest(1); err != nil { // from the new record
				t.Fatal(err)
			}
		})
	}
}

// TestFileDigestRecordsUnusedFor30DaysAreSwept: the first digest in a
// process removes digest records not used for 30 days; a record in use is
// kept fresh.
func TestFileDigestRecordsUnusedFor30DaysAreSwept(t *testing.T) { //nolint:paralleltest // replaces hashFile
	d := newDigestRecords(t)
	dir := filepath.Dir(d.recordPath())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	unused := filepath.Join(dir, hex.EncodeToString(make([]byte, 32))+".json")
	recent := filepath.Join(dir, hex.EncodeToString(bytes.Repeat([]byte{1}, 32))+".json")
	for path, age := range map[string]time.Duration{unused: 31 * 24 * time.Hour, recent: 29 * 24 * time.Hour, d.recordPath(): 2 * 24 * time.Hour} {
		if err := os.WriteFile(path, d.record(d.want), 0o600); err != nil {
			t.Fatal(err)
		}
		mtime := time.Now().Add(-age)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.digest(0); err != nil { // from its record
		t.Fatal(err)
	}
	if _, err := os.Lstat(unused); err == nil {
		t.Error("a record unused for 31 days was kept")
	}
	if _, err := os.Lstat(recent); err != nil {
		t.Error("a record used 29 days ago was removed")
	}
	if info, err := os.Lstat(d.recordPath()); err != nil || time.Since(info.ModTime()) > time.Hour {
		t.Errorf("the record just used was not kept fresh: %v, %v", info, err)
	}
}

// TestFileDigestRecordThatCannotBeWritten: the digest is returned, and so is
// why its record could not be written.
func TestFileDigestRecordThatCannotBeWritten(t *testing.T) { //nolint:paralleltest // replaces hashFile
	for name, setup := range map[string]func(d *digestRecords) error{
		"a file for a cache directory": func(d *digestRecords) error {
			d.cache = filepath.Join(d.cache, "file")
			return os.WriteFile(d.cache, nil, 0o600)
		},
		"a read-only cache directory": func(d *digestRecords) error {
			if err := os.Chmod(d.cache, 0o500); err != nil {
				return err
			}
			d.t.Cleanup(func() { _ = os.Chmod(d.cache, 0o700) })
			if os.Mkdir(filepath.Join(d.cache, "probe"), 0o700) == nil {
				return errors.New("this user writes to it anyway") // root; Windows
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDigestRecords(t)
			if err := setup(d); err != nil {
				t.Skip(err)
			}
			if err := d.digest(1); err == nil {
				t.Fatal("no record error")
			}
		})
	}
}
