// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Manifest media types ECR accepts: Docker schema 2 manifests and manifest
// lists, OCI image manifests and indexes.
const (
	dockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	ociManifest        = "application/vnd.oci.image.manifest.v1+json"
	ociIndex           = "application/vnd.oci.image.index.v1+json"
)

func isIndex(mediaType string) bool { return mediaType == dockerManifestList || mediaType == ociIndex }

// image is a manifest a repository holds. Its bytes are on disk; what ECR
// checks against (the blobs and child manifests it references) is kept here.
type image struct {
	digest            string
	mediaType         string
	artifactMediaType string // the config's media type, for DescribeImages
	size              int64  // the layers' total, as DescribeImages reports
	pushedAt          time.Time
	blobs             []string // config and layers (foreign layers aside)
	layers            []string // the layers alone, whose sizes add up to the image's
	children          []string // an index's manifests

	// OCI 1.1: what ListImageReferrers and /referrers/ list (referrers.go).
	subject      string            // the digest the manifest's subject names, "" for none
	artifactType string            // the manifest's artifactType, else its config's media type
	annotations  map[string]string // the manifest's own
	manifestSize int64             // the manifest's bytes, a referrer descriptor's size
}

type descriptor struct {
	MediaType string   `json:"mediaType"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	URLs      []string `json:"urls"`
}

type manifestDoc struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptor       `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *subjectDoc       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

func invalidManifest(why string) *apiError {
	return newError("InvalidParameterException", "Invalid parameter at 'ImageManifest' failed to satisfy constraint: '"+why+"'")
}

func isDigest(d string) bool {
	algorithm, hexPart, ok := strings.Cut(d, ":")
	if !ok || algorithm != "sha256" || len(hexPart) != sha256.Size*2 {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil && strings.ToLower(hexPart) == hexPart
}

// parseManifest reads a manifest as ECR does: JSON, schema version 2, a media
// type from the manifest or (when it has none) from imageManifestMediaType,
// and the references that type requires.
func parseManifest(manifest, givenType string) (*image, *apiError) {
	var doc manifestDoc
	if err := json.Unmarshal([]byte(manifest), &doc); err != nil {
		return nil, invalidManifest("Invalid JSON syntax")
	}
	mediaType := doc.MediaType
	switch {
	case mediaType == "" && givenType == "":
		return nil, newError("InvalidParameterException", "Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: "+
			"'the media type is required when the manifest has no mediaType field'")
	case mediaType == "":
		mediaType = givenType
	case givenType != "" && givenType != mediaType:
		return nil, newError("InvalidParameterException", fmt.Sprintf(
			"Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: 'must be %s, the manifest's mediaType, not %s'", mediaType, givenType))
	}
	if !slices.Contains([]string{dockerManifest, dockerManifestList, ociManifest, ociIndex}, mediaType) {
		return nil, newError("InvalidParameterException", fmt.Sprintf(
			"Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: 'unsupported media type %s'", mediaType))
	}
	if doc.SchemaVersion != 2 {
		return nil, invalidManifest("schemaVersion must be 2")
	}
	sum := sha256.Sum256([]byte(manifest))
	img := &image{digest: "sha256:" + hex.EncodeToString(sum[:]), mediaType: mediaType, manifestSize: int64(len(manifest))}
	if apiErr := img.readReferrerFields(&doc); apiErr != nil {
		return nil, apiErr
	}
	if isIndex(mediaType) {
		if doc.Manifests == nil || doc.Config != nil || doc.Layers != nil {
			return nil, invalidManifest("an index lists manifests, and has no config or layers")
		}
		for _, m := range doc.Manifests {
			if !isDigest(m.Digest) {
				return nil, invalidManifest(fmt.Sprintf("%q is not a sha256 digest", m.Digest))
			}
			img.children = append(img.children, m.Digest)
		}
		img.size = int64(len(manifest))
		return img, nil
	}
	if doc.Config == nil || doc.Manifests != nil {
		return nil, invalidManifest("an image manifest has a config and layers, and lists no manifests")
	}
	img.artifactMediaType = doc.Config.MediaType
	for i, d := range append([]descriptor{*doc.Config}, doc.Layers...) {
		if !isDigest(d.Digest) {
			return nil, invalidManifest(fmt.Sprintf("%q is not a sha256 digest", d.Digest))
		}
		if len(d.URLs) > 0 { // a foreign layer: fetched from its URLs, never pushed
			continue
		}
		img.blobs = append(img.blobs, d.Digest)
		if i > 0 {
			img.layers = append(img.layers, d.Digest)
		}
	}
	return img, nil
}

func (s *Server) putImage(c *call) (any, *apiError) {
	manifest, tag := c.str("imageManifest"), c.str("imageTag")
	img, apiErr := parseManifest(manifest, c.str("imageManifestMediaType"))
	if apiErr != nil {
		return nil, apiErr
	}
	if want := c.str("imageDigest"); want != "" && want != img.digest {
		return nil, newError("ImageDigestDoesNotMatchException", fmt.Sprintf(
			"Invalid parameter at 'imageDigest' failed to satisfy constraint: 'the digest %s does not match the manifest's digest %s'", want, img.digest))
	}
	if tag != "" && !tagPattern.MatchString(tag) {
		return nil, newError("InvalidParameterException", fmt.Sprintf(
			"Invalid parameter at 'imageTag' failed to satisfy constraint: '%s' must satisfy regular expression '%s'", tag, tagPattern))
	}
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, apiErr := s.repo(key)
	if apiErr != nil {
		return nil, apiErr
	}
	if apiErr := repo.checkReferences(img); apiErr != nil {
		return nil, apiErr
	}
	existing := repo.images[img.digest]
	current, tagged := repo.tags[tag]
	switch {
	case existing != nil && (tag == "" || current == img.digest):
		what := fmt.Sprintf("Image with digest '%s'", img.digest)
		if tag != "" {
			what += fmt.Sprintf(" and tag '%s'", tag)
		}
		return nil, newError("ImageAlreadyExistsException", what+fmt.Sprintf(" already exists in the repository with name '%s' in registry with id '%s'", key.name, key.registryID))
	case tagged && current != img.digest && repo.mutability.immutable(tag):
		return nil, newError("ImageTagAlreadyExistsException", fmt.Sprintf(
			"The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable (imageTagMutability %s).",
			tag, key.name, repo.mutability.mode))
	}
	if existing == nil {
		if apiErr := s.storeManifest(repo, img, manifest); apiErr != nil {
			return nil, apiErr
		}
	}
	if tag != "" {
		repo.tags[tag] = img.digest // an image the tag leaves stays, untagged, as in ECR
	}
	imageID := map[string]any{"imageDigest": img.digest}
	if tag != "" {
		imageID["imageTag"] = tag
	}
	return map[string]any{"image": map[string]any{
		"registryId": key.registryID, "repositoryName": key.name, "imageId": imageID,
		"imageManifest": manifest, "imageManifestMediaType": img.mediaType,
	}}, nil
}

// checkReferences refuses a manifest whose blobs or child manifests the
// repository does not hold. The caller holds s.mu.
func (r *repository) checkReferences(img *image) *apiError {
	var missing []string
	for _, d := range img.blobs {
		if _, ok := r.layers[d]; !ok && !slices.Contains(missing, d) {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return newError("LayersNotFoundException", fmt.Sprintf(
			"Layers with digests '%s' required for pushing image into repository with name '%s' in registry with id '%s' do not exist",
			strings.Join(missing, ", "), r.key.name, r.key.registryID))
	}
	for _, d := range img.children {
		if r.images[d] == nil && !slices.Contains(missing, d) {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return newError("ReferencedImagesNotFoundException", fmt.Sprintf(
			"Manifests with digests '%s' referenced by the manifest list are not in repository '%s' in registry '%s'",
			strings.Join(missing, ", "), r.key.name, r.key.registryID))
	}
	for _, d := range img.layers {
		img.size += r.layers[d]
	}
	return nil
}

// storeManifest writes a new image's manifest to disk and indexes it. The
// caller holds s.mu.
func (s *Server) storeManifest(repo *repository, img *image, manifest string) *apiError {
	path, apiErr := s.manifestPath(repo, img.digest)
	if apiErr != nil {
		return apiErr
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return newError("ServerException", "storing the manifest: "+err.Error())
	}
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		return newError("ServerException", "storing the manifest: "+err.Error())
	}
	img.pushedAt = s.now()
	repo.images[img.digest] = img
	return nil
}

// readManifest returns an image's manifest bytes. The caller holds s.mu.
func (s *Server) readManifest(repo *repository, digest string) ([]byte, *apiError) {
	path, apiErr := s.manifestPath(repo, digest)
	if apiErr != nil {
		return nil, apiErr
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, newError("ServerException", "reading the manifest: "+err.Error())
	}
	return b, nil
}

// deleteIfUntagged deletes an image that has lost its last tag, as ECR does
// when BatchDeleteImage removes that tag. The caller holds s.mu.
func (s *Server) deleteIfUntagged(repo *repository, digest string) {
	for _, d := range repo.tags {
		if d == digest {
			return
		}
	}
	s.deleteImage(repo, digest)
}

// deleteImage removes an image and its tags. The caller holds s.mu.
func (s *Server) deleteImage(repo *repository, digest string) {
	for tag, d := range repo.tags {
		if d == digest {
			delete(repo.tags, tag)
		}
	}
	if path, apiErr := s.manifestPath(repo, digest); apiErr == nil {
		_ = os.Remove(path) // the directory goes at Close anyway
	}
	delete(repo.images, digest)
}
