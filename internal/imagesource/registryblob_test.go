// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// whole reads what next serves for req without its Range header.
func whole(next http.Handler, req *http.Request) *httptest.ResponseRecorder {
	r := req.Clone(req.Context())
	r.Header.Del("Range")
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec
}

func isBlobGet(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:")
}

// serveRanges answers "Range: bytes=N-" with 206, as registries that
// support ranges do (go-containerregistry's own wants "bytes=N-M").
func serveRanges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var from int
		if _, err := fmt.Sscanf(req.Header.Get("Range"), "bytes=%d-", &from); err != nil || !isBlobGet(req) {
			next.ServeHTTP(w, req)
			return
		}
		body := whole(next, req).Body.Bytes()
		if from >= len(body) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
		w.Header().Set("Content-Length", fmt.Sprint(len(body)-from))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(body[from:])
	})
}

// ignoreRanges serves the whole blob whatever Range says.
func ignoreRanges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.Header.Del("Range")
		next.ServeHTTP(w, req)
	})
}

// openLayer opens app:1 at r and returns its first layer and its bytes.
func openLayer(t *testing.T, r *testRegistry, opts RemoteOptions) (Blob, []byte) {
	t.Helper()
	img := r.writeImage(t, "app:1")
	layers, _ := img.Layers()
	rc, _ := layers[0].Compressed()
	want, _ := io.ReadAll(rc)
	d, _ := layers[0].Digest()
	src, err := OpenRemote(bg, r.ref("app:1"), "", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	for _, b := range src.Blobs() {
		if b.Digest == d.String() {
			return b, want
		}
	}
	t.Fatalf("no blob %s in the plan", d)
	return Blob{}, nil
}

func TestOpenAtOffset(t *testing.T) {
	for _, tc := range []struct {
		name string
		mw   func(http.Handler) http.Handler
	}{{"range", serveRanges}, {"no range", ignoreRanges}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRegistry(t, tc.mw)
			isolateDockerConfig(t)
			b, want := openLayer(t, r, RemoteOptions{})
			r.reset()
			rc, err := b.Open(bg, 100)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil || !bytes.Equal(got, want[100:]) {
				t.Fatalf("read %d bytes, %v; want the %d from offset 100", len(got), err, len(want)-100)
			}
			// With the last byte: some registries refuse the open-ended form.
			wantRange := fmt.Sprintf("bytes=100-%d", b.Size-1)
			if reqs := r.requests("/blobs/"); len(reqs) != 1 || reqs[0].Range != wantRange {
				t.Errorf("blob requests %+v, want one with Range: %s", reqs, wantRange)
			}
			rc, err = b.Open(bg, b.Size)
			if err != nil {
				t.Fatal(err)
			}
			if rest, err := io.ReadAll(rc); err != nil || len(rest) != 0 {
				t.Errorf("at the end: %d bytes, %v", len(rest), err)
			}
			_ = rc.Close()
		})
	}
}

// A blob GET redirected to another host (blob storage) is followed, and the
// registry's credentials do not go there.
func TestBlobRedirectCarriesNoCredentials(t *testing.T) {
	var (
		mu    sync.Mutex
		auths []string
	)
	var adminURL string
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		auths = append(auths, req.Header.Get("Authorization"))
		mu.Unlock()
		resp, err := http.Get(adminURL + req.URL.Path)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer storage.Close()
	storageHost := strings.Replace(storage.URL, "127.0.0.1", "localhost", 1)
	r := newTestRegistry(t, func(next http.Handler) http.Handler {
		return basicAuth(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if isBlobGet(req) {
				http.Redirect(w, req, storageHost+req.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, req)
		}))
	})
	adminURL = r.admin.URL
	isolateDockerConfig(t)
	login := func(context.Context, string) (Login, bool, error) {
		return Login{Username: testUser, Password: testSecret, Source: "test"}, true, nil
	}
	b, want := openLayer(t, r, RemoteOptions{Login: login})
	rc, err := b.Open(bg, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auths) == 0 {
		t.Fatal("the blob storage was not asked")
	}
	for _, a := range auths {
		if a != "" {
			t.Errorf("the blob storage received Authorization %q", a)
		}
	}
	if reqs := r.requests("/blobs/"); len(reqs) == 0 || reqs[0].Auth == "" {
		t.Errorf("the registry did not receive the credentials: %+v", reqs)
	}
}

// corrupt serves layer GETs through change; configs are served as they are.
func corrupt(change func(w http.ResponseWriter, body []byte)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !isBlobGet(req) {
				next.ServeHTTP(w, req)
				return
			}
			rec := whole(next, req)
			body := rec.Body.Bytes()
			if len(body) == 0 || body[0] != 0x1f { // a config, not a gzip layer
				next.ServeHTTP(w, req)
				return
			}
			change(w, body)
		})
	}
}

// chunked writes body in two flushed parts, so no Content-Length is sent.
func chunked(w http.ResponseWriter, body []byte) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:10])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	_, _ = w.Write(body[10:])
}

func TestBlobCorruption(t *testing.T) {
	flip := func(body []byte) []byte {
		c := bytes.Clone(body)
		c[len(c)-1] ^= 0xff
		return c
	}
	for _, tc := range []struct {
		name   string
		serve  func(w http.ResponseWriter, body []byte)
		check  func(err error) bool
		atOpen bool
	}{
		{"wrong bytes", func(w http.ResponseWriter, body []byte) { _, _ = w.Write(flip(body)) },
			func(err error) bool { var e *DigestMismatchError; return errors.As(err, &e) }, false},
		{"wrong bytes, chunked", func(w http.ResponseWriter, body []byte) { chunked(w, flip(body)) },
			func(err error) bool { var e *DigestMismatchError; return errors.As(err, &e) }, false},
		{"more bytes", func(w http.ResponseWriter, body []byte) { chunked(w, append(bytes.Clone(body), 'x')) },
			func(err error) bool { var e *SizeMismatchError; return errors.As(err, &e) }, false},
		{"fewer bytes", func(w http.ResponseWriter, body []byte) { chunked(w, body[:len(body)-1]) },
			func(err error) bool { var e *SizeMismatchError; return errors.As(err, &e) }, false},
		{"wrong Content-Length", func(w http.ResponseWriter, body []byte) { _, _ = w.Write(body[:len(body)-1]) },
			func(err error) bool { var e *SizeMismatchError; return errors.As(err, &e) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRegistry(t, corrupt(tc.serve))
			isolateDockerConfig(t)
			img := r.writeImage(t, "app:1")
			src, err := OpenRemote(bg, r.ref("app:1"), "", RemoteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = src.Close() }()
			layers, _ := img.Layers()
			d, _ := layers[0].Digest()
			var b Blob
			for _, x := range src.Blobs() {
				if x.Digest == d.String() {
					b = x
				}
			}
			rc, err := b.Open(bg, 0)
			if tc.atOpen {
				if !tc.check(err) {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = rc.Close() }()
			var total int64
			buf := make([]byte, 100)
			for {
				n, err := rc.Read(buf)
				total += int64(n)
				if err == io.EOF {
					t.Fatalf("read %d bytes without error", total)
				}
				if err != nil {
					if !tc.check(err) {
						t.Fatalf("after %d bytes: %v", total, err)
					}
					if tc.name == "wrong bytes" && (n == 0 || total != b.Size) {
						t.Errorf("the mismatch came with n=%d at %d bytes, want with the last byte", n, total)
					}
					break
				}
			}
			if err := src.Verify(bg); !tc.check(err) {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}
