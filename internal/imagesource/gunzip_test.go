// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Gzip bombs: what a gzip stream decompresses to is bounded by maxGunzip,
// lowered here so that a small gzip of zeros exceeds it. Not parallel: the
// limit is a package variable.

// withGunzipLimit sets maxGunzip for the test.
func withGunzipLimit(t *testing.T, n int64) {
	t.Helper()
	old := maxGunzip
	maxGunzip = n
	t.Cleanup(func() { maxGunzip = old })
}

// gunzippedSize is how many bytes the gzip file at p decompresses to.
func gunzippedSize(t *testing.T, p string) int64 {
	t.Helper()
	f := must(os.Open(p))
	defer func() { _ = f.Close() }()
	return must(io.Copy(io.Discard, must(gzip.NewReader(f))))
}

// A .tar.gz of an OCI layout padded with 4 MiB of zeros (a few KiB of
// gzip) is an image up to a limit of its decompressed size; one byte less
// and it is a *GunzipLimitError, its decompressed copy removed.
func TestGunzipLimitTarGz(t *testing.T) {
	idx, _, _, _ := multiPlatform(t)
	lp := newLayout(t)
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	source := filepath.Join(t.TempDir(), "image.tar.gz")
	tarDir(t, string(lp), source, "", map[string][]byte{"zeros": make([]byte, 4<<20)}, true)
	size, unzipped := must(os.Stat(source)).Size(), gunzippedSize(t, source)
	t.Logf("%d bytes of gzip decompress to %d", size, unzipped)

	withGunzipLimit(t, unzipped)
	open(t, source, Options{TempDir: t.TempDir()})

	tmp := t.TempDir()
	withGunzipLimit(t, unzipped-1)
	_, err := Open(source, Options{TempDir: tmp})
	var limit *GunzipLimitError
	if !errors.As(err, &limit) || limit.Name != source || limit.Size != size || limit.Limit != unzipped-1 {
		t.Fatalf("want a *GunzipLimitError for %s (%d bytes, limit %d), got %T: %v", source, size, unzipped-1, err, err)
	}
	if !strings.Contains(err.Error(), "gzip bomb") {
		t.Errorf("the error does not say what it is: %v", err)
	}
	if left := must(filepath.Glob(filepath.Join(tmp, "*"))); len(left) != 0 {
		t.Errorf("the decompressed copy was left: %v", left)
	}
}

// A legacy docker save tarball whose gzip layer is 4 MiB of zeros, with
// its true diff_id, is an image; under a lower limit its diff_id pass stops
// there with a *GunzipLimitError naming the layer.
func TestGunzipLimitLegacyLayer(t *testing.T) {
	tarred := layerTar(t, "zeros", string(make([]byte, 4<<20)))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(tarred); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes of gzip decompress to %d", gz.Len(), len(tarred))
	source := writeTarFile(t, filepath.Join(t.TempDir(), "legacy-zeros.tar"), map[string][]byte{
		"config.json":     legacyConfig(sha(tarred)),
		"l1/layer.tar.gz": gz.Bytes(),
		"manifest.json":   legacyManifestJSON("config.json", "l1/layer.tar.gz"),
	})

	open(t, source, Options{})

	withGunzipLimit(t, 1<<20)
	_, err := Open(source, Options{})
	var limit *GunzipLimitError
	if !errors.As(err, &limit) || !strings.Contains(limit.Name, "l1/layer.tar.gz") || limit.Size != int64(gz.Len()) || limit.Limit != 1<<20 {
		t.Fatalf("want a *GunzipLimitError for l1/layer.tar.gz (%d bytes, limit %d), got %T: %v", gz.Len(), 1<<20, err, err)
	}
	t.Log(err)
}
