// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ecrlabs/terraform-provider-ecr/internal/liveness"
)

// A resume record names one upload; two processes that both found it (two
// working directories sharing a cache, a CI job retried while the first
// still runs) would feed that upload from two sides, each refusing the
// other's parts. So a process holds a lock file beside the record while it
// pushes the blob: created exclusively, naming its host and PID. Another
// process that finds it held pushes the blob without records (a new upload
// of its own), and never writes the record. A lock whose process is gone
// (same host), or older than staleLockAge (another host's, or a PID reused),
// is taken over.

// staleLockAge is past any push a lock could belong to: a push longer than
// a day is cut short by its timeouts first.
const staleLockAge = 24 * time.Hour

// lockOwner is what a lock file holds: "<host> <pid>".
func lockOwner() string {
	host, _ := os.Hostname()
	return strings.ReplaceAll(host, " ", "_") + " " + strconv.Itoa(os.Getpid())
}

// lock takes the blob's record lock. It returns a function that releases
// it, or ok false when another live process holds it.
func (s *ResumeStore) lock(ctx context.Context, target Target, digest string) (unlock func(), ok bool) {
	path := s.path(target, digest) + ".lock"
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return func() {}, true // no directory: no record can be shared either
	}
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_, _ = f.WriteString(lockOwner())
			_ = f.Close()
			return func() { removeIfOurs(path) }, true
		}
		if !errors.Is(err, fs.ErrExist) || !staleLock(ctx, path) {
			return nil, false
		}
		_ = os.Remove(path)
	}
	return nil, false
}

// staleLock reports whether the lock at path belongs to no running push.
func staleLock(ctx context.Context, path string) bool {
	b, info, err := ReadRecordFile(ctx, path)
	if err != nil {
		// Not a regular small file: not a lock this code wrote.
		return true
	}
	if time.Since(info.ModTime()) > staleLockAge {
		return true
	}
	host, pidText, _ := strings.Cut(string(b), " ")
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return true
	}
	me, _ := os.Hostname()
	return host == strings.ReplaceAll(me, " ", "_") && !liveness.ProcessAlive(pid)
}

// removeIfOurs removes the lock at path if this process holds it.
func removeIfOurs(path string) {
	if b, _, err := ReadRecordFile(context.Background(), path); err == nil && string(b) == lockOwner() {
		_ = os.Remove(path)
	}
}
