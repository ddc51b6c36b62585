// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// fakeClock records the 429 waits instead of sleeping them.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	return nil
}

// tooMany answers the first n manifest requests 429 with retryAfter, and
// Docker Hub's limit headers.
func tooMany(n int32, retryAfter string) func(http.Handler) http.Handler {
	var count atomic.Int32
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.Contains(req.URL.Path, "/manifests/") && count.Add(1) <= n {
				w.Header().Set("Retry-After", retryAfter)
				w.Header().Set("ratelimit-limit", "100;w=21600")
				w.Header().Set("ratelimit-remaining", "0;w=21600")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, req)
		})
	}
}

func TestRateLimitRetried(t *testing.T) {
	r := newTestRegistry(t, tooMany(2, "2"))
	isolateDockerConfig(t)
	img := r.writeImage(t, "app:1")
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	got, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{now: clock.now, sleep: clock.sleep})
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != mustDigest(t, img) {
		t.Errorf("digest %s", got.Digest)
	}
	if len(clock.slept) != 2 || clock.slept[0] != 2*time.Second || clock.slept[1] != 2*time.Second {
		t.Errorf("waited %v, want 2s twice", clock.slept)
	}
	if heads := r.requests("/manifests/"); len(heads) != 3 {
		t.Errorf("%d manifest requests, want 3 (the same HEAD again)", len(heads))
	}
}

func TestRateLimitPastBudget(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct{ name, retryAfter string }{
		{"seconds", "120"},
		{"date", start.Add(120 * time.Second).Format(http.TimeFormat)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRegistry(t, tooMany(1000, tc.retryAfter))
			isolateDockerConfig(t)
			r.writeImage(t, "app:1")
			clock := &fakeClock{t: start}
			_, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{now: clock.now, sleep: clock.sleep})
			var rl *RateLimitError
			if !errors.As(err, &rl) {
				t.Fatalf("got %v, want a *RateLimitError", err)
			}
			if !rl.Reset.Equal(start.Add(120*time.Second)) || rl.Registry != r.host || rl.Limit != "100;w=21600" {
				t.Errorf("%+v", rl)
			}
			for _, part := range []string{r.host, "100 pulls per 6h0m0s", "2026-01-02T03:06:05Z"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("the message lacks %q: %v", part, err)
				}
			}
			if len(clock.slept) != 0 {
				t.Errorf("waited %v past the budget", clock.slept)
			}
		})
	}
}

// dialRecorder is a transport that dials only loopback addresses and
// records every address it was asked for.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialRecorder) transport(rewrite func(addr string) string) *http.Transport {
	dt, _ := http.DefaultTransport.(*http.Transport)
	tr := dt.Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.mu.Lock()
		d.addrs = append(d.addrs, addr)
		d.mu.Unlock()
		if rewrite != nil {
			addr = rewrite(addr)
		}
		host, _, _ := net.SplitHostPort(addr)
		if !isLoopback(host) {
			return nil, errors.New("test: no network beyond loopback")
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return tr
}

func (d *dialRecorder) dialed(host string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.addrs {
		if strings.HasPrefix(a, host) {
			return true
		}
	}
	return false
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	isolateDockerConfig(t)
	var ph *PlainHTTPError

	// An endpoint in plain HTTP elsewhere: refused before any dial.
	d := &dialRecorder{}
	login := func(context.Context, string) (Login, bool, error) {
		return Login{Username: "AWS", Password: testSecret, Endpoint: "http://10.1.2.3:5000", Source: "test"}, true, nil
	}
	_, err := ResolveRemote(bg, "10.1.2.3:5000/app:1", RemoteOptions{Login: login, Transport: d.transport(nil)})
	if !errors.As(err, &ph) || len(d.addrs) != 0 {
		t.Errorf("http endpoint: %v, dialed %v", err, d.addrs)
	}

	// go-containerregistry's fallback to HTTP for an RFC 1918 address.
	d = &dialRecorder{}
	_, err = ResolveRemote(bg, "192.168.1.5:5000/app:1", RemoteOptions{Transport: d.transport(nil)})
	if !errors.As(err, &ph) || ph.Host != "192.168.1.5:5000" {
		t.Errorf("RFC 1918 registry: %v", err)
	}

	// A blob redirected to plain HTTP elsewhere: refused, never dialed.
	d = &dialRecorder{}
	var redirect atomic.Bool // once the plan is made
	r := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if isBlobGet(req) && redirect.Load() {
				http.Redirect(w, req, "http://10.9.8.7:8080"+req.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, req)
		})
	})
	b, _ := openLayer(t, r, RemoteOptions{Transport: d.transport(nil)})
	redirect.Store(true)
	if _, err := b.Open(bg, 0); !errors.As(err, &ph) || d.dialed("10.9.8.7") {
		t.Errorf("redirect to plain HTTP: %v, dialed %v", err, d.addrs)
	}
}

// A Login's Endpoint is where the registry is read, whatever the
// reference's host.
func TestLoginEndpoint(t *testing.T) {
	r := newTestRegistry(t, basicAuth)
	isolateDockerConfig(t)
	img := r.writeImage(t, "team/app:1")
	d := &dialRecorder{}
	login := func(_ context.Context, registry string) (Login, bool, error) {
		return Login{Username: testUser, Password: testSecret, Endpoint: r.srv.URL, Source: "test"},
			registry == "123456789012.dkr.ecr.us-east-1.amazonaws.com", nil
	}
	src, err := OpenRemote(bg, "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1", "",
		RemoteOptions{Login: login, Transport: d.transport(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	if src.Digest() != mustDigest(t, img) || d.dialed("123456789012") {
		t.Errorf("digest %s, dialed %v", src.Digest(), d.addrs)
	}
	if !strings.HasPrefix(src.Blobs()[0].Name, "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:") {
		t.Errorf("blob name %s", src.Blobs()[0].Name)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	isolateDockerConfig(t)
	srv := httptest.NewTLSServer(registry.New())
	defer srv.Close()
	d := &dialRecorder{}
	tr := d.transport(func(addr string) string {
		if addr == "registry.example.com:443" {
			return srv.Listener.Addr().String()
		}
		return addr
	})
	_, err := ResolveRemote(bg, "registry.example.com/app:1", RemoteOptions{Transport: tr})
	var te *TLSError
	if !errors.As(err, &te) || te.Host != "registry.example.com" || !strings.Contains(err.Error(), "registry.example.com") {
		t.Fatalf("got %v, want a *TLSError for registry.example.com", err)
	}
}

func TestUnknownHost(t *testing.T) {
	isolateDockerConfig(t)
	_, err := OpenRemote(bg, "no-such-host.invalid/app:1", "", RemoteOptions{})
	var uh *UnknownHostError
	if !errors.As(err, &uh) || uh.Host != "no-such-host.invalid" {
		t.Fatalf("got %v, want an *UnknownHostError", err)
	}
}
