// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// fileDigest returns the sha256 digest and size of the regular file at path,
// from its record when the file is unchanged since it was recorded. dir is
// the cache directory ("" records nothing). The error names what is wrong
// with the file; a record that cannot be read or written is not an error.
func fileDigest(ctx context.Context, dir, path string) (digest string, size int64, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", 0, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", 0, err
	}
	if !info.Mode().IsRegular() {
		return "", 0, fmt.Errorf("%q is not a regular file (%s)", path, describeMode(info))
	}
	id := identityOf(abs, info)
	recordPath := ""
	if dir != "" {
		sum := sha256.Sum256([]byte(abs))
		recordPath = filepath.Join(dir, "digests", hex.EncodeToString(sum[:])+".json")
		if b, err := os.ReadFile(recordPath); err == nil {
			var r digestRecord
			if json.Unmarshal(b, &r) == nil && r.fileIdentity == id && r.Digest != "" {
				return r.Digest, id.Size, nil
			}
		}
	}

	started := time.Now()
	f, err := os.Open(abs)
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = f.Close() }()
	digest, err = hashFile(ctx, f, id.Size)
	if err != nil {
		return "", 0, err
	}
	after, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if identityOf(abs, after) != id {
		return "", 0, fmt.Errorf("%q changed while it was being read; plan again when it is written", path)
	}
	if recordPath != "" && !racy(id, started) {
		_ = writeRecord(recordPath, digestRecord{fileIdentity: id, Digest: digest})
	}
	return digest, id.Size, nil
}

// racy reports whether the file's times are too close to when it was hashed
// for them to prove, later, that it has not changed since.
func racy(id fileIdentity, hashed time.Time) bool {
	limit := hashed.Add(-racyWindow).UnixNano()
	return id.ModTime >= limit || id.CTime >= limit
}

func writeRecord(path string, r digestRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".digest-*.tmp")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

func describeMode(info os.FileInfo) string {
	if info.IsDir() {
		return "a directory"
	}
	return "mode " + info.Mode().Type().String()
}
