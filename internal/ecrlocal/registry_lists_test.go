// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestParseRegistryPath: repository names hold '/', and their components
// may be the words the registry's paths use.
func TestParseRegistryPath(t *testing.T) {
	for path, want := range map[string]registryRequest{
		"/v2/":                                      {operation: registryPing},
		"/v2/app/manifests/v1":                      {registryManifests, "app", "v1"},
		"/v2/team/manifests/app/manifests/v1":       {registryManifests, "team/manifests/app", "v1"},
		"/v2/team/referrers/blobs/sha256:ab":        {registryBlobs, "team/referrers", "sha256:ab"},
		"/v2/team/tags/app/referrers/sha256:ab":     {registryReferrers, "team/tags/app", "sha256:ab"},
		"/v2/team/app/tags/list":                    {registryTags, "team/app", ""},
		"/v2/team/manifests/tags/list":              {registryTags, "team/manifests", ""},
		"/v2/team/tags/manifests/list":              {registryManifests, "team/tags", "list"},
		"/v2/manifests/v1":                          {operation: "registry:unknown"},
		"/v2/team/app/tags/other":                   {operation: "registry:unknown"},
		"/v2/team/app/blobs/uploads/":               {operation: "registry:unknown"},
		"/v2/team/app/referrers/sha256:ab/whatever": {operation: "registry:unknown"},
	} {
		if got := parseRegistryPath(path); got != want {
			t.Errorf("%s: %+v, want %+v", path, got, want)
		}
	}
}

type referrersIndexDoc struct {
	MediaType string               `json:"mediaType"`
	Manifests []referrerDescriptor `json:"manifests"`
}

func TestRegistryReferrers(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "team/app")
	client := sdkClient(srv, testAccessKey, testSecretKey)
	p := pusher{t, client, "team/app"}
	p.pushIfMissing([]byte(emptyConfig))
	img := ociImage(t, p, "subject", "layer a")
	wantCode(t, "the subject", p.putImage(img, ociManifest, "v1"), "")
	const sbom, sig = "application/vnd.example.sbom+json", "application/vnd.example.sig+json"
	first, second := artifact(t, p, img, sbom, emptyConfigField(), "sbom"), artifact(t, p, img, sig, emptyConfigField(), "sig")
	wantCode(t, "the first referrer", p.putImage(first, "", ""), "")
	wantCode(t, "the second referrer", p.putImage(second, "", ""), "")
	token := authorizationToken(t, client)

	get := func(query string) (*http.Response, referrersIndexDoc) {
		t.Helper()
		resp, body := registryGet(t, srv, http.MethodGet, "/v2/team/app/referrers/"+img.digest+query, token)
		var doc referrersIndexDoc
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil || resp.Header.Get("Content-Type") != ociIndex ||
			doc.MediaType != ociIndex {
			t.Fatalf("referrers%s: %d %s %q", query, resp.StatusCode, resp.Header, body)
		}
		return resp, doc
	}
	resp, doc := get("")
	if len(doc.Manifests) != 2 || !reflect.DeepEqual(doc.Manifests[0], referrerDescriptor{MediaType: ociManifest, Digest: first.digest,
		Size: int64(len(first.manifest)), ArtifactType: sbom, Annotations: map[string]string{"org.example.layer": "sbom"}}) ||
		doc.Manifests[1].Digest != second.digest {
		t.Fatalf("referrers: %+v", doc.Manifests)
	}
	if resp.Header.Get("OCI-Filters-Applied") != "" {
		t.Errorf("no filter asked for, yet OCI-Filters-Applied: %q", resp.Header.Get("OCI-Filters-Applied"))
	}
	resp, doc = get("?artifactType=" + url.QueryEscape(sig))
	if len(doc.Manifests) != 1 || doc.Manifests[0].Digest != second.digest || resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered by %s: %+v %q", sig, doc.Manifests, resp.Header.Get("OCI-Filters-Applied"))
	}

	// A subject nobody refers to is an empty index, never a 404.
	resp, body := registryGet(t, srv, http.MethodGet, "/v2/team/app/referrers/"+digestOf([]byte("nobody")), token)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"manifests":[]`) {
		t.Fatalf("an unknown subject: %d %q", resp.StatusCode, body)
	}
	for path, want := range map[string]int{
		"/v2/team/app/referrers/latest":                 http.StatusBadRequest,
		"/v2/team/none/referrers/" + img.digest:         http.StatusNotFound,
		"/v2/team/app/referrers/" + img.digest + "?x=1": http.StatusOK,
	} {
		if resp, body := registryGet(t, srv, http.MethodGet, path, token); resp.StatusCode != want {
			t.Errorf("%s: %d %q, want %d", path, resp.StatusCode, body, want)
		}
	}
	if resp, _ := registryGet(t, srv, http.MethodGet, "/v2/team/app/referrers/"+img.digest, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("referrers without credentials: %d", resp.StatusCode)
	}
}

func TestRegistryTagsList(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "team/app")
	client := sdkClient(srv, testAccessKey, testSecretKey)
	p := pusher{t, client, "team/app"}
	img := ociImage(t, p, "tagged", "layer a")
	for _, tag := range []string{"e", "b", "a", "d", "c"} {
		wantCode(t, tag, p.putImage(img, ociManifest, tag), "")
	}
	token := authorizationToken(t, client)

	for query, want := range map[string]struct{ tags, link string }{
		"":            {"a,b,c,d,e", ""},
		"?n=2":        {"a,b", `</v2/team/app/tags/list?last=b&n=2>; rel="next"`},
		"?n=2&last=b": {"c,d", `</v2/team/app/tags/list?last=d&n=2>; rel="next"`},
		"?n=2&last=d": {"e", ""},
		"?last=c":     {"d,e", ""},
		"?n=5":        {"a,b,c,d,e", ""},
		"?n=0":        {"", ""},
	} {
		resp, body := registryGet(t, srv, http.MethodGet, "/v2/team/app/tags/list"+query, token)
		var doc struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil || doc.Name != "team/app" || doc.Tags == nil {
			t.Fatalf("tags/list%s: %d %q", query, resp.StatusCode, body)
		}
		if got := strings.Join(doc.Tags, ","); got != want.tags || resp.Header.Get("Link") != want.link {
			t.Errorf("tags/list%s: %s %q, want %s %q", query, got, resp.Header.Get("Link"), want.tags, want.link)
		}
	}
	if resp, body := registryGet(t, srv, http.MethodGet, "/v2/team/app/tags/list?n=many", token); resp.StatusCode != http.StatusBadRequest ||
		registryErrorCode(t, body) != "PAGINATION_NUMBER_INVALID" {
		t.Errorf("n=many: %d %q", resp.StatusCode, body)
	}
	if resp, _ := registryGet(t, srv, http.MethodGet, "/v2/team/app/tags/list", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tags/list without credentials: %d", resp.StatusCode)
	}
	if got := len(srv.RequestsFor(registryTags)); got < 8 {
		t.Errorf("tags/list requests are not recorded: %d", got)
	}
}
