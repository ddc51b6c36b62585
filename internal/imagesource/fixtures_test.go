// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// must returns v, or panics (failing the test) on an error building a
// fixture.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// platformImage is a random image whose config says platform p.
func platformImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	img := must(random.Image(300, 2))
	cfg := must(img.ConfigFile()).DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	return must(mutate.ConfigFile(img, cfg))
}

// attestation is an image manifest as BuildKit attaches to an index.
func attestation(t *testing.T) v1.Image {
	t.Helper()
	l := static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`), "application/vnd.in-toto+json")
	img := must(mutate.AppendLayers(empty.Image, l))
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

var (
	amd64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64v8 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// multiPlatform is an OCI index of linux/amd64, linux/arm64/v8 and an
// attestation manifest for the first, with its children.
func multiPlatform(t *testing.T) (v1.ImageIndex, v1.Image, v1.Image, v1.Image) {
	t.Helper()
	a, b, att := platformImage(t, amd64), platformImage(t, arm64v8), attestation(t)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: a, Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: b, Descriptor: v1.Descriptor{Platform: &arm64v8}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{
				"vnd.docker.reference.type":   "attestation-manifest",
				"vnd.docker.reference.digest": must(a.Digest()).String(),
			},
		}},
	)
	return idx, a, b, att
}

// newLayout writes an empty OCI layout in a new directory.
func newLayout(t *testing.T) layout.Path {
	t.Helper()
	return must(layout.Write(filepath.Join(t.TempDir(), "layout"), empty.Index))
}

func refName(n string) layout.Option {
	return layout.WithAnnotations(map[string]string{annotationRefName: n})
}

// tarDir writes the files under dir into a tar at out, under prefix, with
// extra files added; gzip compresses it.
func tarDir(t *testing.T, dir, out, prefix string, extra map[string][]byte, gz bool) {
	t.Helper()
	f := must(os.Create(out))
	defer func() {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	var w io.Writer = f
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(f)
		w = zw
	}
	tw := tar.NewWriter(w)
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := must(filepath.Rel(dir, p))
		files[filepath.ToSlash(rel)] = must(os.ReadFile(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		files[k] = v
	}
	writeTar(t, tw, prefix, files, nil)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// writeTar writes files (and symlinks, name -> target) in name order.
func writeTar(t *testing.T, tw *tar.Writer, prefix string, files map[string][]byte, links map[string]string) {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	for n := range links {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if target, ok := links[n]; ok {
			if err := tw.WriteHeader(&tar.Header{Name: prefix + n, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: prefix + n, Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

// layerTar is a small uncompressed layer holding one file.
func layerTar(t *testing.T, name, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(content)), Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// legacyDockerSave writes a tarball as `docker save` did before Docker 25:
// <id>/layer.tar (uncompressed), a shared layer as a symlink, the config as
// <sha>.json, manifest.json and repositories. It returns the path, the
// config bytes and the layers (diff_ids order).
func legacyDockerSave(t *testing.T, dir string) (string, []byte, [][]byte) {
	t.Helper()
	l1 := layerTar(t, "etc/hello", "hello\n")
	l2 := layerTar(t, "etc/world", "world, a little longer\n")
	layers := [][]byte{l1, l2, l1}
	cfg := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%q,%q,%q]}}`,
		sha(l1), sha(l2), sha(l1))
	cfgName := sha([]byte(cfg))[len("sha256:"):] + ".json"
	files := map[string][]byte{
		cfgName:           []byte(cfg),
		"aaa1/layer.tar":  l1,
		"aaa1/VERSION":    []byte("1.0"),
		"aaa1/json":       []byte(`{"id":"aaa1"}`),
		"bbb2/layer.tar":  l2,
		"bbb2/VERSION":    []byte("1.0"),
		"ccc3/VERSION":    []byte("1.0"),
		"manifest.json":   []byte(fmt.Sprintf(`[{"Config":%q,"RepoTags":["example.com/app:1"],"Layers":["aaa1/layer.tar","bbb2/layer.tar","ccc3/layer.tar"]}]`, cfgName)),
		"repositories":    []byte(`{"example.com/app":{"1":"ccc3"}}`),
		"bbb2/json":       []byte(`{"id":"bbb2"}`),
		"ccc3/json":       []byte(`{"id":"ccc3"}`),
		"aaa1/extra-file": []byte("x"),
	}
	out := filepath.Join(dir, "legacy.tar")
	f := must(os.Create(out))
	tw := tar.NewWriter(f)
	writeTar(t, tw, "", files, map[string]string{"ccc3/layer.tar": "../aaa1/layer.tar"})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out, []byte(cfg), layers
}

// readAll reads a blob's content in parts of n bytes, in order.
func readAll(b Blob, n int) ([]byte, error) {
	out := make([]byte, 0, b.Size)
	buf := make([]byte, n)
	for off := int64(0); off < b.Size; {
		k := min(int64(n), b.Size-off)
		got, err := b.Content.ReadAt(buf[:k], off)
		if err != nil && (!errors.Is(err, io.EOF) || int64(got) != k) {
			return out, err
		}
		out = append(out, buf[:got]...)
		off += int64(got)
	}
	return out, nil
}
