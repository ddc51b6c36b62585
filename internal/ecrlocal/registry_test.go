// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// registryGet sends a registry API request with Basic credentials (none when
// basic is "") and returns the response with its body read.
func registryGet(t *testing.T, srv *Server, method, path, basic string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, srv.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+basic)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func registryErrorCode(t *testing.T, body []byte) string {
	t.Helper()
	var doc struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Errors) != 1 {
		t.Fatalf("not a registry error: %q", body)
	}
	return doc.Errors[0].Code
}

func authorizationToken(t *testing.T, client *ecr.Client) string {
	t.Helper()
	out, err := client.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AuthorizationData) != 1 {
		t.Fatalf("want one token, got %d", len(out.AuthorizationData))
	}
	return aws.ToString(out.AuthorizationData[0].AuthorizationToken)
}

func TestRegistryReadAPI(t *testing.T) {
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = time.Now()
	now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	srv, err := Start("127.0.0.1:0", Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.CreateRepository(testRegion, "", "team/app")
	client := sdkClient(srv, testAccessKey, testSecretKey)
	p := pusher{t, client, "team/app"}
	img := ociImage(t, p, "read", "layer one", "layer two")
	wantCode(t, "img", p.putImage(img, ociManifest, "v1"), "")

	token := authorizationToken(t, client)
	decoded, _ := base64.StdEncoding.DecodeString(token)
	if !strings.HasPrefix(string(decoded), "AWS:") {
		t.Fatalf("the token is not base64 of AWS:<password>: %q", decoded)
	}

	resp, _ := registryGet(t, srv, http.MethodGet, "/v2/", "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Fatalf("/v2/ without credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, _ := registryGet(t, srv, http.MethodGet, "/v2/", base64.StdEncoding.EncodeToString([]byte("AWS:guessed"))); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/v2/ with a made-up password: %d", resp.StatusCode)
	}
	if resp, _ := registryGet(t, srv, http.MethodGet, "/v2/", token); resp.StatusCode != http.StatusOK {
		t.Fatalf("/v2/ with the token: %d", resp.StatusCode)
	}

	for _, ref := range []string{"v1", img.digest} {
		resp, body := registryGet(t, srv, http.MethodGet, "/v2/team/app/manifests/"+ref, token)
		if resp.StatusCode != http.StatusOK || string(body) != img.manifest || resp.Header.Get("Content-Type") != ociManifest ||
			resp.Header.Get("Docker-Content-Digest") != img.digest {
			t.Fatalf("manifest by %s: %d %s %q", ref, resp.StatusCode, resp.Header, body)
		}
	}
	resp, body := registryGet(t, srv, http.MethodHead, "/v2/team/app/manifests/v1", token)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(img.manifest)) {
		t.Fatalf("HEAD manifest: %d %d", resp.StatusCode, resp.ContentLength)
	}
	resp, body = registryGet(t, srv, http.MethodGet, "/v2/team/app/blobs/"+digestOf([]byte("layer two")), token, "Range", "bytes=6-")
	if resp.StatusCode != http.StatusPartialContent || string(body) != "two" {
		t.Fatalf("blob range: %d %q", resp.StatusCode, body)
	}
	resp, body = registryGet(t, srv, http.MethodGet, "/v2/team/app/blobs/"+digestOf([]byte("layer one")), token)
	if resp.StatusCode != http.StatusOK || string(body) != "layer one" || resp.Header.Get("Docker-Content-Digest") != digestOf([]byte("layer one")) {
		t.Fatalf("blob: %d %q", resp.StatusCode, body)
	}

	for path, code := range map[string]string{
		"/v2/team/app/manifests/v2":                            "MANIFEST_UNKNOWN",
		"/v2/team/app/blobs/" + digestOf([]byte("not pushed")): "BLOB_UNKNOWN",
		"/v2/team/other/manifests/v1":                          "NAME_UNKNOWN",
	} {
		resp, body := registryGet(t, srv, http.MethodGet, path, token)
		if resp.StatusCode != http.StatusNotFound || registryErrorCode(t, body) != code {
			t.Errorf("%s: want 404 %s, got %d %q", path, code, resp.StatusCode, body)
		}
	}

	// A token reads its caller's registry: one from a role in another
	// account does not read this one.
	assumed := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient(srv, staticCreds(testAccessKey, testSecretKey, "")),
		"arn:aws:iam::210987654321:role/reader"))
	other := authorizationToken(t, ecr.New(ecr.Options{Region: testRegion, BaseEndpoint: aws.String(srv.URL()), Credentials: assumed}))
	if resp, body := registryGet(t, srv, http.MethodGet, "/v2/team/app/manifests/v1", other); registryErrorCode(t, body) != "NAME_UNKNOWN" {
		t.Errorf("another registry's token: %d %q", resp.StatusCode, body)
	}
	// And they expire after 12 hours.
	clock.Lock()
	clock.now = clock.now.Add(12*time.Hour + time.Second)
	clock.Unlock()
	if resp, body := registryGet(t, srv, http.MethodGet, "/v2/", token); resp.StatusCode != http.StatusForbidden || registryErrorCode(t, body) != "DENIED" {
		t.Errorf("an expired token: %d %q", resp.StatusCode, body)
	}
	if got := len(srv.RequestsFor(registryManifests)); got < 4 {
		t.Errorf("registry requests are not recorded: %d", got)
	}
}
