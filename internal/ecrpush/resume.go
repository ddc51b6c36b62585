// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ResumeStore keeps, for each blob whose push is under way, a small record
// of its upload: enough to go on from where ECR stands after the process
// was interrupted (Ctrl-C, a crash, a lost network). Records are hints, not
// the truth: on the next push the engine sends the next part to the recorded
// upload, and ECR's answer (the part accepted, InvalidLayerPartException with
// the last byte it holds, or UploadNotFoundException) decides where the push
// goes on. A lost, stale or unreadable record costs re-sent bytes, never a
// wrong layer: ECR checks the digest of the bytes it holds before completing,
// and when it refuses an upload a record led to, the engine sends the whole
// blob again in a new upload, once.
//
// A record is one JSON file (see resumeRecord), named by the sha256 of its
// key (registry, region, repository, digest), written to a temporary file
// in Dir and renamed over the old one after each part ECR acknowledges, and
// removed when the layer is complete; records not written to for a week
// are swept (see load). Dir is created on first use (0700,
// files 0600: an upload ID is a short-lived handle, not a credential, but it
// is nobody else's business).
type ResumeStore struct {
	Dir string
}

// DefaultResumeDir is where records go unless the caller says otherwise:
// terraform-provider-ecr/uploads under the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS,
// %LocalAppData% on Windows).
func DefaultResumeDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's cache directory for upload records: %w", err)
	}
	return filepath.Join(cache, "terraform-provider-ecr", "uploads"), nil
}

// NewResumeStore returns a store in dir, or in DefaultResumeDir when dir is
// empty.
func NewResumeStore(dir string) (*ResumeStore, error) {
	if dir == "" {
		d, err := DefaultResumeDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &ResumeStore{Dir: dir}, nil
}

// resumeRecordVersion changes when the record's meaning does; records of
// another version are ignored.
const resumeRecordVersion = 1

// resumeRecord is what the store keeps for one blob, as JSON.
type resumeRecord struct {
	Version    int    `json:"version"`
	RegistryID string `json:"registryId"` // empty: the caller's own registry
	Region     string `json:"region"`     // empty: the client's region
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Size       int64  `json:"size"`
	UploadID   string `json:"uploadId"`
	PartSize   int64  `json:"partSize"`
	// LastByteReceived is the last byte ECR acknowledged (inclusive, as
	// UploadLayerPart's lastByteReceived): the push goes on at the next one.
	LastByteReceived int64 `json:"lastByteReceived"`
	// SHA256State was the running digest over bytes 0..LastByteReceived
	// when the engine checked digests itself. It is no longer written, and
	// ignored in records that have it: ECR checks the digest.
	SHA256State []byte    `json:"sha256State,omitempty"`
	Updated     time.Time `json:"updated"`
}

func (r *resumeRecord) matches(target Target, digest string, size int64) bool {
	return r.Version == resumeRecordVersion && r.RegistryID == target.RegistryID && r.Region == target.Region &&
		r.Repository == target.Repository && strings.EqualFold(r.Digest, digest) && r.Size == size &&
		UploadIDRegexp.MatchString(r.UploadID) && r.PartSize > 0 &&
		r.LastByteReceived >= 0 && r.LastByteReceived < size
}

// path is the record's file for a blob in a target.
func (s *ResumeStore) path(target Target, digest string) string {
	key := strings.Join([]string{target.RegistryID, target.Region, target.Repository, strings.ToLower(digest)}, "\n")
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.Dir, hex.EncodeToString(sum[:])+".json")
}

// resumeRecordMaxAge is how long a record not written to is kept: ECR
// forgets an upload long before, so an older one would only cost a request.
const resumeRecordMaxAge = 7 * 24 * time.Hour

// load returns the record for a blob, or nil when there is none or it cannot
// be used (see ReadRecordFile; another version, another blob). The first
// load in a process sweeps old records out of the store.
func (s *ResumeStore) load(ctx context.Context, target Target, digest string, size int64) *resumeRecord {
	SweepRecords(ctx, s.Dir, resumeRecordMaxAge)
	b, _, err := ReadRecordFile(ctx, s.path(target, digest))
	if err != nil {
		return nil
	}
	var r resumeRecord
	if json.Unmarshal(b, &r) != nil || !r.matches(target, digest, size) {
		return nil
	}
	return &r
}

// save writes a record atomically (see WriteRecordFile): a reader sees the
// old record or the new one, never half of one. It is not synced to disk:
// after a power loss an old or missing record only costs re-sent bytes.
func (s *ResumeStore) save(ctx context.Context, r *resumeRecord) error {
	r.Version = resumeRecordVersion
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return WriteRecordFile(ctx, s.path(Target{Repository: r.Repository, RegistryID: r.RegistryID, Region: r.Region}, r.Digest), b)
}

// remove deletes a blob's record; a missing one is not an error.
func (s *ResumeStore) remove(target Target, digest string) error {
	return removeRecordFile(s.path(target, digest))
}
