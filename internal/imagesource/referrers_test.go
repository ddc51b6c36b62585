// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// referrerLayout is a layout as oras and cosign save write it: an image,
// an SBOM of it, a signature of the SBOM and an attestation of the image
// typed by its config (as before artifactType), all in index.json.
func referrerLayout(t *testing.T) (dir string, img, sbom, sig, att v1.Image) {
	t.Helper()
	l := newLayout(t)
	img = must(random.Image(300, 1))
	sbom = artifact(t, typeSPDX, `{"spdxVersion":"SPDX-2.3"}`, img)
	sig = artifact(t, typeSig, "signature of the SBOM", sbom)
	att = configTyped(t, img)
	for _, m := range []v1.Image{img, sbom, sig, att} {
		if err := l.AppendImage(m); err != nil {
			t.Fatal(err)
		}
	}
	return string(l), img, sbom, sig, att
}

// A layout of an image and its referrers needs no ref: the referrers are
// not images to choose, and travel after it, each after its subject.
func TestLayoutReferrers(t *testing.T) {
	dir, img, sbom, sig, att := referrerLayout(t)
	s := must(Open(dir, Options{}))
	defer func() { _ = s.Close() }()
	if got := digests(s.Manifests()); len(got) != 1 || got[0] != mustDigest(t, img) {
		t.Fatalf("manifests %v, want the image %s alone", got, mustDigest(t, img))
	}
	checkReferrers(t, s, sbom, att, sig)
	if err := s.Verify(bg); err != nil {
		t.Error(err)
	}
}

// The filter takes referrers of its types at every level: a referrer of a
// referrer left out is left out.
func TestLayoutReferrerFilter(t *testing.T) {
	dir, img, sbom, sig, _ := referrerLayout(t)
	for _, c := range []struct {
		name   string
		filter ReferrerFilter
		want   []v1.Image
	}{
		{"none", ReferrerFilter{None: true}, nil},
		{"spdx", ReferrerFilter{ArtifactTypes: []string{typeSPDX}}, []v1.Image{sbom}},
		{"spdx and sig", ReferrerFilter{ArtifactTypes: []string{typeSig, typeSPDX}}, []v1.Image{sbom, sig}},
		{"sig alone", ReferrerFilter{ArtifactTypes: []string{typeSig}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := must(Open(dir, Options{Referrers: c.filter}))
			defer func() { _ = s.Close() }()
			checkReferrers(t, s, c.want...)
			if c.filter.None && len(s.Blobs()) != len(must(img.Layers()))+1 {
				t.Errorf("%d blobs, want the image's %d", len(s.Blobs()), len(must(img.Layers()))+1)
			}
		})
	}
}

// Only referrers of the chosen image travel, and a ChoiceError lists the
// images, never a referrer.
func TestLayoutReferrerOfAnotherImage(t *testing.T) {
	l := newLayout(t)
	a, b := must(random.Image(100, 1)), must(random.Image(100, 1))
	sbomB := artifact(t, typeSPDX, "SBOM of b", b)
	for _, w := range []struct {
		img  v1.Image
		opts []layout.Option
	}{{a, []layout.Option{refName("a")}}, {b, []layout.Option{refName("b")}}, {sbomB, nil}} {
		if err := l.AppendImage(w.img, w.opts...); err != nil {
			t.Fatal(err)
		}
	}
	s := must(Open(string(l), Options{Ref: "a"}))
	checkReferrers(t, s)
	_ = s.Close()
	s = must(Open(string(l), Options{Ref: "b"}))
	checkReferrers(t, s, sbomB)
	_ = s.Close()

	_, err := Open(string(l), Options{})
	var ce *ChoiceError
	if !errors.As(err, &ce) || len(ce.Candidates) != 2 || strings.Contains(err.Error(), mustDigest(t, sbomB)) {
		t.Fatalf("got %v, want a ChoiceError listing a and b alone", err)
	}
	_, err = Open(string(l), Options{Ref: mustDigest(t, sbomB)})
	if !errors.As(err, &ce) || len(ce.Candidates) != 2 {
		t.Fatalf("ref to the referrer: got %v, want a ChoiceError listing a and b alone", err)
	}
}

// A referrer whose subject the layout lacks is an artifact to push on its
// own, not a referrer; one whose empty config the layout lacks is pushed
// with "{}", whose bytes its digest fixes.
func TestLayoutLoneArtifactAndEmptyConfig(t *testing.T) {
	l := newLayout(t)
	absent := must(random.Image(100, 1))
	lone := artifact(t, typeSPDX, "SBOM of an image elsewhere", absent)
	if err := l.AppendImage(lone); err != nil {
		t.Fatal(err)
	}
	h := must(v1.NewHash(emptyConfigDigest))
	if err := os.Remove(filepath.Join(string(l), "blobs", h.Algorithm, h.Hex)); err != nil {
		t.Fatal(err)
	}
	s := must(Open(string(l), Options{}))
	defer func() { _ = s.Close() }()
	if got := digests(s.Manifests()); len(got) != 1 || got[0] != mustDigest(t, lone) || len(s.Referrers()) != 0 {
		t.Fatalf("manifests %v, referrers %v, want the artifact as the image", got, digests(s.Referrers()))
	}
	if err := s.Verify(bg); err != nil {
		t.Error(err)
	}
}

// bulkLayout writes a layout of img and n artifacts, each what next returns
// given the one before (img first), with one index.json write: appending
// each would rewrite index.json n times.
func bulkLayout(t *testing.T, img v1.Image, n int, next func(i int, prev v1.Image) v1.Image) string {
	t.Helper()
	l := newLayout(t)
	ds := []v1.Descriptor{*must(partial.Descriptor(img))}
	if err := l.WriteImage(img); err != nil {
		t.Fatal(err)
	}
	prev := img
	for i := range n {
		a := next(i, prev)
		if err := l.WriteImage(a); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, *must(partial.Descriptor(a)))
		prev = a
	}
	writeIndexJSON(t, string(l), ds)
	return string(l)
}

// Chains of referrers are at most maxReferrerDepth deep, and there are at
// most maxReferrers in all: a clear error beyond, not a long plan.
func TestReferrerBounds(t *testing.T) {
	img := must(random.Image(100, 1))
	chain := func(i int, prev v1.Image) v1.Image {
		return artifact(t, typeSig, fmt.Sprintf("signature %d", i), prev)
	}
	s := must(Open(bulkLayout(t, img, maxReferrerDepth, chain), Options{}))
	if n := len(s.Referrers()); n != maxReferrerDepth {
		t.Errorf("%d referrers of a chain of %d", n, maxReferrerDepth)
	}
	_ = s.Close()
	var ue *UnsupportedError
	if _, err := Open(bulkLayout(t, img, maxReferrerDepth+1, chain), Options{}); !errors.As(err, &ue) ||
		!strings.Contains(err.Error(), "deep") {
		t.Errorf("a chain of %d: got %v, want an UnsupportedError", maxReferrerDepth+1, err)
	}
	many := func(i int, _ v1.Image) v1.Image { return artifact(t, typeSig, fmt.Sprintf("signature %d", i), img) }
	if _, err := Open(bulkLayout(t, img, maxReferrers+1, many), Options{}); !errors.As(err, &ue) ||
		!strings.Contains(err.Error(), "more than 1000 referrers") {
		t.Errorf("%d referrers: got %v, want an UnsupportedError", maxReferrers+1, err)
	}
}

// The referrers of an index's children travel with the index, and with
// the child a platform picks, whose index's own do not.
func TestLayoutReferrersOfIndex(t *testing.T) {
	l := newLayout(t)
	idx, a, _, _ := multiPlatform(t)
	sbomA := artifact(t, typeSPDX, "SBOM of amd64", a)
	sbomIdx := artifact(t, typeSPDX, "SBOM of the index", idx)
	if err := l.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	for _, m := range []v1.Image{sbomIdx, sbomA} {
		if err := l.AppendImage(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		platform string
		want     []v1.Image
	}{{"", []v1.Image{sbomA, sbomIdx}}, {"linux/amd64", []v1.Image{sbomA}}, {"linux/arm64", nil}} {
		s := must(Open(string(l), Options{Platform: c.platform}))
		checkReferrers(t, s, c.want...)
		_ = s.Close()
	}
}
