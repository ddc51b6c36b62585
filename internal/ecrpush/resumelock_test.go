// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// TestResumeRecordLock: a record's lock is held by one live process at a
// time; one left by a process that is gone, or too old, is taken over.
func TestResumeRecordLock(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses true(1) and PID 1")
	}
	store := &ResumeStore{Dir: t.TempDir()}
	ctx := context.Background()
	digest := "sha256:" + strings.Repeat("b", 64)
	path := store.path(pushTarget, digest) + ".lock"
	host, _ := os.Hostname()
	host = strings.ReplaceAll(host, " ", "_")

	unlock, ok := store.lock(ctx, pushTarget, digest)
	if !ok {
		t.Fatal("a free lock was not taken")
	}
	if _, again := store.lock(ctx, pushTarget, digest); again {
		t.Fatal("a held lock was taken again")
	}
	unlock()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("unlock left the lock: %v", err)
	}

	// Another live process on this host (PID 1 always runs).
	if err := os.WriteFile(path, []byte(host+" 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.lock(ctx, pushTarget, digest); ok {
		t.Fatal("the lock of a live process was taken over")
	}
	// A process that is gone.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(host+" "+strconv.Itoa(gone.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	unlock, ok = store.lock(ctx, pushTarget, digest)
	if !ok {
		t.Fatal("the lock of a process that is gone was not taken over")
	}
	unlock()
	// Another host's, fresh: held; a day old: taken over.
	if err := os.WriteFile(path, []byte("elsewhere 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.lock(ctx, pushTarget, digest); ok {
		t.Fatal("another host's fresh lock was taken over")
	}
	old := time.Now().Add(-staleLockAge - time.Minute)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	unlock, ok = store.lock(ctx, pushTarget, digest)
	if !ok {
		t.Fatal("a stale lock was not taken over")
	}
	// Unlocking leaves a lock that is no longer ours alone.
	if err := os.WriteFile(path, []byte("elsewhere 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("unlock removed another's lock: %v", err)
	}
}

// TestARecordAnotherProcessHoldsIsLeftAlone: run 1 leaves a record; another
// process (PID 1, alive) holds its lock. Run 2 must not feed that upload
// from a second side: it pushes in an upload of its own, from byte 0,
// reports the record in use, and leaves the record as it was.
func TestARecordAnotherProcessHoldsIsLeftAlone(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses PID 1")
	}
	const part = 5 * mib
	srv := pushEndpoint(t, part)
	store := &ResumeStore{Dir: t.TempDir()}
	blob, _ := randomBlob(2*part+7, 61)
	p := &Pusher{API: client(srv, 2), Resume: store, Progress: interruptAfter(part, func() {
		srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Code: "ServerException", Times: 2})
	})}
	if _, err := p.PushBlob(context.Background(), pushTarget, blob, nil); err == nil {
		t.Fatal("run 1 was to fail")
	}
	recordPath := store.path(pushTarget, blob.Digest)
	before, err := os.ReadFile(recordPath)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if err := os.WriteFile(recordPath+".lock", []byte(strings.ReplaceAll(host, " ", "_")+" 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	uploads := countOps(srv, 0, "InitiateLayerUpload")
	res, err := (&Pusher{API: client(srv, 2), Resume: store}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed || !res.RecordInUse || res.BytesSent != blob.Size || countOps(srv, 0, "InitiateLayerUpload") != uploads+1 {
		t.Fatalf("want a fresh upload of its own: %+v", res)
	}
	after, err := os.ReadFile(recordPath)
	if err != nil || string(after) != string(before) {
		t.Fatalf("the record held elsewhere changed: %v\n%s\n%s", err, before, after)
	}
}
