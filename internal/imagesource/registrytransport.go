// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// userAgent is how the provider introduces itself to registries
// (go-containerregistry appends its own name and version).
const userAgent = "terraform-provider-ecr"

// defaultRetryBudget is how long 429 answers are waited out by default.
const defaultRetryBudget = time.Minute

// baseTransport returns the transport under go-containerregistry's auth:
// plain HTTP refused but to this machine, 429 answers waited out, and the
// User-Agent set.
func baseTransport(opts RemoteOptions) (http.RoundTripper, func()) {
	base := opts.Transport
	if base == nil {
		// A clone, not http.DefaultTransport itself: Close releases its idle
		// connections without touching the rest of the process's.
		dt, _ := http.DefaultTransport.(*http.Transport)
		base = dt.Clone()
	}
	release := func() {
		if c, ok := base.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
	budget := opts.RetryBudget
	if budget <= 0 {
		budget = defaultRetryBudget
	}
	now, sleep := opts.now, opts.sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	var t http.RoundTripper = &loopbackOnlyHTTP{next: base}
	t = &retryAfter{next: t, budget: budget, now: now, sleep: sleep}
	return transport.NewUserAgent(t, userAgent), release
}

// sleepCtx waits d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isLoopback reports whether host (no port) is this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackOnlyHTTP refuses plain HTTP to any host but this machine, before
// dialing. It sits under the redirects and the token exchange, so none of
// them reaches another host in clear. go-containerregistry itself falls back
// to HTTP for RFC 1918 addresses: that fallback ends here too.
type loopbackOnlyHTTP struct {
	next http.RoundTripper
}

func (t *loopbackOnlyHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !isLoopback(req.URL.Hostname()) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &PlainHTTPError{Host: req.URL.Host}
	}
	return t.next.RoundTrip(req)
}

// retryAfter waits out 429 answers to GET and HEAD as their Retry-After
// says, at most budget in all for one request (and never past its
// context), then fails with a *RateLimitError. Docker Hub answers 429 once
// its pull limit is reached; waiting a little is worth it, hours are not.
type retryAfter struct {
	next   http.RoundTripper
	budget time.Duration
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

func (t *retryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return t.next.RoundTrip(req)
	}
	var waited time.Duration
	for {
		resp, err := t.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		rl := &RateLimitError{Registry: req.URL.Host, Limit: resp.Header.Get("ratelimit-limit"),
			Remaining: resp.Header.Get("ratelimit-remaining"), Waited: waited}
		wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if ok {
			rl.Reset = t.now().Add(wait)
		}
		if !ok || waited+wait > t.budget {
			return nil, rl
		}
		if deadline, has := req.Context().Deadline(); has && t.now().Add(wait).After(deadline) {
			return nil, rl
		}
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Beyond a year is no wait anyone takes; it also keeps the product
		// from overflowing.
		return time.Duration(min(secs, 366*24*3600)) * time.Second, true
	}
	at, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}
