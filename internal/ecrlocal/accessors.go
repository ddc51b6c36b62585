// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"strings"
)

// Accessors for tests: what a repository holds, byte for byte.

// key names a repository; registryID "" is the endpoint's own account.
func (s *Server) key(region, registryID, repository string) repoKey {
	if registryID == "" {
		registryID = s.opts.AccountID
	}
	return repoKey{region: region, registryID: registryID, name: repository}
}

// BlobPath returns the file that holds a repository's layer, and whether
// the repository has that layer.
func (s *Server) BlobPath(region, registryID, repository, digest string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[s.key(region, registryID, repository)]
	if r == nil {
		return "", false
	}
	if _, ok := r.layers[strings.ToLower(digest)]; !ok {
		return "", false
	}
	path, apiErr := s.layerPath(r, strings.ToLower(digest))
	return path, apiErr == nil
}

// Blob opens a repository's layer for reading, with its size. The error
// wraps fs.ErrNotExist when the repository does not have the layer.
func (s *Server) Blob(region, registryID, repository, digest string) (io.ReadCloser, int64, error) {
	path, ok := s.BlobPath(region, registryID, repository, digest)
	if !ok {
		return nil, 0, fmt.Errorf("layer %s in repository %q (%s, %s): %w", digest, repository, region, registryID, fs.ErrNotExist)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return f, info.Size(), nil
}

// DeleteLayer removes a layer from a repository, as if it had gone from ECR
// behind the client's back (ECR's API has no such call; lifecycle policies
// do it). It reports whether the layer was there.
func (s *Server) DeleteLayer(region, registryID, repository, digest string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[s.key(region, registryID, repository)]
	digest = strings.ToLower(digest)
	if r == nil {
		return false
	}
	if _, ok := r.layers[digest]; !ok {
		return false
	}
	if path, apiErr := s.layerPath(r, digest); apiErr == nil {
		_ = os.Remove(path) // the directory goes at Close anyway
	}
	delete(r.layers, digest)
	return true
}

// Layers returns a repository's layers: digest -> size.
func (s *Server) Layers(region, registryID, repository string) map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[s.key(region, registryID, repository)]
	if r == nil {
		return nil
	}
	return maps.Clone(r.layers)
}

// Images returns the digests of a repository's images, oldest first.
func (s *Server) Images(region, registryID, repository string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[s.key(region, registryID, repository)]
	if r == nil {
		return nil
	}
	return r.listImages("ANY")
}

// ImageTags returns a repository's tags: tag -> manifest digest.
func (s *Server) ImageTags(region, registryID, repository string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[s.key(region, registryID, repository)]
	if r == nil {
		return nil
	}
	return maps.Clone(r.tags)
}

// Manifest returns an image's manifest bytes and media type, by tag or digest.
func (s *Server) Manifest(region, registryID, repository, reference string) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[s.key(region, registryID, repository)]
	if r == nil {
		return nil, "", fmt.Errorf("repository %q: %w", repository, fs.ErrNotExist)
	}
	if d, ok := r.tags[reference]; ok {
		reference = d
	}
	img := r.images[reference]
	if img == nil {
		return nil, "", fmt.Errorf("image %s in repository %q: %w", reference, repository, fs.ErrNotExist)
	}
	b, apiErr := s.readManifest(r, img.digest)
	if apiErr != nil {
		return nil, "", apiErr
	}
	return b, img.mediaType, nil
}

// DeleteImage removes an image and its tags behind the client's back, as
// someone with the console would. It reports whether the image was there.
func (s *Server) DeleteImage(region, registryID, repository, digest string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[s.key(region, registryID, repository)]
	if r == nil || r.images[digest] == nil {
		return false
	}
	s.deleteImage(r, digest)
	return true
}
