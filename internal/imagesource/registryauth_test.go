// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testUser   = "robot"
	testSecret = "s3cret-Pa55word"
	testToken  = "tok-0123456789"
)

// basicAuth asks every /v2/ request for Basic testUser:testSecret.
func basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != testUser || p != testSecret {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// bearerAuth answers with a bearer challenge, as Docker Hub, GHCR and Quay
// do; its token endpoint wants testUser:testSecret when needCreds.
func bearerAuth(needCreds bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/token" {
				u, p, ok := req.BasicAuth()
				if req.Method == http.MethodPost {
					_ = req.ParseForm()
					u, p, ok = req.Form.Get("username"), req.Form.Get("password"), req.Form.Get("username") != ""
				}
				if needCreds && (!ok || u != testUser || p != testSecret) {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				_ = json.NewEncoder(w).Encode(map[string]string{"token": testToken, "access_token": testToken})
				return
			}
			if req.Header.Get("Authorization") != "Bearer "+testToken {
				w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+req.Host+`/token",service="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, req)
		})
	}
}

// writeDockerConfig writes config.json in the isolated DOCKER_CONFIG.
func writeDockerConfig(t *testing.T, dir string, cfg any) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func auths(host, user, pass string) map[string]any {
	return map[string]any{"auths": map[string]any{host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}}
}

// checkAuthError wants a *RegistryAuthError of status that names source and
// no secret.
func checkAuthError(t *testing.T, err error, status int, source string) {
	t.Helper()
	var ae *RegistryAuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want a *RegistryAuthError", err)
	}
	if ae.Status != status || !strings.Contains(ae.Credential, source) || !strings.Contains(err.Error(), source) {
		t.Errorf("status %d, credential %q (want %d, %q): %v", ae.Status, ae.Credential, status, source, err)
	}
	for _, secret := range []string{testSecret, "wrong-" + testSecret, testToken} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}

func TestDockerConfigAuths(t *testing.T) {
	r := newTestRegistry(t, basicAuth)
	dir := isolateDockerConfig(t)
	r.writeImage(t, "app:1")
	writeDockerConfig(t, dir, auths(r.host, testUser, testSecret))
	if _, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{}); err != nil {
		t.Fatal(err)
	}
	writeDockerConfig(t, dir, auths(r.host, testUser, "wrong-"+testSecret))
	_, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{})
	checkAuthError(t, err, http.StatusUnauthorized, "the Docker config at "+filepath.Join(dir, "config.json")+" (auths)")
}

func TestDockerConfigCredHelper(t *testing.T) {
	r := newTestRegistry(t, basicAuth)
	dir := isolateDockerConfig(t)
	r.writeImage(t, "app:1")
	bin := t.TempDir()
	secret := filepath.Join(bin, "secret")
	script := "#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"" + testUser +
		"\",\"Secret\":\"%s\"}' \"$server\" \"$(cat " + secret + ")\"\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-ecrtest"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	writeDockerConfig(t, dir, map[string]any{"credHelpers": map[string]string{r.host: "ecrtest"}})
	if err := os.WriteFile(secret, []byte(testSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("wrong-"+testSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{})
	checkAuthError(t, err, http.StatusUnauthorized, "(credHelpers ecrtest)")
}

func TestBearerAnonymous(t *testing.T) {
	r := newTestRegistry(t, bearerAuth(false))
	isolateDockerConfig(t)
	img := r.writeImage(t, "app:1")
	src, err := OpenRemote(bg, r.ref("app:1"), "", RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	if src.Digest() != mustDigest(t, img) {
		t.Errorf("digest %s", src.Digest())
	}
	if err := src.Verify(bg); err != nil {
		t.Fatal(err)
	}
	if got := r.requests("/blobs/"); len(got) == 0 || got[0].Auth != "Bearer "+testToken {
		t.Errorf("blob requests %+v", got)
	}
}

func TestBearerWithCredentials(t *testing.T) {
	r := newTestRegistry(t, bearerAuth(true))
	isolateDockerConfig(t)
	r.writeImage(t, "app:1")
	_, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{})
	checkAuthError(t, err, http.StatusUnauthorized, credAnonymous)
	login := func(_ context.Context, registry string) (Login, bool, error) {
		return Login{Username: testUser, Password: testSecret, Source: "source_username and source_password_wo"}, true, nil
	}
	if _, err := ResolveRemote(bg, r.ref("app:1"), RemoteOptions{Login: login}); err != nil {
		t.Fatal(err)
	}
}

// An explicit Login is asked first, for the reference's registry, and wins
// over the Docker config; ok=false leaves it to the Docker config.
func TestLoginFirst(t *testing.T) {
	r := newTestRegistry(t, basicAuth)
	dir := isolateDockerConfig(t)
	r.writeImage(t, "app:1")
	writeDockerConfig(t, dir, auths(r.host, testUser, "wrong-"+testSecret))
	var asked []string
	password, ok := testSecret, true
	login := func(_ context.Context, registry string) (Login, bool, error) {
		asked = append(asked, registry)
		return Login{Username: testUser, Password: password, Source: "source_username and source_password_wo"}, ok, nil
	}
	opts := RemoteOptions{Login: login}
	if _, err := ResolveRemote(bg, r.ref("app:1"), opts); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != r.host {
		t.Errorf("Login asked for %v, want [%s]", asked, r.host)
	}
	password = "wrong-" + testSecret
	_, err := ResolveRemote(bg, r.ref("app:1"), opts)
	checkAuthError(t, err, http.StatusUnauthorized, "source_username and source_password_wo")
	ok = false
	_, err = ResolveRemote(bg, r.ref("app:1"), opts)
	checkAuthError(t, err, http.StatusUnauthorized, "the Docker config at")
}

// A 403 names the credential that was denied.
func TestForbidden(t *testing.T) {
	r := newTestRegistry(t, func(next http.Handler) http.Handler {
		return basicAuth(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.Contains(req.URL.Path, "/manifests/") {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, req)
		}))
	})
	isolateDockerConfig(t)
	r.writeImage(t, "app:1")
	login := func(context.Context, string) (Login, bool, error) {
		return Login{Username: testUser, Password: testSecret, Source: "the provider's AWS credentials (ecr:GetAuthorizationToken)"}, true, nil
	}
	_, err := OpenRemote(bg, r.ref("app:1"), "", RemoteOptions{Login: login})
	checkAuthError(t, err, http.StatusForbidden, "the provider's AWS credentials")
}
