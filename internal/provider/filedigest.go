// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// The digest of a layer file is planned, so a content change shows as a
// replacement. Hashing gigabytes at every plan would make each plan as slow
// as a push, so the digest is kept in a small record trusted for as long as
// the file looks the same in every way git trusts its index on: path, size,
// modification time, status-change time and inode (device too). Anything
// different, and the file is hashed again.

// cacheDirEnv overrides where the provider keeps digest and upload records.
const cacheDirEnv = "TF_ECR_CACHE_DIR"

// cacheDir is the provider's cache directory: TF_ECR_CACHE_DIR, or
// terraform-provider-ecr under the user's cache directory.
func cacheDir() (string, error) {
	if dir := os.Getenv(cacheDirEnv); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's cache directory (set %s to choose one): %w", cacheDirEnv, err)
	}
	return filepath.Join(base, "terraform-provider-ecr"), nil
}

// fileIdentity is what a digest record is trusted on.
type fileIdentity struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtimeNs"`
	// CTime, Inode and Device are zero where the platform has none.
	CTime  int64  `json:"ctimeNs"`
	Inode  uint64 `json:"inode"`
	Device uint64 `json:"device"`
}

type digestRecord struct {
	fileIdentity
	Digest string `json:"digest"`
}

func identityOf(path string, info os.FileInfo) fileIdentity {
	id := fileIdentity{Path: path, Size: info.Size(), ModTime: info.ModTime().UnixNano()}
	id.CTime, id.Inode, id.Device = statExtra(info)
	return id
}

// racyWindow is how old a file's times must be, when hashing starts, for its
// digest to be recorded: a file written within the same timestamp tick as it
// was hashed could change again without its times changing ("racy git").
var racyWindow = 2 * time.Second

// hashFile is the hashing itself, replaceable in tests to count reads.
var hashFile = func(ctx context.Context, f *os.File, size int64) (string, error) {
	return ecrpush.HashBlob(ctx, f, size, nil)
}

// Digest records are swept when not used for digestRecordMaxAge; a record
// in use is rewritten once it is digestRecordRefresh old, to show it is.
const (
	digestRecordMaxAge  = 30 * 24 * time.Hour
	digestRecordRefresh = 24 * time.Hour
)

// fileDigest returns the sha256 digest and size of the regular file at path,
// from its record when the file is unchanged since it was recorded. dir is
// the cache directory ("" records nothing). err names what is wrong with
// the file; recordErr, when the digest is known, says why its record could
// not be written (the plan goes on; the next one hashes the file again). A
// record that cannot be used is ignored and rewritten (see
// ecrpush.ReadRecordFile).
func fileDigest(ctx context.Context, dir, path string) (digest string, size int64, recordErr, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", 0, nil, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", 0, nil, err
	}
	if !info.Mode().IsRegular() {
		return "", 0, nil, fmt.Errorf("%q is not a regular file (%s)", path, describeMode(info))
	}
	id := identityOf(abs, info)
	recordPath := ""
	if dir != "" {
		sum := sha256.Sum256([]byte(abs))
		recordPath = filepath.Join(dir, "digests", hex.EncodeToString(sum[:])+".json")
		ecrpush.SweepRecords(ctx, filepath.Dir(recordPath), digestRecordMaxAge)
		if r, written, ok := readRecord(ctx, recordPath, id); ok {
			if time.Since(written) > digestRecordRefresh {
				recordErr = writeRecord(ctx, recordPath, r)
			}
			return r.Digest, id.Size, recordErr, nil
		}
	}

	digest, started, err := fileHashes.hash(ctx, id, func() (string, error) { return hashIdentified(ctx, path, abs, id) })
	if err != nil {
		return "", 0, nil, err
	}
	if recordPath != "" && !racy(id, started) {
		recordErr = writeRecord(ctx, recordPath, digestRecord{fileIdentity: id, Digest: digest})
	}
	return digest, id.Size, recordErr, nil
}

// hashIdentified hashes the file at abs, which must still have identity id
// when the last byte is read.
func hashIdentified(ctx context.Context, path, abs string, id fileIdentity) (string, error) {
	f, err := os.Open(abs)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	digest, err := hashFile(ctx, f, id.Size)
	if err != nil {
		return "", err
	}
	after, err := f.Stat()
	if err != nil {
		return "", err
	}
	if identityOf(abs, after) != id {
		return "", fmt.Errorf("%q changed while it was being read; plan again when it is written", path)
	}
	return digest, nil
}

// fileHashes makes every resource of the process that names one file (with
// one identity) share one hashing of it: four ecr_layer over the same 1 GiB
// file read it once per plan, not four times, whether they ask at once or
// one after the other.
var fileHashes = &hashFlights{done: map[fileIdentity]hashed{}, busy: map[fileIdentity]*hashFlight{}}

type hashFlights struct {
	mu   sync.Mutex
	done map[fileIdentity]hashed
	busy map[fileIdentity]*hashFlight
}

type hashed struct {
	digest  string
	started time.Time
}

type hashFlight struct {
	ready chan struct{}
	hashed
	err error
}

// hash returns id's digest and when its hashing started: from an earlier
// hashing in this process, by waiting for one in progress, or by running
// compute. A failed or canceled hashing is not kept: the next caller tries.
func (f *hashFlights) hash(ctx context.Context, id fileIdentity, compute func() (string, error)) (string, time.Time, error) {
	for {
		f.mu.Lock()
		if h, ok := f.done[id]; ok {
			f.mu.Unlock()
			return h.digest, h.started, nil
		}
		fl, waiting := f.busy[id]
		if !waiting {
			fl = &hashFlight{ready: make(chan struct{})}
			f.busy[id] = fl
		}
		f.mu.Unlock()
		if !waiting {
			fl.started = time.Now()
			fl.digest, fl.err = compute()
			f.mu.Lock()
			delete(f.busy, id)
			// A file whose times are too close to its hashing could change
			// without its identity changing: share its hashing, do not keep it.
			if fl.err == nil && !racy(id, fl.started) {
				f.done[id] = fl.hashed
			}
			f.mu.Unlock()
			close(fl.ready)
			return fl.digest, fl.started, fl.err
		}
		select {
		case <-fl.ready:
		case <-ctx.Done():
			return "", time.Time{}, ctx.Err()
		}
		if fl.err == nil {
			return fl.digest, fl.started, nil
		}
	}
}

// digestForm is the only digest a record may hold: HashBlob's.
var digestForm = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// readRecord returns the record at path, and when it was written, if it is
// a usable record of the file with identity id.
func readRecord(ctx context.Context, path string, id fileIdentity) (r digestRecord, written time.Time, ok bool) {
	b, info, err := ecrpush.ReadRecordFile(ctx, path)
	if err != nil || json.Unmarshal(b, &r) != nil || r.fileIdentity != id || !digestForm.MatchString(r.Digest) {
		return digestRecord{}, time.Time{}, false
	}
	return r, info.ModTime(), true
}

// racy reports whether the file's times are too close to when it was hashed
// for them to prove, later, that it has not changed since.
func racy(id fileIdentity, hashed time.Time) bool {
	limit := hashed.Add(-racyWindow).UnixNano()
	return id.ModTime >= limit || id.CTime >= limit
}

func writeRecord(ctx context.Context, path string, r digestRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return ecrpush.WriteRecordFile(ctx, path, b)
}

func describeMode(info os.FileInfo) string {
	if info.IsDir() {
		return "a directory"
	}
	return "mode " + info.Mode().Type().String()
}
