// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal_test

// go-containerregistry reads what was pushed through ECR's API back through
// the registry's referrers and tags/list paths.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// emptyJSON is the OCI empty descriptor's blob.
var emptyJSON = []byte("{}")

// pushReferrer pushes an artifact over the empty config whose subject is
// desc, and returns its digest.
func (e endpoint) pushReferrer(subject v1.Descriptor, artifactType, content string) v1.Hash {
	e.t.Helper()
	emptyDigest, _, _ := v1.SHA256(strings.NewReader(string(emptyJSON)))
	layerDigest, layerSize, _ := v1.SHA256(strings.NewReader(content))
	e.pushBlob(emptyDigest, emptyJSON)
	e.pushBlob(layerDigest, []byte(content))
	raw, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
		Config:  v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: emptyDigest, Size: 2},
		Layers:  []v1.Descriptor{{MediaType: "text/plain", Digest: layerDigest, Size: layerSize}},
		Subject: &subject, Annotations: map[string]string{"org.example.content": content}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.putManifest(raw, string(types.OCIManifestSchema1), "")
	digest, _, _ := v1.SHA256(strings.NewReader(string(raw)))
	return digest
}

// TestReferrersReadBack lists a subject's referrers with remote.Referrers,
// which falls back to the sha256-<hex> tag when the registry does not serve
// them: the two referrers found, and no fallback tag asked for, show that
// the endpoint's referrers API answered.
func TestReferrersReadBack(t *testing.T) {
	e := start(t)
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.pushImage(img, "v1")
	subject, err := remote.Head(e.ref("v1"), remote.WithAuth(e.auth))
	if err != nil {
		t.Fatal(err)
	}
	const sbom, sig = "application/vnd.example.sbom+json", "application/vnd.example.sig+json"
	sbomDigest := e.pushReferrer(*subject, sbom, "an sbom")
	sigDigest := e.pushReferrer(*subject, sig, "a signature")

	digestRef := e.ref("v1").Context().Digest(subject.Digest.String())
	index, err := remote.Referrers(digestRef, remote.WithAuth(e.auth))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range manifest.Manifests {
		got = append(got, fmt.Sprintf("%s %s %s", d.Digest, d.ArtifactType, d.Annotations["org.example.content"]))
	}
	want := []string{sbomDigest.String() + " " + sbom + " an sbom", sigDigest.String() + " " + sig + " a signature"}
	if !slices.Equal(got, want) {
		t.Fatalf("referrers: %q, want %q", got, want)
	}
	filtered, err := remote.Referrers(digestRef, remote.WithAuth(e.auth), remote.WithFilter("artifactType", sig))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := filtered.IndexManifest(); len(m.Manifests) != 1 || m.Manifests[0].Digest != sigDigest {
		t.Fatalf("filtered by %s: %+v", sig, m)
	}
	// The endpoint records a request once its handler returns, which may be
	// just after the client has the answer.
	for deadline := time.Now().Add(5 * time.Second); len(e.srv.RequestsFor("registry:referrers")) < 2 &&
		time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(e.srv.RequestsFor("registry:referrers")); n != 2 {
		t.Errorf("referrers requests: %d, want 2", n)
	}
	for _, r := range e.srv.RequestsFor("registry:manifests") {
		if ref, _ := r.Input["reference"].(string); strings.HasPrefix(ref, "sha256-") {
			t.Errorf("go-containerregistry fell back to the referrers tag %s", ref)
		}
	}
}

// TestTagsListReadBack lists tags with remote.List, two a page: it follows
// the Link header to the end.
func TestTagsListReadBack(t *testing.T) {
	e := start(t)
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"v1", "v2", "v3", "v4", "v5"}
	for _, tag := range want {
		e.pushImage(img, tag)
	}
	got, err := remote.List(e.ref("v1").Context(), remote.WithAuth(e.auth), remote.WithPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tags: %v, want %v", got, want)
	}
	if pages := len(e.srv.RequestsFor("registry:tags")); pages != 3 {
		t.Errorf("pages fetched: %d, want 3", pages)
	}
}
