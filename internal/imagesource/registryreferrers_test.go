// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// writeReferrers writes to r an image at app:1, an SBOM of it, a signature
// of the SBOM and an attestation typed by its config, as cosign and oras
// push them (remote.Write keeps the sha256-<hex> tag itself where the
// registry lacks the referrers API). It returns them with the first level
// in the order OpenRemote lists them: by digest.
func writeReferrers(t *testing.T, r *testRegistry) (img, sbom, sig, att v1.Image) {
	t.Helper()
	img = r.writeImage(t, "app:1")
	sbom = artifact(t, typeSPDX, `{"spdxVersion":"SPDX-2.3"}`, img)
	sig = artifact(t, typeSig, "signature of the SBOM", sbom)
	att = configTyped(t, img)
	for _, m := range []v1.Image{sbom, sig, att} {
		if err := remote.Write(r.adminRef(t, "app@"+mustDigest(t, m)), m); err != nil {
			t.Fatal(err)
		}
	}
	return img, sbom, sig, att
}

// byDigest sorts ms by digest: the order of one level of referrers.
func byDigest(t *testing.T, ms ...v1.Image) []v1.Image {
	t.Helper()
	slices.SortFunc(ms, func(a, b v1.Image) int { return strings.Compare(mustDigest(t, a), mustDigest(t, b)) })
	return ms
}

// queries records the query strings of the referrers API requests.
type queries struct {
	mu sync.Mutex
	qs []string
}

func (q *queries) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	qs := q.qs
	q.qs = nil
	return qs
}

func (q *queries) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.URL.Path, "/referrers/") {
			q.mu.Lock()
			q.qs = append(q.qs, req.URL.RawQuery)
			q.mu.Unlock()
		}
		next.ServeHTTP(w, req)
	})
}

// A registry with the referrers API: none, one level, a chain, a filter.
func TestRegistryReferrers(t *testing.T) {
	var q queries
	r := newTestRegistry(t, q.record, registry.WithReferrersSupport(true))
	isolateDockerConfig(t)
	lone := r.writeImage(t, "lone:1")
	s := must(OpenRemote(bg, r.ref("lone:1"), "", RemoteOptions{}))
	checkReferrers(t, s)
	_ = s.Close()
	if n := len(r.requests("/referrers/" + mustDigest(t, lone))); n != 1 {
		t.Errorf("%d referrers requests for the image, want 1", n)
	}

	img, sbom, sig, att := writeReferrers(t, r)
	s = must(OpenRemote(bg, r.ref("app:1"), "", RemoteOptions{}))
	checkReferrers(t, s, append(byDigest(t, sbom, att), sig)...)
	if err := s.Verify(bg); err != nil {
		t.Error(err)
	}
	_ = s.Close()
	if len(r.requests("/manifests/sha256-")) != 0 {
		t.Error("the tag scheme was read from a registry with the referrers API")
	}

	q.take()
	s = must(OpenRemote(bg, r.ref("app:1"), "", RemoteOptions{Referrers: ReferrerFilter{ArtifactTypes: []string{typeSPDX}}}))
	checkReferrers(t, s, sbom)
	_ = s.Close()
	if qs := q.take(); len(qs) != 2 || qs[0] != "artifactType=application%2Fspdx%2Bjson" || qs[1] != qs[0] {
		t.Errorf("referrers queries %q, want artifactType for the image and the SBOM", qs)
	}

	r.reset()
	s = must(OpenRemote(bg, r.ref("app:1"), mustDigest(t, img), RemoteOptions{Referrers: ReferrerFilter{None: true}}))
	checkReferrers(t, s)
	_ = s.Close()
	if n := len(r.requests("/referrers/")); n != 0 {
		t.Errorf("%d referrers requests with the filter None, want none", n)
	}
}

// A registry without the referrers API (404 on /referrers/): the tag
// scheme, asked once for the API; a referrer the tag lists whose subject
// is another manifest is not taken.
func TestRegistryReferrersTagScheme(t *testing.T) {
	r := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.Contains(req.URL.Path, "/referrers/") {
				http.NotFound(w, req)
				return
			}
			next.ServeHTTP(w, req)
		})
	})
	isolateDockerConfig(t)
	img, sbom, sig, att := writeReferrers(t, r)

	// A stale tag: it lists an SBOM of another image too.
	stray := artifact(t, typeSPDX, "SBOM of another image", must(random.Image(100, 1)))
	if err := remote.Write(r.adminRef(t, "app@"+mustDigest(t, stray)), stray); err != nil {
		t.Fatal(err)
	}
	tag := r.adminRef(t, "app:"+strings.Replace(mustDigest(t, img), ":", "-", 1))
	idx := must(remote.Index(tag))
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: stray})
	if err := remote.Put(tag, idx); err != nil {
		t.Fatal(err)
	}

	s := must(OpenRemote(bg, r.ref("app:1"), "", RemoteOptions{}))
	defer func() { _ = s.Close() }()
	checkReferrers(t, s, append(byDigest(t, sbom, att), sig)...)
	if n := len(r.requests("/referrers/")); n != 1 {
		t.Errorf("%d referrers API requests, want 1: a registry without it lacks it for every subject", n)
	}
	if n := len(r.requests("/manifests/sha256-")); n != 4 {
		t.Errorf("%d tag scheme requests, want one for the image and each referrer", n)
	}
}

// A referrer served with other bytes than its digest's is an error, not a
// referrer left out.
func TestRegistryReferrerChecked(t *testing.T) {
	var sbomDigest atomic.Pointer[string] // set once the referrers are written
	r := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method != http.MethodGet || sbomDigest.Load() == nil ||
				!strings.HasSuffix(req.URL.Path, "/manifests/"+*sbomDigest.Load()) {
				next.ServeHTTP(w, req)
				return
			}
			rec := whole(next, req)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			_, _ = w.Write(bytes.Replace(rec.Body.Bytes(), []byte("spdx"), []byte("SPDX"), 1))
		})
	}, registry.WithReferrersSupport(true))
	isolateDockerConfig(t)
	_, sbom, _, _ := writeReferrers(t, r)
	d := mustDigest(t, sbom)
	sbomDigest.Store(&d)
	_, err := OpenRemote(bg, r.ref("app:1"), "", RemoteOptions{})
	var dm *DigestMismatchError
	if !errors.As(err, &dm) || dm.Want != mustDigest(t, sbom) {
		t.Fatalf("got %v, want a DigestMismatchError for the SBOM", err)
	}
}
