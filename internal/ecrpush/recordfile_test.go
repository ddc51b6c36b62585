// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// returnsWithin fails the test when f has not returned after 10 seconds
// (f is then left running: it is stuck).
func returnsWithin(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("did not return within 10 seconds")
	}
}

// loadWithin and saveWithin are the store's load and save as the engine
// calls them, each bounded by returnsWithin.
func loadWithin(t *testing.T, store *ResumeStore, digest string, size int64) (rec *resumeRecord) {
	t.Helper()
	returnsWithin(t, func() { rec = store.load(context.Background(), pushTarget, digest, size) })
	return rec
}

func saveWithin(t *testing.T, store *ResumeStore, rec *resumeRecord) (err error) {
	t.Helper()
	returnsWithin(t, func() { err = store.save(context.Background(), rec) })
	return err
}

// usableRecord is a record load accepts for a blob of digest and size.
func usableRecord(digest string, size int64) *resumeRecord {
	return &resumeRecord{Version: resumeRecordVersion, Repository: pushTarget.Repository, Region: pushTarget.Region,
		Digest: digest, Size: size, UploadID: "00000000-0000-4000-8000-000000000001", PartSize: 5 * mib,
		LastByteReceived: 5*mib - 1, Updated: time.Now().UTC()}
}

// TestResumeRecordThatIsNoRegularFile: whatever sits where a record goes
// (a symlink, a FIFO, a directory, a huge file, a record with a field that
// cannot be used) is ignored at once, and the next save puts a proper
// record in its place without writing through a symlink.
func TestResumeRecordThatIsNoRegularFile(t *testing.T) {
	blob, _ := randomBlob(10, 70)
	blob.Size = 6 * mib
	good, _ := json.Marshal(usableRecord(blob.Digest, blob.Size))
	for name, setup := range map[string]func(t *testing.T, path string) error{
		"symlink to /dev/zero": func(_ *testing.T, path string) error { return os.Symlink("/dev/zero", path) },
		"symlink to a record": func(t *testing.T, path string) error {
			victim := filepath.Join(t.TempDir(), "victim.json")
			if err := os.WriteFile(victim, good, 0o600); err != nil {
				return err
			}
			t.Cleanup(func() {
				if b, _ := os.ReadFile(victim); !bytes.Equal(b, good) {
					t.Error("the save wrote through the symlink")
				}
			})
			return os.Symlink(victim, path)
		},
		"FIFO":      func(_ *testing.T, path string) error { return mkfifo(path) },
		"directory": func(_ *testing.T, path string) error { return os.MkdirAll(filepath.Join(path, "in"), 0o700) },
		"100 MB": func(_ *testing.T, path string) error {
			return os.WriteFile(path, append(good, bytes.Repeat([]byte(" "), 100<<20)...), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			store := &ResumeStore{Dir: t.TempDir()}
			path := store.path(pushTarget, blob.Digest)
			if err := setup(t, path); err != nil {
				t.Skip("cannot make one here:", err)
			}
			if rec := loadWithin(t, store, blob.Digest, blob.Size); rec != nil {
				t.Fatalf("loaded %+v", rec)
			}
			if err := saveWithin(t, store, usableRecord(blob.Digest, blob.Size)); err != nil {
				t.Fatal(err)
			}
			if info, err := os.Lstat(path); err != nil || !info.Mode().IsRegular() {
				t.Fatalf("after the save: %v, %v", info, err)
			}
			if rec := loadWithin(t, store, blob.Digest, blob.Size); rec == nil {
				t.Fatal("the saved record is not loaded")
			}
		})
	}
}

// TestResumeRecordFIFODoesNotHangThePush: a FIFO where the record goes must
// not stop a push, nor Ctrl-C.
func TestResumeRecordFIFODoesNotHangThePush(t *testing.T) {
	store := &ResumeStore{Dir: t.TempDir()}
	blob, _ := randomBlob(1000, 71)
	if err := mkfifo(store.path(pushTarget, blob.Digest)); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(100*time.Millisecond, cancel).Stop()
	var err error
	returnsWithin(t, func() {
		_, err = (&Pusher{API: newFakeECR(fakePart), Resume: store}).PushBlob(ctx, pushTarget, blob, nil)
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// TestResumeRecordsOlderThanAWeekAreSwept: the first load in a process
// removes records and leftover temporary files not written for a week (ECR
// has forgotten their uploads), and nothing else.
func TestResumeRecordsOlderThanAWeekAreSwept(t *testing.T) {
	store := &ResumeStore{Dir: t.TempDir()}
	victim := filepath.Join(t.TempDir(), "victim")
	old := time.Now().Add(-8 * 24 * time.Hour)
	fresh := time.Now().Add(-6 * 24 * time.Hour)
	names := map[string]time.Time{ // name: modification time
		store.path(pushTarget, "sha256:old"):   old,
		store.path(pushTarget, "sha256:fresh"): fresh,
		".record-1.tmp":                        old,
		"notes.txt":                            old,
		victim:                                 old,
	}
	for name, mtime := range names {
		if !filepath.IsAbs(name) {
			name = filepath.Join(store.Dir, name)
		}
		if err := os.WriteFile(name, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	link := store.path(pushTarget, "sha256:link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	loadWithin(t, store, "sha256:other", 10)
	for name, want := range map[string]bool{
		store.path(pushTarget, "sha256:old"): false, filepath.Join(store.Dir, ".record-1.tmp"): false,
		store.path(pushTarget, "sha256:fresh"): true, filepath.Join(store.Dir, "notes.txt"): true, victim: true, link: true,
	} {
		if _, err := os.Lstat(name); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", filepath.Base(name), err == nil, want)
		}
	}
}
