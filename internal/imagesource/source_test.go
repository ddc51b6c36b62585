// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func open(t *testing.T, path string, opts Options) *Source {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s, %+v): %v", path, opts, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// checkImagePlan checks that s pushes exactly img: its manifest byte for
// byte (last), its config and layers as blobs with their bytes.
func checkImagePlan(t *testing.T, s *Source, img v1.Image) {
	t.Helper()
	raw := must(img.RawManifest())
	top := s.Manifests()[len(s.Manifests())-1]
	if !bytes.Equal(top.Raw, raw) {
		t.Errorf("top manifest differs from the image's:\n%s\n%s", top.Raw, raw)
	}
	want := map[string][]byte{must(img.ConfigName()).String(): must(img.RawConfigFile())}
	for _, l := range must(img.Layers()) {
		rc := must(l.Compressed())
		want[must(l.Digest()).String()] = must(readAllCloser(rc))
	}
	got := map[string]Blob{}
	for _, b := range s.Blobs() {
		got[b.Digest] = b
	}
	for d, content := range want {
		b, ok := got[d]
		if !ok {
			t.Errorf("blob %s is not in the plan", d)
			continue
		}
		if b.Size != int64(len(content)) {
			t.Errorf("blob %s: size %d, want %d", d, b.Size, len(content))
		}
		read, err := readAll(b, 100)
		if err != nil || !bytes.Equal(read, content) {
			t.Errorf("blob %s: read %d bytes (%v), differs from the image's", d, len(read), err)
		}
	}
}

func readAllCloser(rc interface {
	Read([]byte) (int, error)
	Close() error
}) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return b.Bytes(), err
}

// The blobs map onto the engine's Blob without copying anything.
func engineBlobs(s *Source) []ecrpush.Blob {
	var out []ecrpush.Blob
	for _, b := range s.Blobs() {
		out = append(out, ecrpush.Blob{Name: b.Name, Digest: b.Digest, Size: b.Size, Content: b.Content})
	}
	return out
}

func TestSingleImageLayout(t *testing.T) {
	img := platformImage(t, amd64)
	lp := newLayout(t)
	if err := lp.AppendImage(img, refName("v1")); err != nil {
		t.Fatal(err)
	}
	s := open(t, string(lp), Options{})
	want := must(img.Digest()).String()
	if s.Digest() != want || s.Kind() != KindOCILayout || s.MediaType() != string(types.DockerManifestSchema2) {
		t.Errorf("Digest, Kind, MediaType = %s %s %s, want %s oci-layout docker v2", s.Digest(), s.Kind(), s.MediaType(), want)
	}
	if s.Platform() != "linux/amd64" {
		t.Errorf("Platform = %q", s.Platform())
	}
	// go-containerregistry reading the same layout agrees.
	idx := must(layout.ImageIndexFromPath(string(lp)))
	if d := must(idx.IndexManifest()).Manifests[0].Digest.String(); d != s.Digest() {
		t.Errorf("go-containerregistry reads %s, Open %s", d, s.Digest())
	}
	if len(s.Manifests()) != 1 || len(s.Blobs()) != 3 {
		t.Fatalf("%d manifests, %d blobs; want 1, 3", len(s.Manifests()), len(s.Blobs()))
	}
	checkImagePlan(t, s, img)
	// The digest at plan is the digest of everything read.
	if err := s.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sha(s.Manifests()[0].Raw); got != s.Digest() {
		t.Errorf("sha256 of the manifest %s, Digest %s", got, s.Digest())
	}
	if len(engineBlobs(s)) != 3 {
		t.Error("engine blobs")
	}
	// The platform check of a single image.
	open(t, string(lp), Options{Platform: "linux/amd64"})
	_, err := Open(string(lp), Options{Platform: "linux/arm64"})
	var ce *ChoiceError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("wrong platform for a single image: %v", err)
	}
}

func twoRefs(t *testing.T) (layout.Path, v1.Image, v1.Image) {
	t.Helper()
	a, b := must(random.Image(100, 1)), must(random.Image(100, 2))
	lp := newLayout(t)
	if err := lp.AppendImage(a, refName("v1")); err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(b, refName("v2")); err != nil {
		t.Fatal(err)
	}
	return lp, a, b
}

func TestTwoRefsNonePicked(t *testing.T) {
	lp, a, b := twoRefs(t)
	_, err := Open(string(lp), Options{})
	var ce *ChoiceError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *ChoiceError, got %v", err)
	}
	msg := err.Error()
	for _, s := range []string{`"v1"`, `"v2"`, must(a.Digest()).String(), must(b.Digest()).String(), string(lp)} {
		if !strings.Contains(msg, s) {
			t.Errorf("the error does not name %s:\n%s", s, msg)
		}
	}
	if len(ce.Candidates) != 2 {
		t.Errorf("%d candidates", len(ce.Candidates))
	}
	t.Log(msg)
}

func TestPickByRef(t *testing.T) {
	lp, a, b := twoRefs(t)
	s := open(t, string(lp), Options{Ref: "v2"})
	if s.Digest() != must(b.Digest()).String() {
		t.Errorf("ref v2 picked %s", s.Digest())
	}
	checkImagePlan(t, s, b)
	s = open(t, string(lp), Options{Ref: must(a.Digest()).String()})
	if s.Digest() != must(a.Digest()).String() {
		t.Errorf("ref by digest picked %s", s.Digest())
	}
	_, err := Open(string(lp), Options{Ref: "v3"})
	var ce *ChoiceError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `"v3"`) || len(ce.Candidates) != 2 {
		t.Errorf("unknown ref: %v", err)
	}
}

func TestIndexWhole(t *testing.T) {
	idx, a, b, att := multiPlatform(t)
	lp := newLayout(t)
	if err := lp.AppendIndex(idx, refName("latest")); err != nil {
		t.Fatal(err)
	}
	s := open(t, string(lp), Options{})
	if s.Digest() != must(idx.Digest()).String() || s.MediaType() != string(types.OCIImageIndex) {
		t.Errorf("Digest %s %s, want the index's", s.Digest(), s.MediaType())
	}
	var order []string
	for _, m := range s.Manifests() {
		order = append(order, m.Digest)
		if sha(m.Raw) != m.Digest {
			t.Errorf("manifest %s: raw bytes hash to %s", m.Digest, sha(m.Raw))
		}
	}
	want := []string{must(a.Digest()).String(), must(b.Digest()).String(), must(att.Digest()).String(), must(idx.Digest()).String()}
	if !slices.Equal(order, want) {
		t.Errorf("manifests in order %v, want children then index %v", order, want)
	}
	if !bytes.Equal(s.Manifests()[3].Raw, must(idx.RawManifest())) {
		t.Error("the index is not pushed byte for byte")
	}
	// Every blob of every child, the attestation's included.
	if len(s.Blobs()) != 3+3+2 {
		t.Errorf("%d blobs, want 8", len(s.Blobs()))
	}
	if err := s.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestIndexByPlatform(t *testing.T) {
	idx, a, b, _ := multiPlatform(t)
	lp := newLayout(t)
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		platform string
		img      v1.Image
	}{
		{"linux/amd64", a}, {"linux/arm64/v8", b}, {"linux/arm64", b}, {"linux/aarch64", b},
	} {
		s := open(t, string(lp), Options{Platform: tc.platform})
		if s.Digest() != must(tc.img.Digest()).String() {
			t.Errorf("%s: picked %s", tc.platform, s.Digest())
		}
		if len(s.Manifests()) != 1 || len(s.Blobs()) != 3 {
			t.Errorf("%s: %d manifests, %d blobs; want only the image's", tc.platform, len(s.Manifests()), len(s.Blobs()))
		}
		checkImagePlan(t, s, tc.img)
	}
	// An attestation is never a platform.
	if _, err := Open(string(lp), Options{Platform: "unknown/unknown"}); err == nil {
		t.Error("the attestation manifest was chosen as platform unknown/unknown")
	}
}

func TestPlatformMissing(t *testing.T) {
	idx, _, _, _ := multiPlatform(t)
	lp := newLayout(t)
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	_, err := Open(string(lp), Options{Platform: "linux/s390x"})
	var ce *ChoiceError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *ChoiceError, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "linux/s390x") || !strings.Contains(msg, "linux/amd64") || !strings.Contains(msg, "linux/arm64/v8") {
		t.Errorf("the error does not name the platform wanted and those there are:\n%s", msg)
	}
	if strings.Contains(msg, "unknown/unknown") {
		t.Errorf("the error offers the attestation manifest:\n%s", msg)
	}
	t.Log(msg)
	if _, err := Open(string(lp), Options{Platform: "linux"}); err == nil || !strings.Contains(err.Error(), "os/arch") {
		t.Errorf("a platform without architecture: %v", err)
	}
}

// An index whose children the layout does not all hold (docker save of one
// platform of a multi-platform image) can be pushed by platform only.
func TestIndexChildMissing(t *testing.T) {
	idx, a, b, _ := multiPlatform(t)
	lp := newLayout(t)
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	bd := must(b.Digest())
	if err := os.Remove(filepath.Join(string(lp), "blobs", "sha256", bd.Hex)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(string(lp), Options{})
	var me *MissingError
	if !errors.As(err, &me) || me.Digest != bd.String() || !strings.Contains(err.Error(), "platform") {
		t.Errorf("want a *MissingError naming %s and suggesting platform, got %v", bd, err)
	}
	s := open(t, string(lp), Options{Platform: "linux/amd64"})
	if s.Digest() != must(a.Digest()).String() {
		t.Errorf("picked %s", s.Digest())
	}
}

func TestOCILayoutTarball(t *testing.T) {
	idx, _, _, _ := multiPlatform(t)
	lp := newLayout(t)
	if err := lp.AppendIndex(idx, refName("latest")); err != nil {
		t.Fatal(err)
	}
	dirSource := open(t, string(lp), Options{})
	for _, tc := range []struct {
		name, prefix string
		gz           bool
	}{{"plain", "", false}, {"dot-slash", "./", false}, {"in-a-directory", "image/", false}, {"gzip", "", true}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "image.tar")
			tarDir(t, string(lp), out, tc.prefix, nil, tc.gz)
			s := open(t, out, Options{TempDir: t.TempDir()})
			if s.Kind() != KindOCIArchive || s.Digest() != must(idx.Digest()).String() {
				t.Errorf("Kind %s, Digest %s", s.Kind(), s.Digest())
			}
			if !slices.EqualFunc(s.Manifests(), dirSource.Manifests(), func(a, b Manifest) bool {
				return a.Digest == b.Digest && bytes.Equal(a.Raw, b.Raw) && a.MediaType == b.MediaType
			}) {
				t.Error("the tarball's manifests differ from the directory's")
			}
			for i, b := range s.Blobs() {
				d := dirSource.Blobs()[i]
				got, err := readAll(b, 77)
				want, _ := readAll(d, 1000)
				if err != nil || b.Digest != d.Digest || !bytes.Equal(got, want) {
					t.Errorf("blob %d (%s): %v", i, b.Name, err)
				}
			}
			if err := s.Verify(context.Background()); err != nil {
				t.Error(err)
			}
			s2 := open(t, out, Options{Platform: "linux/arm64"})
			if len(s2.Manifests()) != 1 {
				t.Error("platform in a tarball")
			}
		})
	}
}

// A tarball as go-containerregistry (crane, ko) writes it: legacy form,
// gzip layers named by digest.
func TestDockerTarballCompressed(t *testing.T) {
	img := platformImage(t, amd64)
	out := filepath.Join(t.TempDir(), "image.tar")
	tag := must(name.NewTag("example.com/app:1"))
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		t.Fatal(err)
	}
	s := open(t, out, Options{})
	ggcr := must(tarball.ImageFromPath(out, nil))
	if s.Kind() != KindDockerArchive || s.Digest() != must(ggcr.Digest()).String() || s.Digest() != must(img.Digest()).String() {
		t.Errorf("Kind %s, Digest %s; go-containerregistry reads %s", s.Kind(), s.Digest(), must(ggcr.Digest()))
	}
	checkImagePlan(t, s, ggcr)
	if err := s.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, out, Options{Ref: "example.com/app:1"})
	if s2.Digest() != s.Digest() || !bytes.Equal(s2.Manifests()[0].Raw, s.Manifests()[0].Raw) {
		t.Error("the digest changed between two Opens")
	}
}

// Two images in one docker save tarball: no ref is an error listing them.
func TestDockerTarballTwoImages(t *testing.T) {
	a, b := platformImage(t, amd64), platformImage(t, arm64v8)
	out := filepath.Join(t.TempDir(), "two.tar")
	refs := map[name.Reference]v1.Image{must(name.NewTag("example.com/a:1")): a, must(name.NewTag("example.com/b:2")): b}
	if err := tarball.MultiRefWriteToFile(out, refs); err != nil {
		t.Fatal(err)
	}
	_, err := Open(out, Options{})
	var ce *ChoiceError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "example.com/a:1") || !strings.Contains(err.Error(), "example.com/b:2") {
		t.Fatalf("want a *ChoiceError listing both tags, got %v", err)
	}
	s := open(t, out, Options{Ref: "example.com/b:2"})
	if s.Digest() != must(b.Digest()).String() {
		t.Errorf("picked %s", s.Digest())
	}
}

// The legacy form Docker wrote before 25: uncompressed layers, pushed as
// they are under a manifest built from the config's diff_ids.
func TestDockerTarballLegacyUncompressed(t *testing.T) {
	out, cfg, layers := legacyDockerSave(t, t.TempDir())
	s := open(t, out, Options{})
	wantManifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":%q},"layers":[`+
		`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","size":%d,"digest":%q},`+
		`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","size":%d,"digest":%q},`+
		`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","size":%d,"digest":%q}]}`,
		len(cfg), sha(cfg), len(layers[0]), sha(layers[0]), len(layers[1]), sha(layers[1]), len(layers[2]), sha(layers[2]))
	m := s.Manifests()
	if len(m) != 1 || string(m[0].Raw) != wantManifest {
		t.Fatalf("manifest:\n%s\nwant:\n%s", m[0].Raw, wantManifest)
	}
	if s.Digest() != sha([]byte(wantManifest)) || s.MediaType() != string(types.DockerManifestSchema2) || s.Platform() != "linux/amd64" {
		t.Errorf("Digest %s MediaType %s Platform %s", s.Digest(), s.MediaType(), s.Platform())
	}
	// Stable from one Open to the next.
	if s2 := open(t, out, Options{Ref: "example.com/app:1"}); s2.Digest() != s.Digest() {
		t.Errorf("two Opens: %s then %s", s.Digest(), s2.Digest())
	}
	// Distinct blobs: config and two layers, read from the tar in place.
	want := [][]byte{cfg, layers[0], layers[1]}
	if len(s.Blobs()) != 3 {
		t.Fatalf("%d blobs", len(s.Blobs()))
	}
	for i, b := range s.Blobs() {
		got, err := readAll(b, 512)
		if err != nil || !bytes.Equal(got, want[i]) || b.Digest != sha(want[i]) {
			t.Errorf("blob %d %s: %v", i, b.Name, err)
		}
	}
	if err := s.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(out, Options{Platform: "linux/arm64"}); err == nil {
		t.Error("the amd64 image was taken for linux/arm64")
	}
}

// What `docker save` writes from Docker 25 on: an OCI layout (uncompressed
// OCI layers, containerd name annotations) with a manifest.json beside it.
func TestDockerTarballOCIForm(t *testing.T) {
	l := static.NewLayer(layerTar(t, "app", "binary"), types.OCIUncompressedLayer)
	img := must(mutate.AppendLayers(empty.Image, l))
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	lp := newLayout(t)
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		annotationRefName: "latest", annotationContainerd: "docker.io/library/app:latest"})); err != nil {
		t.Fatal(err)
	}
	other := must(random.Image(50, 1))
	if err := lp.AppendImage(other, layout.WithAnnotations(map[string]string{
		annotationRefName: "latest", annotationContainerd: "docker.io/library/other:latest"})); err != nil {
		t.Fatal(err)
	}
	cfgName := must(img.ConfigName())
	manifestJSON := fmt.Sprintf(`[{"Config":"blobs/sha256/%s","RepoTags":["app:latest"],"Layers":["blobs/sha256/%s"]}]`,
		cfgName.Hex, must(l.Digest()).Hex)
	out := filepath.Join(t.TempDir(), "docker25.tar")
	tarDir(t, string(lp), out, "", map[string][]byte{"manifest.json": []byte(manifestJSON)}, false)

	// Two images both named "latest": the ref name alone is ambiguous.
	_, err := Open(out, Options{Ref: "latest"})
	var ce *ChoiceError
	if !errors.As(err, &ce) || len(ce.Candidates) != 2 {
		t.Errorf("ambiguous ref: %v", err)
	}
	for _, ref := range []string{"docker.io/library/app:latest", "app:latest", "app"} {
		s := open(t, out, Options{Ref: ref})
		if s.Kind() != KindOCIArchive || s.Digest() != must(img.Digest()).String() || s.MediaType() != string(types.OCIManifestSchema1) {
			t.Errorf("ref %s: Kind %s Digest %s MediaType %s", ref, s.Kind(), s.Digest(), s.MediaType())
		}
		checkImagePlan(t, s, img)
	}
}

func TestNotAnImage(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	text := filepath.Join(dir, "notes.txt")
	tarNoImage := filepath.Join(dir, "files.tar")
	zst := filepath.Join(dir, "image.tar.zst")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(text, []byte(strings.Repeat("not an image\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zst, []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	tarDir(t, t.TempDir(), tarNoImage, "", map[string][]byte{"README": []byte("hi")}, false)
	for _, p := range []string{empty, text, tarNoImage, zst, filepath.Join(dir, "missing")} {
		_, err := Open(p, Options{})
		var ne *NotImageError
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: want a *NotImageError naming it, got %v", p, err)
			continue
		}
		t.Log(err)
	}
	_, err := Open(text, Options{})
	if !strings.Contains(err.Error(), "index.json") || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("the error does not say what was looked for: %v", err)
	}
}

func corruptFile(t *testing.T, path string, at int64) {
	t.Helper()
	b := must(os.ReadFile(path))
	b[at] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptedBlob(t *testing.T) {
	img := must(random.Image(5000, 1))
	layerDigest := must(must(img.Layers())[0].Digest())
	build := func(t *testing.T) layout.Path {
		lp := newLayout(t)
		if err := lp.AppendImage(img); err != nil {
			t.Fatal(err)
		}
		return lp
	}
	t.Run("same size", func(t *testing.T) {
		lp := build(t)
		corruptFile(t, filepath.Join(string(lp), "blobs", "sha256", layerDigest.Hex), 10)
		// The digest is known without reading the layer...
		s := open(t, string(lp), Options{})
		if s.Digest() != must(img.Digest()).String() {
			t.Error("digest")
		}
		// ...Verify finds the corruption...
		err := s.Verify(context.Background())
		var dm *DigestMismatchError
		if !errors.As(err, &dm) || dm.Want != layerDigest.String() {
			t.Fatalf("Verify: %v", err)
		}
		// ...and Content reads the bytes as they are, unchecked: a push
		// hashes them once, in ECR ("pushed" below).
		for _, b := range s.Blobs() {
			got, err := readAll(b, 1000)
			if err != nil || int64(len(got)) != b.Size {
				t.Errorf("reading %s through Content: %d bytes, %v", b.Name, len(got), err)
			}
			if b.Digest == layerDigest.String() && sha(got) == b.Digest {
				t.Error("the corrupted layer reads intact")
			}
		}
	})
	t.Run("pushed", func(t *testing.T) {
		lp := build(t)
		corruptFile(t, filepath.Join(string(lp), "blobs", "sha256", layerDigest.Hex), 10)
		s := open(t, string(lp), Options{})
		srv, api := corruptionEndpoint(t)
		var manifests []ecrpush.Manifest
		for _, m := range s.Manifests() {
			manifests = append(manifests, ecrpush.Manifest{Digest: m.Digest, MediaType: m.MediaType, Raw: m.Raw})
		}
		target := ecrpush.Target{Repository: "team/app", Region: "eu-west-1"}
		_, err := ecrpush.Deploy(context.Background(), api, ecrpush.Deployment{Target: target,
			Want: ecrpush.Owned{Digest: s.Digest(), Tags: []string{"v1"}}, Manifests: manifests,
			Blobs: engineBlobs(s), Pusher: &ecrpush.Pusher{API: api}})
		// ECR refuses the layer at CompleteLayerUpload; no manifest is put.
		var mismatch *ecrpush.DigestMismatchError
		if !errors.As(err, &mismatch) || !mismatch.ByECR || mismatch.Want != layerDigest.String() {
			t.Fatalf("Deploy: %v", err)
		}
		if n := len(srv.RequestsFor("PutImage")); n != 0 {
			t.Errorf("%d PutImage requests after a corrupted blob", n)
		}
		if n := len(srv.RequestsFor("CompleteLayerUpload")); n == 0 {
			t.Error("no CompleteLayerUpload: the corruption was not ECR's to find")
		}
	})
	t.Run("intact blob read out of order and concurrently", func(t *testing.T) {
		intactDir := string(build(t))
		i := slices.IndexFunc(open(t, intactDir, Options{}).Blobs(), func(b Blob) bool { return b.Digest == layerDigest.String() })
		want := must(readAll(open(t, intactDir, Options{}).Blobs()[i], 1<<20))
		b := open(t, intactDir, Options{}).Blobs()[i]
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				got := make([]byte, b.Size)
				for off := (b.Size - 1) / 700 * 700; off >= 0; off -= 700 {
					n, err := b.Content.ReadAt(got[off:min(off+700, b.Size)], off)
					if err != nil && (!errors.Is(err, io.EOF) || off+int64(n) != b.Size) {
						errs <- err
						return
					}
				}
				if !bytes.Equal(got, want) {
					errs <- errors.New("read back different bytes")
					return
				}
				errs <- nil
			}()
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Errorf("intact blob read backwards: %v", err)
			}
		}
	})
	t.Run("different size", func(t *testing.T) {
		lp := build(t)
		p := filepath.Join(string(lp), "blobs", "sha256", layerDigest.Hex)
		if err := os.WriteFile(p, []byte("short"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(string(lp), Options{})
		var sm *SizeMismatchError
		if !errors.As(err, &sm) {
			t.Errorf("Open: %v", err)
		}
	})
	t.Run("manifest", func(t *testing.T) {
		lp := build(t)
		corruptFile(t, filepath.Join(string(lp), "blobs", "sha256", must(img.Digest()).Hex), 5)
		_, err := Open(string(lp), Options{})
		var dm *DigestMismatchError
		if !errors.As(err, &dm) {
			t.Errorf("Open: %v", err)
		}
	})
	t.Run("legacy tarball layer", func(t *testing.T) {
		out, _, layers := legacyDockerSave(t, t.TempDir())
		raw := must(os.ReadFile(out))
		at := bytes.Index(raw, layers[1])
		corruptFile(t, out, int64(at+600)) // inside the layer's file content
		s := open(t, out, Options{})
		var dm *DigestMismatchError
		if err := s.Verify(context.Background()); !errors.As(err, &dm) || dm.Want != sha(layers[1]) {
			t.Errorf("Verify: %v", err)
		}
	})
}

// The digest at plan is go-containerregistry's digest of the same source.
func TestDigestAgreesWithGoContainerregistry(t *testing.T) {
	idx, _, _, _ := multiPlatform(t)
	lp := newLayout(t)
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	ggcr := must(layout.ImageIndexFromPath(string(lp)))
	top := must(ggcr.IndexManifest()).Manifests[0]
	child := must(must(ggcr.ImageIndex(top.Digest)).IndexManifest()).Manifests[1]
	s := open(t, string(lp), Options{})
	if s.Digest() != top.Digest.String() {
		t.Errorf("index: %s, go-containerregistry %s", s.Digest(), top.Digest)
	}
	s = open(t, string(lp), Options{Platform: "linux/arm64/v8"})
	if s.Digest() != child.Digest.String() {
		t.Errorf("child: %s, go-containerregistry %s", s.Digest(), child.Digest)
	}
	if d := must(partial.Digest(must(must(ggcr.ImageIndex(top.Digest)).Image(child.Digest)))); d.String() != s.Digest() {
		t.Errorf("image digest %s", d)
	}
}

// index.json may itself list one image per platform (no ref names): a
// platform picks among them.
func TestLayoutIndexJSONByPlatform(t *testing.T) {
	a, b := platformImage(t, amd64), platformImage(t, arm64v8)
	lp := newLayout(t)
	if err := lp.AppendImage(a, layout.WithPlatform(amd64)); err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(b, layout.WithPlatform(arm64v8)); err != nil {
		t.Fatal(err)
	}
	s := open(t, string(lp), Options{Platform: "linux/arm64"})
	if s.Digest() != must(b.Digest()).String() || s.Platform() != "linux/arm64/v8" {
		t.Errorf("picked %s (%s)", s.Digest(), s.Platform())
	}
	_, err := Open(string(lp), Options{})
	var ce *ChoiceError
	if !errors.As(err, &ce) || len(ce.Candidates) != 2 {
		t.Errorf("no platform, no ref: %v", err)
	}
}
