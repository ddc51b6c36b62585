// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// seen is one request a test registry received.
type seen struct {
	Method, Path, Auth, Range, UserAgent string
}

// testRegistry is go-containerregistry's registry in process: admin writes
// to it directly, srv serves it through the test's middleware and records
// what it receives.
type testRegistry struct {
	admin, srv *httptest.Server
	host       string // srv's "127.0.0.1:port"

	mu  sync.Mutex
	log []seen
}

// newTestRegistry starts a registry; mw, if not nil, wraps what srv serves.
// opts add to its options (registry.WithReferrersSupport).
func newTestRegistry(t *testing.T, mw func(http.Handler) http.Handler, opts ...registry.Option) *testRegistry {
	t.Helper()
	h := registry.New(append([]registry.Option{registry.Logger(log.New(io.Discard, "", 0))}, opts...)...)
	r := &testRegistry{admin: httptest.NewServer(h)}
	t.Cleanup(r.admin.Close)
	served := h
	if mw != nil {
		served = mw(h)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.log = append(r.log, seen{req.Method, req.URL.Path, req.Header.Get("Authorization"), req.Header.Get("Range"),
			req.Header.Get("User-Agent")})
		r.mu.Unlock()
		served.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// requests returns what srv received whose path contains part.
func (r *testRegistry) requests(part string) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []seen
	for _, s := range r.log {
		if strings.Contains(s.Path, part) {
			out = append(out, s)
		}
	}
	return out
}

func (r *testRegistry) reset() {
	r.mu.Lock()
	r.log = nil
	r.mu.Unlock()
}

// ref is repo:tag (or repo@digest) at srv.
func (r *testRegistry) ref(s string) string { return r.host + "/" + s }

func (r *testRegistry) adminRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(strings.TrimPrefix(r.admin.URL, "http://") + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// writeImage writes a random image at repo:tag and returns it.
func (r *testRegistry) writeImage(t *testing.T, repoTag string) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r.adminRef(t, repoTag), img); err != nil {
		t.Fatal(err)
	}
	return img
}

func mustDigest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// isolateDockerConfig points the Docker config at an empty directory, so
// that a developer's own ~/.docker never answers; it returns the directory.
func isolateDockerConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HOME", dir)
	t.Setenv("REGISTRY_AUTH_FILE", dir+"/none.json")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	return dir
}

var bg = context.Background()
