// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fixtures for the sources Open must refuse (badinputs_test.go).

// writeFiles writes files (slash-separated names) under dir, and symlinks
// (name -> target, as given); it skips the test where symlinks cannot be
// made.
func writeFiles(t *testing.T, dir string, files map[string][]byte, links map[string]string) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
			t.Skipf("cannot make symlinks here: %v", err)
		}
	}
}

// writeTarFile writes a tar of files at out.
func writeTarFile(t *testing.T, out string, files map[string][]byte) string {
	t.Helper()
	f := must(os.Create(out))
	tw := tar.NewWriter(f)
	writeTar(t, tw, "", files, nil)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// gzipLayer is a gzip layer as crane writes into a legacy tarball: its
// bytes, and its diff_id (the sha256 of the tar inside). Its contents do not
// compress, so the gzip stream is about as long as the tar.
func gzipLayer(t *testing.T, seed uint64) ([]byte, string) {
	t.Helper()
	content := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	tarred := layerTar(t, "bin/app", string(content))
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(tarred); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), sha(tarred)
}

// legacyConfig is an image config with those diff_ids.
func legacyConfig(diffIDs ...string) []byte {
	return must(json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}}))
}

// legacyManifestJSON is a docker save manifest.json of one image.
func legacyManifestJSON(config string, layers ...string) []byte {
	return must(json.Marshal([]map[string]any{{"Config": config, "RepoTags": []string{"example.com/app:1"}, "Layers": layers}}))
}

// legacyGzipSave writes a legacy tarball of one gzip layer, changed by
// damage after it was compressed, its config giving diffID (the layer's
// true diff_id when ""). It returns the tarball, and the sha256 of the
// layer file and of the tar inside it before damage.
func legacyGzipSave(t *testing.T, damage func([]byte), diffID string) (path, digest, trueDiffID string) {
	t.Helper()
	layer, trueDiffID := gzipLayer(t, 1)
	damage(layer)
	if diffID == "" {
		diffID = trueDiffID
	}
	path = writeTarFile(t, filepath.Join(t.TempDir(), "legacy-gzip.tar"), map[string][]byte{
		"config.json":     legacyConfig(diffID),
		"l1/layer.tar.gz": layer,
		"manifest.json":   legacyManifestJSON("config.json", "l1/layer.tar.gz"),
	})
	return path, sha(layer), trueDiffID
}

// flipMiddle changes a byte halfway through, past the gzip header.
func flipMiddle(b []byte) { b[len(b)/2] ^= 0xff }

// dockerDirBeside writes an extracted docker save directory, image/, whose
// manifest.json names its config and one gzip layer as given, and beside it
// outside/ holding a valid config.json and secret.gz: if the names lead
// there, the image would be complete. It returns the image directory and the
// absolute slash path of outside/.
func dockerDirBeside(t *testing.T, config, layer string, links map[string]string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	gz, diffID := gzipLayer(t, 2)
	cfg := legacyConfig(diffID)
	writeFiles(t, filepath.Join(dir, "outside"), map[string][]byte{"config.json": cfg, "secret.gz": gz}, nil)
	outside := filepath.ToSlash(filepath.Join(dir, "outside"))
	config, layer = strings.ReplaceAll(config, "$OUT", outside), strings.ReplaceAll(layer, "$OUT", outside)
	image := filepath.Join(dir, "image")
	writeFiles(t, image, map[string][]byte{"manifest.json": legacyManifestJSON(config, layer),
		"config.json": cfg, "l1/layer.tar.gz": gz}, links)
	return image, outside
}

// layoutWithLink is a one-image OCI layout where the file at name (of the
// layout) is replaced by a symlink to a copy of it outside the layout.
func layoutWithLink(t *testing.T, name func(v1.Image) string) string {
	t.Helper()
	img := platformImage(t, amd64)
	lp := newLayout(t)
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(string(lp), filepath.FromSlash(name(img)))
	outside := filepath.Join(t.TempDir(), "copy")
	if err := os.Rename(p, outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, p); err != nil {
		t.Skipf("cannot make symlinks here: %v", err)
	}
	return string(lp)
}

func firstLayerName(img v1.Image) string {
	return blobName(must(must(img.Layers())[0].Digest()))
}

// legacyTarFiles are the files of a legacy docker save tarball of one
// uncompressed layer, l1/layer.tar, config.json.
func legacyTarFiles(t *testing.T) map[string][]byte {
	t.Helper()
	l := layerTar(t, "etc/hello", "hello\n")
	return map[string][]byte{"config.json": legacyConfig(sha(l)), "l1/layer.tar": l,
		"manifest.json": legacyManifestJSON("config.json", "l1/layer.tar")}
}

// tarWithLink writes a tar holding, under image/, a legacy docker save
// whose layer file is a link (symlink or hard link) to target; the layer
// itself is also at the tar's root, outside image/, at secret/layer.tar and
// (for absolute links) l1/real.tar.
func tarWithLink(t *testing.T, typeflag byte, target string) string {
	t.Helper()
	files := legacyTarFiles(t)
	layer := files["l1/layer.tar"]
	delete(files, "l1/layer.tar")
	out := filepath.Join(t.TempDir(), "linked.tar")
	f := must(os.Create(out))
	tw := tar.NewWriter(f)
	writeTar(t, tw, "", map[string][]byte{"secret/layer.tar": layer, "l1/real.tar": layer}, nil)
	writeTar(t, tw, "image/", files, nil)
	if err := tw.WriteHeader(&tar.Header{Name: "image/l1/layer.tar", Typeflag: typeflag, Linkname: target, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tarImageUnder writes a tar holding a legacy docker save under image/
// whose manifest.json names its layer as layer, and the layer also at
// secret/layer.tar, outside image/.
func tarImageUnder(t *testing.T, layer string) string {
	t.Helper()
	files := legacyTarFiles(t)
	files["manifest.json"] = legacyManifestJSON("config.json", layer)
	out := filepath.Join(t.TempDir(), "under.tar")
	f := must(os.Create(out))
	tw := tar.NewWriter(f)
	writeTar(t, tw, "", map[string][]byte{"secret/layer.tar": files["l1/layer.tar"]}, nil)
	writeTar(t, tw, "image/", files, nil)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeIndexBlob writes an index of children into the layout's blobs, with
// annotations to tell apart indexes of the same children.
func writeIndexBlob(t *testing.T, dir string, children []v1.Descriptor, annotations map[string]string) v1.Descriptor {
	t.Helper()
	raw := must(json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex,
		Manifests: children, Annotations: annotations}))
	writeFiles(t, dir, map[string][]byte{"blobs/sha256/" + sha(raw)[len("sha256:"):]: raw}, nil)
	return v1.Descriptor{MediaType: types.OCIImageIndex, Size: int64(len(raw)), Digest: must(v1.NewHash(sha(raw)))}
}

// writeIndexJSON writes the layout's index.json and oci-layout.
func writeIndexJSON(t *testing.T, dir string, ds []v1.Descriptor) {
	t.Helper()
	raw := must(json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: ds}))
	writeFiles(t, dir, map[string][]byte{"index.json": raw, "oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}, nil)
}

// nestedLayout is a layout whose index.json names the top of depth levels
// of indexes: each level is width indexes that all list all indexes of the
// level below (so width^(depth-1) paths lead to the bottom), the bottom an
// index of a linux/amd64 and a linux/arm64 image. It returns the layout and
// the amd64 image.
func nestedLayout(t *testing.T, depth, width int) (string, v1.Image) {
	t.Helper()
	a, b := platformImage(t, amd64), platformImage(t, arm64v8)
	lp := newLayout(t)
	for _, img := range []v1.Image{a, b} {
		if err := lp.WriteImage(img); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(img v1.Image, p v1.Platform) v1.Descriptor {
		return v1.Descriptor{MediaType: must(img.MediaType()), Size: must(img.Size()), Digest: must(img.Digest()), Platform: &p}
	}
	level := []v1.Descriptor{writeIndexBlob(t, string(lp), []v1.Descriptor{desc(a, amd64), desc(b, arm64v8)}, nil)}
	for d := 1; d < depth; d++ {
		next := make([]v1.Descriptor, width)
		for i := range next {
			next[i] = writeIndexBlob(t, string(lp), level, map[string]string{"level": fmt.Sprint(d), "side": fmt.Sprint(i)})
		}
		level = next
	}
	writeIndexJSON(t, string(lp), level[:1])
	return string(lp), a
}

// duplicateEntries is a layout whose index.json lists one image n times.
func duplicateEntries(t *testing.T, n int) (string, v1.Image) {
	t.Helper()
	img := platformImage(t, amd64)
	lp := newLayout(t)
	if err := lp.WriteImage(img); err != nil {
		t.Fatal(err)
	}
	d := must(json.Marshal(v1.Descriptor{MediaType: must(img.MediaType()), Size: must(img.Size()), Digest: must(img.Digest())}))
	entries := strings.Repeat(string(d)+",", n)
	writeFiles(t, string(lp), map[string][]byte{"index.json": []byte(`{"schemaVersion":2,"manifests":[` + entries[:len(entries)-1] + `]}`)}, nil)
	return string(lp), img
}

// duplicateTags is a legacy tarball whose manifest.json lists one image n
// times, each under another tag.
func duplicateTags(t *testing.T, n int) string {
	t.Helper()
	files := legacyTarFiles(t)
	images := make([]map[string]any, n)
	for i := range images {
		images[i] = map[string]any{"Config": "config.json", "RepoTags": []string{fmt.Sprintf("example.com/app:%d", i)},
			"Layers": []string{"l1/layer.tar"}}
	}
	files["manifest.json"] = must(json.Marshal(images))
	return writeTarFile(t, filepath.Join(t.TempDir(), "tags.tar"), files)
}
