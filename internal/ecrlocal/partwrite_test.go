// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

// TestWritePartEdges writes parts of awkward sizes at awkward offsets (the
// page-cache edges and the direct middle of each), truncates one away and
// writes it again, and reads back the file and the digest.
func TestWritePartEdges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upload")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sizes := []int{1, 4095, 4097, directMin - 1, directMin, 3*writeChunk + 12345, writeChunk, 77, 2*writeChunk - 1, 5}
	var want []byte
	digest := sha256.New()
	for i, size := range sizes {
		part := randomBytes(size, uint64(i))
		if i == 5 { // written, then taken back, as a failed part is
			if err := writePart(f, path, sha256.New(), randomBytes(size, 99), int64(len(want))); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(int64(len(want))); err != nil {
				t.Fatal(err)
			}
		}
		if err := writePart(f, path, digest, part, int64(len(want))); err != nil {
			t.Fatalf("part %d (%d bytes): %v", i, size, err)
		}
		want = append(want, part...)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d; first difference at %d", len(got), len(want), firstDifference(got, want))
	}
	if sum := sha256.Sum256(want); !bytes.Equal(digest.Sum(nil), sum[:]) {
		t.Fatal("the digest is not the bytes'")
	}
}

// TestWritePartWhereDirectWritesFail: where the file opens for direct I/O
// but refuses direct writes, parts go through the page cache all the same.
func TestWritePartWhereDirectWritesFail(t *testing.T) {
	defer func(open func(string) (*os.File, error)) { directOpener = open }(directOpener)
	directOpener = func(path string) (*os.File, error) { return os.Open(path) } // read-only: every write fails
	path := filepath.Join(t.TempDir(), "upload")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	part := randomBytes(3*writeChunk+5, 7)
	digest := sha256.New()
	if err := writePart(f, path, digest, part[:1000], 0); err != nil {
		t.Fatal(err)
	}
	if err := writePart(f, path, digest, part[1000:], 1000); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, part) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(part))
	}
	if sum := sha256.Sum256(part); !bytes.Equal(digest.Sum(nil), sum[:]) {
		t.Fatal("the digest is not the bytes'")
	}
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestPartsAtOddOffsetsReadBack pushes parts of odd sizes through the
// endpoint, so that their bytes are written from the request body at
// offsets of every alignment, sends one part with the wrong first byte
// (refused, then sent right), and reads the layer back byte for byte.
func TestPartsAtOddOffsetsReadBack(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "odd/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "odd/app"}
	sizes := []int{minPartSize + 1, minPartSize + 4095, minPartSize + 4096, minPartSize + 12345, 3}
	var blob []byte
	for i, size := range sizes {
		blob = append(blob, randomBytes(size, uint64(i+10))...)
	}
	id := p.initiate()
	first := 0
	for i, size := range sizes {
		part := blob[first : first+size]
		if i == 2 {
			if code := errorCode(t, p.part(id, int64(first+1), part)); code != "InvalidLayerPartException" {
				t.Fatalf("a part at the wrong byte: %s", code)
			}
		}
		if err := p.part(id, int64(first), part); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		first += size
	}
	if err := p.complete(id, digestOf(blob)); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, srv, "odd/app", digestOf(blob)); !bytes.Equal(got, blob) {
		t.Fatalf("read back %d bytes, want %d; first difference at %d", len(got), len(blob), firstDifference(got, blob))
	}
}
