// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestParseRemoteReference(t *testing.T) {
	for _, ok := range []string{"alpine", "alpine:3.20", "library/alpine:3.20", "ghcr.io/org/app:1.2",
		"quay.io/org/app@sha256:" + strings.Repeat("a", 64), "localhost:5000/repo:tag@sha256:" + strings.Repeat("b", 64),
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1"} {
		if err := ParseRemoteReference(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " alpine", "Alpine:3", "alpine:", "app@sha256:abc", "app@md5:" + strings.Repeat("a", 32)} {
		var re *ReferenceError
		if err := ParseRemoteReference(bad); !errors.As(err, &re) {
			t.Errorf("%q: got %v, want a *ReferenceError", bad, err)
		}
	}
}

// A tag is resolved with one HEAD of its manifest, and the User-Agent
// names the provider.
func TestResolveTagByOneHead(t *testing.T) {
	r := newTestRegistry(t, nil)
	isolateDockerConfig(t)
	img := r.writeImage(t, "app:1")
	got, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := mustDigest(t, img); got.Digest != want {
		t.Errorf("digest %s, want %s", got.Digest, want)
	}
	reqs := r.requests("/manifests/")
	if len(reqs) != 1 || reqs[0].Method != http.MethodHead {
		t.Errorf("manifest requests %+v, want one HEAD", reqs)
	}
	if ua := reqs[0].UserAgent; !strings.HasPrefix(ua, "terraform-provider-ecr") {
		t.Errorf("User-Agent %q", ua)
	}
}

// Where HEAD is refused or says no digest, one GET resolves the tag.
func TestResolveFallsBackToGet(t *testing.T) {
	for _, tc := range []struct {
		name string
		mw   func(http.Handler) http.Handler
	}{
		{"405", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/") {
					w.WriteHeader(http.StatusMethodNotAllowed)
					return
				}
				next.ServeHTTP(w, req)
			})
		}},
		{"no Docker-Content-Digest", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/") {
					w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
					w.WriteHeader(http.StatusOK)
					return
				}
				next.ServeHTTP(w, req)
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRegistry(t, tc.mw)
			isolateDockerConfig(t)
			img := r.writeImage(t, "app:1")
			got, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := mustDigest(t, img); got.Digest != want {
				t.Errorf("digest %s, want %s", got.Digest, want)
			}
			var methods []string
			for _, s := range r.requests("/manifests/") {
				methods = append(methods, s.Method)
			}
			if !slices.Equal(methods, []string{"HEAD", "GET"}) {
				t.Errorf("manifest requests %v, want HEAD then GET", methods)
			}
		})
	}
}

// A digest reference (with or without its tag) is checked, and never
// resolved through the tag again once the tag moves; OpenRemote pinned to a
// digest reads that digest.
func TestDigestReferenceIsNotReResolved(t *testing.T) {
	r := newTestRegistry(t, nil)
	isolateDockerConfig(t)
	first := mustDigest(t, r.writeImage(t, "app:1"))
	r.writeImage(t, "app:1") // the tag moves
	for _, ref := range []string{"app:1@" + first, "app@" + first} {
		r.reset()
		got, err := ResolveRemote(bg, r.ref(ref), RemoteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest != first {
			t.Errorf("%s resolved to %s", ref, got.Digest)
		}
		for _, s := range r.requests("/manifests/") {
			if !strings.HasSuffix(s.Path, "/manifests/"+first) {
				t.Errorf("%s: asked for %s", ref, s.Path)
			}
		}
		src, err := OpenRemote(bg, r.ref(ref), "", RemoteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if src.Digest() != first {
			t.Errorf("OpenRemote(%s) = %s", ref, src.Digest())
		}
		_ = src.Close()
	}
	src, err := OpenRemote(bg, r.ref("app:1"), first, RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	if src.Digest() != first || src.Kind() != KindRegistry || src.Path() != r.ref("app:1") {
		t.Errorf("pinned OpenRemote: %s %s %s", src.Digest(), src.Kind(), src.Path())
	}
	missing := "sha256:" + strings.Repeat("e", 64)
	var nf *NotFoundError
	if _, err := ResolveRemote(bg, r.ref("app@"+missing), RemoteOptions{}); !errors.As(err, &nf) {
		t.Errorf("missing digest: %v", err)
	}
}

// writeIndex writes an index of an amd64 and an arm64 image at repo:tag.
func writeIndex(t *testing.T, r *testRegistry, repoTag string) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	imgs := map[string]v1.Image{}
	idx := v1.ImageIndex(empty.Index)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := img.ConfigFile()
		cfg.OS, cfg.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		imgs["linux/"+arch] = img
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := remote.WriteIndex(r.adminRef(t, repoTag), idx); err != nil {
		t.Fatal(err)
	}
	return idx, imgs
}

func TestPlatformFromIndex(t *testing.T) {
	r := newTestRegistry(t, nil)
	isolateDockerConfig(t)
	_, imgs := writeIndex(t, r, "multi:1")
	want := mustDigest(t, imgs["linux/arm64"])
	opts := RemoteOptions{Platform: "linux/arm64"}
	got, err := ResolveRemote(bg, r.ref("multi:1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != want || got.Platform != "linux/arm64" {
		t.Errorf("resolved %+v, want %s linux/arm64", got, want)
	}
	src, err := OpenRemote(bg, r.ref("multi:1"), got.Digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	if ms := src.Manifests(); len(ms) != 1 || ms[0].Digest != want || ms[0].Platform != "linux/arm64" {
		t.Errorf("manifests %+v", ms)
	}
	var ce *ChoiceError
	if _, err := ResolveRemote(bg, r.ref("multi:1"), RemoteOptions{Platform: "linux/s390x"}); !errors.As(err, &ce) {
		t.Errorf("platform missing: %v", err)
	}
	// A single image with Platform must be that platform's.
	if _, err := OpenRemote(bg, r.ref("multi@"+want), "", RemoteOptions{Platform: "linux/amd64"}); !errors.As(err, &ce) {
		t.Errorf("single image of another platform: %v", err)
	}
}

// The push plan is what the registry holds: every manifest byte for byte,
// children before the index, every distinct blob, each readable and right.
func TestCopyPlanMatchesRegistry(t *testing.T) {
	r := newTestRegistry(t, nil)
	isolateDockerConfig(t)
	idx, err := random.Index(300, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r.adminRef(t, "copy:1"), idx); err != nil {
		t.Fatal(err)
	}
	src, err := OpenRemote(bg, r.ref("copy:1"), "", RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	im, _ := idx.IndexManifest()
	var wantManifests []string
	wantBlobs := map[string]bool{}
	for _, d := range im.Manifests {
		wantManifests = append(wantManifests, d.Digest.String())
		img, _ := idx.Image(d.Digest)
		m, _ := img.Manifest()
		wantBlobs[m.Config.Digest.String()] = true
		for _, l := range m.Layers {
			wantBlobs[l.Digest.String()] = true
		}
	}
	wantManifests = append(wantManifests, mustDigest(t, idx))
	ms := src.Manifests()
	var gotManifests []string
	for _, m := range ms {
		gotManifests = append(gotManifests, m.Digest)
		desc, err := remote.Get(r.adminRef(t, "copy@"+m.Digest))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(desc.Manifest, m.Raw) {
			t.Errorf("manifest %s differs from the registry's", m.Digest)
		}
	}
	if !slices.Equal(gotManifests, wantManifests) {
		t.Errorf("manifests %v, want %v", gotManifests, wantManifests)
	}
	if src.Digest() != mustDigest(t, idx) || src.Kind() != KindRegistry {
		t.Errorf("Digest %s Kind %s", src.Digest(), src.Kind())
	}
	blobs := src.Blobs()
	if len(blobs) != len(wantBlobs) {
		t.Errorf("%d blobs, want %d", len(blobs), len(wantBlobs))
	}
	for _, b := range blobs {
		if !wantBlobs[b.Digest] || b.Content != nil || b.Open == nil || b.Name != r.host+"/copy@"+b.Digest {
			t.Errorf("blob %+v", b)
		}
	}
	if err := src.Verify(bg); err != nil {
		t.Fatal(err)
	}
	rc, err := blobs[1].Open(bg, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil || int64(len(got)) != blobs[1].Size || sha256Hash(got).String() != blobs[1].Digest {
		t.Errorf("blob read: %d bytes, %v", len(got), err)
	}
}

func TestNotFound(t *testing.T) {
	r := newTestRegistry(t, nil)
	isolateDockerConfig(t)
	r.writeImage(t, "app:1")
	var nf *NotFoundError
	_, err := ResolveRemote(bg, r.ref("app:2"), RemoteOptions{})
	if !errors.As(err, &nf) || nf.What != "manifest" || nf.Reference != r.ref("app:2") {
		t.Fatalf("missing tag: %v", err)
	}
	if _, err = OpenRemote(bg, r.ref("nothing:1"), "", RemoteOptions{}); !errors.As(err, &nf) || nf.What != "repository" {
		t.Fatalf("missing repository: %v", err)
	}
	t.Log(err)
}

// Docker schema 1, which ECR no longer takes, is refused by name.
func TestSchema1Refused(t *testing.T) {
	r := newTestRegistry(t, nil)
	isolateDockerConfig(t)
	raw := `{"schemaVersion":1,"name":"old","tag":"1","architecture":"amd64","fsLayers":[],"history":[]}`
	req, _ := http.NewRequest(http.MethodPut, r.admin.URL+"/v2/old/manifests/1", strings.NewReader(raw))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	var ue *UnsupportedError
	if _, err := ResolveRemote(bg, r.ref("old:1"), RemoteOptions{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "schema 1") {
		t.Errorf("ResolveRemote: %v", err)
	}
	if _, err := OpenRemote(bg, r.ref("old:1"), "", RemoteOptions{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "schema 1") {
		t.Errorf("OpenRemote: %v", err)
	}
}

// A manifest whose bytes are not its digest, or larger than ECR takes, is
// refused.
func TestManifestChecked(t *testing.T) {
	var bigSent atomic.Int64
	r := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			switch {
			case req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/v2/big/manifests/"):
				// 256 MiB, unless the reader stops reading.
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				chunk := bytes.Repeat([]byte(" "), 1<<20)
				for range 256 {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					bigSent.Add(int64(len(chunk)))
				}
			case req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/manifests/"):
				rec := whole(next, req)
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.Header().Del("Content-Length")
				_, _ = w.Write(append(rec.Body.Bytes(), ' '))
			default:
				next.ServeHTTP(w, req)
			}
		})
	})
	isolateDockerConfig(t)
	d := mustDigest(t, r.writeImage(t, "app:1"))
	var dm *DigestMismatchError
	if _, err := OpenRemote(bg, r.ref("app@"+d), "", RemoteOptions{}); !errors.As(err, &dm) || dm.Want != d {
		t.Errorf("digest reference: %v", err)
	}
	if _, err := OpenRemote(bg, r.ref("app:1"), d, RemoteOptions{}); !errors.As(err, &dm) {
		t.Errorf("pinned digest: %v", err)
	}
	var ue *UnsupportedError
	if _, err := OpenRemote(bg, r.ref("big:1"), "", RemoteOptions{}); !errors.As(err, &ue) {
		t.Errorf("large manifest: %v", err)
	}
	r.srv.CloseClientConnections()
	if sent := bigSent.Load(); sent > 64<<20 {
		t.Errorf("read %d bytes of a manifest, more than its limit of %d allows", sent, maxManifestSize)
	}
}
