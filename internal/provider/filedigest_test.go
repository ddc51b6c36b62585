// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// TestFileDigest_cache: an unchanged file is not read again; a changed one
// always is, even with the same size and modification time.
func TestFileDigest_cache(t *testing.T) { //nolint:paralleltest // replaces hashFile and racyWindow
	reads := 0
	origHash, origWindow := hashFile, racyWindow
	t.Cleanup(func() { hashFile, racyWindow = origHash, origWindow })
	hashFile = func(ctx context.Context, f *os.File, size int64) (string, error) {
		reads++
		return origHash(ctx, f, size)
	}
	racyWindow = -time.Hour // the file below is fresh; trust it anyway

	cache, dir := t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "layer.bin")
	write := func(content string) string {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(content))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	check := func(want string, wantReads int) {
		t.Helper()
		got, size, _, err := fileDigest(t.Context(), cache, file)
		if err != nil || got != want || size != 5 || reads != wantReads {
			t.Fatalf("fileDigest = %s, %d, %v after %d reads; want %s after %d", got, size, err, reads, want, wantReads)
		}
	}
	first := write("first")
	check(first, 1)
	check(first, 1) // from the record

	// Same size, same modification time, other content: the status-change
	// time (or inode) differs, so it is hashed again.
	info, _ := os.Stat(file)
	second := write("other")
	_ = os.Chtimes(file, info.ModTime(), info.ModTime())
	check(second, 2)
	check(second, 2)
}

func TestFileDigest_racyNotRecorded(t *testing.T) { //nolint:paralleltest // replaces hashFile
	reads := 0
	origHash := hashFile
	t.Cleanup(func() { hashFile = origHash })
	hashFile = func(ctx context.Context, f *os.File, size int64) (string, error) {
		reads++
		return origHash(ctx, f, size)
	}
	cache, file := t.TempDir(), filepath.Join(t.TempDir(), "fresh.bin")
	if err := os.WriteFile(file, []byte("fresh"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, _, err := fileDigest(t.Context(), cache, file); err != nil {
			t.Fatal(err)
		}
	}
	if reads != 2 {
		t.Fatalf("a file written just now was trusted from its record (%d reads)", reads)
	}
}

func TestFileDigest_notAFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, _, _, err := fileDigest(t.Context(), "", dir); err == nil || !strings.Contains(err.Error(), "a directory") {
		t.Fatalf("directory: %v", err)
	}
	_, _, _, err := fileDigest(t.Context(), "", filepath.Join(dir, "missing"))
	if msg := sourceProblem("missing", err); !strings.Contains(msg, `"missing"`) || !strings.Contains(msg, "does not exist") {
		t.Fatalf("missing file: %s", msg)
	}
}

func TestParseLayerID(t *testing.T) {
	t.Parallel()
	d := "sha256:" + strings.Repeat("ab", 32)
	for id, want := range map[string][4]string{
		"123456789012/team/app@" + d:           {"", "123456789012", "team/app", d},
		"us-east-1/123456789012/team/app@" + d: {"us-east-1", "123456789012", "team/app", d},
		"123456789012/eu-west-1/x@" + d:        {"", "123456789012", "eu-west-1/x", d},
	} {
		region, registry, repo, digest, err := parseLayerID(id)
		if err != nil || [4]string{region, registry, repo, digest} != want {
			t.Errorf("parseLayerID(%q) = %q %q %q %q, %v; want %q", id, region, registry, repo, digest, err, want)
		}
	}
	for _, bad := range []string{"team/app@" + d, "123456789012/team/app", "123456789012/team/app@sha256:AB", "123456789012/A@" + d} {
		if _, _, _, _, err := parseLayerID(bad); err == nil {
			t.Errorf("parseLayerID(%q) accepted", bad)
		}
	}
}

// TestExplainMismatchECRFound: a digest ECR refused at completion (no
// digest of the bytes known) is worded as ECR's refusal, not as a hash of
// nothing.
func TestExplainMismatchECRFound(t *testing.T) {
	err := &ecrpush.DigestMismatchError{Want: "sha256:" + strings.Repeat("a", 64), Size: 10, ByECR: true}
	if summary, detail := explainPushFailure(err, ""); summary != "Layer Content Changed" ||
		!strings.Contains(detail, "ECR refused the file's 10 bytes as layer sha256:aaaa") || strings.Contains(detail, "hash to ,") {
		t.Fatalf("%s: %s", summary, detail)
	}
	if summary, detail := explainImagePushFailure(err, ""); summary != "Image Corrupted" ||
		!strings.Contains(detail, "does not hash to sha256:aaaa") || strings.Contains(detail, "hashes to ,") {
		t.Fatalf("%s: %s", summary, detail)
	}
}

// TestExplainPushFailure: each typed engine error gets its own summary,
// also when wrapped in a *BlobError; a failed call is worded as ECR's.
func TestExplainPushFailure(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error {
		return &ecrpush.BlobError{Name: "layer.bin", Size: 10, Target: ecrpush.Target{Repository: "team/app"}, Err: err}
	}
	for want, err := range map[string]error{
		"Layer Content Changed":        &ecrpush.DigestMismatchError{Want: "sha256:a", Got: "sha256:b"},
		"Unusable Part Size":           &ecrpush.PartSizeError{PartSize: 1, BlobSize: 10, HandedIn: true},
		"Layer Too Large for ECR":      &ecrpush.TooManyPartsError{BlobSize: 1, PartSize: 1, Parts: 5000},
		"Empty Layer":                  &ecrpush.EmptyBlobError{Digest: "sha256:e3"},
		"Cannot Read the Layer File":   &ecrpush.BlobReadError{Err: errors.New("EIO")},
		"Invalid Layer":                &ecrpush.InvalidBlobError{Reason: "bad"},
		"ECR Kept Refusing the Upload": &ecrpush.NoProgressError{Operation: "UploadLayerPart", Attempts: 3, Err: errors.New("x")},
		"Unexpected Answer from ECR":   &ecrpush.UnexpectedAnswerError{Operation: "UploadLayerPart", What: "x"},
		"Invalid Upload ID":            &ecrpush.InvalidUploadError{UploadID: "nope"},
		"ECR Request Canceled": &ecrpush.OperationError{Operation: "UploadLayerPart", Canceled: true,
			Target: ecrpush.Target{Repository: "team/app"}, Err: context.Canceled},
		"Layer Push Failed": errors.New("something else"),
	} {
		for _, e := range []error{err, wrap(err)} {
			if got, detail := explainPushFailure(e, "123456789012"); got != want || detail == "" {
				t.Errorf("explainPushFailure(%v) = %q, want %q", e, got, want)
			}
		}
	}
}

// TestOneHashingPerFile: four resources name one file at once (a for_each
// over one build output): the file is hashed once, and all four get its
// digest. A failed hashing is not shared with later callers.
func TestOneHashingPerFile(t *testing.T) {
	flights := &hashFlights{done: map[fileIdentity]hashed{}, busy: map[fileIdentity]*hashFlight{}}
	id := fileIdentity{Path: "/build/layer.tar", Size: 1 << 30}
	var computed atomic.Int32
	release := make(chan struct{})
	compute := func() (string, error) { //nolint:unparam // the signature hashFlights.hash takes
		computed.Add(1)
		<-release
		return "sha256:" + strings.Repeat("a", 64), nil
	}
	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := range got {
		wg.Go(func() {
			d, _, err := flights.hash(context.Background(), id, compute)
			if err != nil {
				t.Error(err)
			}
			got[i] = d
		})
	}
	time.Sleep(50 * time.Millisecond) // every caller is waiting by now
	close(release)
	wg.Wait()
	if n := computed.Load(); n != 1 {
		t.Errorf("hashed %d times", n)
	}
	for _, d := range got {
		if d != got[0] || d == "" {
			t.Errorf("digests %v", got)
		}
	}
	fail := func() (string, error) { computed.Add(1); return "", errors.New("read failed") }
	other := fileIdentity{Path: "/build/other.tar"}
	if _, _, err := flights.hash(context.Background(), other, fail); err == nil {
		t.Fatal("no error")
	}
	if _, _, err := flights.hash(context.Background(), other, compute); err != nil || computed.Load() != 3 {
		t.Errorf("a failed hashing was kept: %v, %d computations", err, computed.Load())
	}
}
