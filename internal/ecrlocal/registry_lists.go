// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// serveListing answers the registry's two listings: a subject's referrers
// and a repository's tags. It is entered holding s.mu, builds the answer
// under it, and releases it before writing, deferred so that a panic (which
// net/http recovers) does not leave the endpoint locked.
func (s *Server) serveListing(w http.ResponseWriter, r *http.Request, repo *repository, req registryRequest) *registryError {
	body, regErr := func() ([]byte, *registryError) {
		defer s.mu.Unlock()
		if req.operation == registryReferrers {
			return referrersAnswer(w, r, repo, req.reference)
		}
		return tagsAnswer(w, r, repo)
	}()
	if regErr != nil {
		return regErr
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	return nil
}

// referrersIndex is the registry's answer to GET /v2/<name>/referrers/<digest>:
// an OCI index of the referrers, empty (never 404) for a subject nobody
// refers to, as the distribution spec requires. The caller holds s.mu.
func (r *repository) referrersIndex(digest string, artifactTypes []string) []byte {
	b, _ := json.Marshal(map[string]any{ // strings and numbers always marshal
		"schemaVersion": 2, "mediaType": ociIndex, "manifests": r.referrers(digest, artifactTypes),
	})
	return b
}

// referrersAnswer lists a subject's referrers, filtered by the artifactType
// query parameters (any of them) when there are some. The caller holds s.mu.
func referrersAnswer(w http.ResponseWriter, r *http.Request, repo *repository, digest string) ([]byte, *registryError) {
	if !digestPattern.MatchString(digest) {
		// The distribution spec: 400 for a digest of invalid syntax.
		return nil, &registryError{http.StatusBadRequest, "DIGEST_INVALID", "invalid digest: " + digest}
	}
	types := r.URL.Query()["artifactType"]
	if len(types) > 0 {
		// Tells the client the filter was applied here, so it need not.
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", ociIndex)
	return repo.referrersIndex(digest, types), nil
}

// tagsAnswer lists a repository's tags in lexical order, as the distribution
// spec orders them: with n, at most n of them after last, and a Link header
// to the next page when more remain. The caller holds s.mu.
func tagsAnswer(w http.ResponseWriter, r *http.Request, repo *repository) ([]byte, *registryError) {
	q := r.URL.Query()
	tags := make([]string, 0, len(repo.tags))
	for tag := range repo.tags {
		if tag > q.Get("last") {
			tags = append(tags, tag)
		}
	}
	sort.Strings(tags)
	if q.Has("n") {
		n, err := strconv.Atoi(q.Get("n"))
		if err != nil || n < 0 {
			return nil, &registryError{http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", fmt.Sprintf("invalid number of results requested: %q", q.Get("n"))}
		}
		if n < len(tags) {
			tags = tags[:n]
			if n > 0 { // n=0 asks for no tags, not for a page that never ends
				next := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[n-1]}}
				w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, repo.key.name, next.Encode()))
			}
		}
	}
	body, _ := json.Marshal(map[string]any{"name": repo.key.name, "tags": tags}) // strings always marshal
	w.Header().Set("Content-Type", "application/json")
	return body, nil
}
