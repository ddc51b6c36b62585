// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// The registry read API ECR serves beside its JSON API: /v2/ (the version
// check), manifests, blobs, referrers and tags/list, with HTTP Basic auth
// "AWS:<password>" from GetAuthorizationToken. It is what docker pull, crane
// and skopeo use to read what was pushed. ECR redirects blob reads to S3;
// this endpoint serves them itself.
const (
	registryPing      = "registry:ping"
	registryManifests = "registry:manifests"
	registryBlobs     = "registry:blobs"
	registryReferrers = "registry:referrers"
	registryTags      = "registry:tags"
)

func isRegistryPath(path string) bool { return path == "/v2" || strings.HasPrefix(path, "/v2/") }

// registryRequest is a /v2/ path taken apart.
type registryRequest struct {
	operation, repository, reference string
}

// parseRegistryPath reads /v2/<name>/<kind>/<reference>. The name may hold
// '/', and its components may be "manifests" or "tags" themselves; a
// reference (tag or digest) never holds '/', so the last two segments are
// the kind and the reference, and the rest is the name.
func parseRegistryPath(path string) registryRequest {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, "/v2"), "/")
	if rest == "" {
		return registryRequest{operation: registryPing}
	}
	unknown := registryRequest{operation: "registry:unknown"}
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		return unknown
	}
	head, reference := rest[:i], rest[i+1:]
	j := strings.LastIndex(head, "/")
	if j <= 0 {
		return unknown
	}
	name, kind := head[:j], head[j+1:]
	switch {
	case kind == "manifests":
		return registryRequest{operation: registryManifests, repository: name, reference: reference}
	case kind == "blobs":
		return registryRequest{operation: registryBlobs, repository: name, reference: reference}
	case kind == "referrers":
		return registryRequest{operation: registryReferrers, repository: name, reference: reference}
	case kind == "tags" && reference == "list":
		return registryRequest{operation: registryTags, repository: name}
	}
	return unknown
}

// registryError is an error in the distribution spec's shape.
type registryError struct {
	status        int
	code, message string
}

func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request, rec *Request, fault *Fault) {
	req := parseRegistryPath(r.URL.Path)
	rec.Input = map[string]any{"method": r.Method, "repositoryName": req.repository, "reference": req.reference}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	regErr := s.registryAnswer(w, r, rec, req, fault)
	if regErr == nil {
		return
	}
	rec.ErrorCode = regErr.code
	if regErr.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q,service="ecr.amazonaws.com"`, s.url+"/"))
	}
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"code": regErr.code, "message": regErr.message}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(regErr.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// registryAnswer writes a successful answer, or returns the error to write.
func (s *Server) registryAnswer(w http.ResponseWriter, r *http.Request, rec *Request, req registryRequest, fault *Fault) *registryError {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &registryError{http.StatusMethodNotAllowed, "UNSUPPORTED", "This endpoint serves only reads: GET and HEAD."}
	}
	token, regErr := s.registryAuth(r)
	if regErr != nil {
		return regErr
	}
	rec.Region = token.Region
	if fault != nil {
		return &registryError{fault.apply().Status, fault.Code, fault.Message}
	}
	switch req.operation {
	case registryPing:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
		return nil
	case registryManifests, registryBlobs, registryReferrers, registryTags:
	default:
		return &registryError{http.StatusNotFound, "NOT_FOUND", "Not found: " + r.URL.Path}
	}
	key := s.key(token.Region, token.RegistryID, req.repository)
	s.mu.Lock()
	repo := s.repos[key]
	if repo == nil {
		s.mu.Unlock()
		return &registryError{http.StatusNotFound, "NAME_UNKNOWN", fmt.Sprintf(
			"The repository with name '%s' does not exist in the registry with id '%s'", key.name, key.registryID)}
	}
	switch req.operation {
	case registryBlobs:
		return s.serveBlob(w, r, repo, req.reference) // unlocks s.mu
	case registryReferrers, registryTags:
		return s.serveListing(w, r, repo, req) // unlocks s.mu
	}
	digest := req.reference
	if d, ok := repo.tags[req.reference]; ok {
		digest = d
	}
	img := repo.images[digest]
	var manifest []byte
	var apiErr *apiError
	if img != nil {
		manifest, apiErr = s.readManifest(repo, digest)
	}
	s.mu.Unlock()
	switch {
	case img == nil:
		return &registryError{http.StatusNotFound, "MANIFEST_UNKNOWN", "Requested image not found"}
	case apiErr != nil:
		return &registryError{http.StatusInternalServerError, "UNKNOWN", apiErr.Message}
	}
	w.Header().Set("Content-Type", img.mediaType)
	w.Header().Set("Docker-Content-Digest", digest)
	http.ServeContent(w, r, "", img.pushedAt, bytes.NewReader(manifest))
	return nil
}

// serveBlob serves a layer (or config) blob with Range support. It is
// entered holding s.mu and releases it before sending bytes.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, repo *repository, digest string) *registryError {
	_, ok := repo.layers[digest]
	path, apiErr := s.layerPath(repo, digest)
	s.mu.Unlock()
	if !ok || apiErr != nil {
		return &registryError{http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry: " + digest}
	}
	f, err := os.Open(path)
	if err != nil {
		return &registryError{http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry: " + digest}
	}
	defer func() { _ = f.Close() }()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", digest)
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

// registryAuth checks the Basic credentials GetAuthorizationToken handed out.
func (s *Server) registryAuth(r *http.Request) (AuthorizationToken, *registryError) {
	unauthorized := &registryError{http.StatusUnauthorized, "UNAUTHORIZED", "Not Authorized"}
	header := r.Header.Get("Authorization")
	encoded, ok := strings.CutPrefix(header, "Basic ")
	if !ok {
		return AuthorizationToken{}, unauthorized
	}
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return AuthorizationToken{}, unauthorized
	}
	user, password, _ := strings.Cut(string(decoded), ":")
	token, known := s.registryToken(password)
	switch {
	case user != "AWS" || !known:
		return AuthorizationToken{}, &registryError{http.StatusUnauthorized, "DENIED", "Your authorization token is invalid."}
	case !s.now().Before(token.ExpiresAt):
		return AuthorizationToken{}, &registryError{http.StatusForbidden, "DENIED",
			"Your authorization token has expired. Reauthenticate and try again."}
	}
	return token, nil
}
