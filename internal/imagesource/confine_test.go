// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// extract writes the regular files and symlinks of the tarball into dir.
func extract(t *testing.T, tarball, dir string) {
	t.Helper()
	f := must(os.Open(tarball))
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			writeFiles(t, dir, map[string][]byte{hdr.Name: must(io.ReadAll(tr))}, nil)
		case tar.TypeSymlink:
			writeFiles(t, dir, nil, map[string]string{hdr.Name: hdr.Linkname})
		}
	}
}

// An extracted docker save directory is read as its tarball is, a symlink
// within it followed; a symlink out of it is refused, even to the same
// bytes.
func TestExtractedDockerSave(t *testing.T) {
	tarball, _, _ := legacyDockerSave(t, t.TempDir())
	want := open(t, tarball, Options{}).Digest()
	dir := filepath.Join(t.TempDir(), "image")
	extract(t, tarball, dir)
	s := open(t, dir, Options{})
	if s.Kind() != KindDockerArchive || s.Digest() != want {
		t.Errorf("Kind %s Digest %s, want %s from the tarball", s.Kind(), s.Digest(), want)
	}
	if err := s.Verify(context.Background()); err != nil {
		t.Error(err)
	}

	outside := filepath.Join(filepath.Dir(dir), "outside.tar")
	if err := os.Rename(filepath.Join(dir, "aaa1", "layer.tar"), outside); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, nil, map[string]string{"aaa1/layer.tar": "../../outside.tar"})
	_, err := Open(dir, Options{})
	var unsafe *UnsafeFileError
	if !errors.As(err, &unsafe) || unsafe.Name != "aaa1/layer.tar" {
		t.Errorf("a layer linked to outside: %v", err)
	}
}
