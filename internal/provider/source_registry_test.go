// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// sourceRegistry is go-containerregistry's registry on loopback, as a
// source_image's registry, behind the wrappers a test turns on: Basic auth
// (user set), a bearer-token challenge with a token service (bearer), 429
// with Retry-After for the next requests (tooMany), no range support
// (noRange), blob reads redirected to storage on another host (redirect),
// a blob served with a byte changed (corrupt). It records what it was
// asked. Tests write images through an unwrapped door (push).
type sourceRegistry struct {
	host           string // the wrapped registry: what source_image names
	user, password string
	bearer         bool
	noRange        bool
	redirect       bool
	// noReferrers: /referrers/ answers 404, as on registries without the
	// OCI referrers API; writers then keep the sha256-<hex> fallback tag.
	noReferrers bool

	inner     http.Handler
	adminHost string // the registry without wrappers, for push
	blobHost  string // "localhost:<port>": the storage redirects go to

	mu          sync.Mutex
	corrupt     string
	tooMany     int    // requests still to answer 429
	retryAfter  string // the 429's Retry-After: "1" when empty
	tokens      map[string]bool
	requests    []sourceRequest
	storageAuth []string // Authorization headers the storage host received
}

type sourceRequest struct {
	method, path, rangeHeader string
}

func newSourceRegistry(t *testing.T, user, password string) *sourceRegistry {
	t.Helper()
	s := &sourceRegistry{user: user, password: password, tokens: map[string]bool{},
		inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.referrersOff(w, r) {
			return
		}
		s.inner.ServeHTTP(w, r)
	}))
	t.Cleanup(admin.Close)
	s.adminHost = strings.TrimPrefix(admin.URL, "http://")
	storage := httptest.NewServer(http.HandlerFunc(s.serveStorage))
	t.Cleanup(storage.Close)
	s.blobHost = "localhost:" + storage.URL[strings.LastIndex(storage.URL, ":")+1:]
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.host = strings.TrimPrefix(srv.URL, "http://")
	return s
}

func (s *sourceRegistry) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, sourceRequest{r.Method, r.URL.Path, r.Header.Get("Range")})
	corrupt, noRange, redirect, tooMany, retryAfter := s.corrupt, s.noRange, s.redirect, s.tooMany > 0, s.retryAfter
	if tooMany {
		s.tooMany--
	}
	s.mu.Unlock()
	if retryAfter == "" {
		retryAfter = "1"
	}
	switch {
	case tooMany:
		w.Header().Set("Retry-After", retryAfter)
		w.Header().Set("ratelimit-limit", "100;w=21600")
		w.Header().Set("ratelimit-remaining", "0;w=21600")
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}`,
			http.StatusTooManyRequests)
		return
	case r.URL.Path == "/token":
		s.serveToken(w, r)
		return
	case !s.authorized(w, r):
		return
	}
	if noRange {
		r.Header.Del("Range")
	}
	if s.referrersOff(w, r) {
		return
	}
	blob := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/")
	switch {
	case blob && redirect:
		// As Docker Hub and ECR send blob reads to S3 or a CDN.
		http.Redirect(w, r, "http://"+s.blobHost+r.URL.Path+"?X-Signature=abc", http.StatusTemporaryRedirect)
	case blob && corrupt != "" && strings.HasSuffix(r.URL.Path, "/blobs/"+corrupt):
		rec := httptest.NewRecorder()
		s.inner.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if len(body) > 0 {
			body[len(body)/2] ^= 0xff
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	default:
		s.inner.ServeHTTP(w, r)
	}
}

// authorized checks the request's credentials, or answers the challenge.
func (s *sourceRegistry) authorized(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	bearer := s.bearer
	s.mu.Unlock()
	switch {
	case bearer:
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		ok = ok && s.tokens[token]
		s.mu.Unlock()
		if ok {
			return true
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="source.test"`, s.host))
	case s.user != "":
		if u, p, ok := r.BasicAuth(); ok && u == s.user && p == s.password {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="source"`)
	default:
		return true
	}
	http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
	return false
}

// serveToken hands out a bearer token: to anyone when the registry has no
// user (anonymous pulls, as Docker Hub's public images), else to the user.
func (s *sourceRegistry) serveToken(w http.ResponseWriter, r *http.Request) {
	if s.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.password {
			http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
			return
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := "tok-" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[token] = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"token":%q,"expires_in":300}`, token)
}

// serveStorage is the blob storage redirects lead to: it records the
// Authorization header it got (it must get none) and serves the blob.
func (s *sourceRegistry) serveStorage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.storageAuth = append(s.storageAuth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	r.URL.RawQuery = ""
	s.inner.ServeHTTP(w, r)
}

// push writes img to the registry as repo:tag.
func (s *sourceRegistry) push(t *testing.T, repo, tag string, img v1.Image) string {
	t.Helper()
	ref := mustT(name.ParseReference(s.adminHost + "/" + repo + ":" + tag))
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return mustT(img.Digest()).String()
}

// referrersOff answers 404 to the referrers API when it is off.
func (s *sourceRegistry) referrersOff(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	off := s.noReferrers
	s.mu.Unlock()
	if off && strings.Contains(r.URL.Path, "/referrers/") {
		http.Error(w, `{"errors":[{"code":"NOT_FOUND","message":"no referrers API here"}]}`, http.StatusNotFound)
		return true
	}
	return false
}

func (s *sourceRegistry) set(f func(*sourceRegistry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}
