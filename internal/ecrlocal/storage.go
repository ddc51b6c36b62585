// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The endpoint keeps what it receives on disk, never in memory: benchmarks
// push gigabytes through it. Under one temporary directory, made on first
// use and removed by Close:
//
//	uploads/<upload ID>       the parts of an upload in progress, appended
//	repos/<n>/<sha256 hex>    a completed layer of the n-th repository created
//	repos/<n>/manifests/<hex> an image manifest it holds, as pushed
//
// A layer belongs to a repository, as in ECR: the same digest pushed to two
// repositories is two files.

// storageDir returns the endpoint's directory, making it on first use.
func (s *Server) storageDir() (string, *apiError) {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	if s.storeDir == "" && !s.storeClosed {
		dir, err := os.MkdirTemp(s.opts.Dir, "ecrlocal-")
		if err != nil {
			return "", newError("ServerException", "the endpoint's storage is not usable: "+err.Error())
		}
		for _, sub := range []string{"uploads", "repos"} {
			if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
				return "", newError("ServerException", "the endpoint's storage is not usable: "+err.Error())
			}
		}
		s.storeDir = dir
	}
	if s.storeClosed {
		return "", newError("ServiceUnavailableException", "The endpoint is closed.")
	}
	return s.storeDir, nil
}

// removeStorage deletes everything the endpoint stored; Close calls it.
func (s *Server) removeStorage() error {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	s.storeClosed = true
	if s.storeDir == "" {
		return nil
	}
	return os.RemoveAll(s.storeDir)
}

func (s *Server) uploadPath(id string) (string, *apiError) {
	dir, apiErr := s.storageDir()
	if apiErr != nil {
		return "", apiErr
	}
	return filepath.Join(dir, "uploads", id), nil
}

// layerPath is where a repository keeps a layer. The caller holds s.mu.
func (s *Server) layerPath(r *repository, digest string) (string, *apiError) {
	dir, apiErr := s.storageDir()
	if apiErr != nil {
		return "", apiErr
	}
	_, hexPart, _ := strings.Cut(digest, ":")
	if _, err := hex.DecodeString(hexPart); err != nil || hexPart == "" {
		return "", newError("ServerException", fmt.Sprintf("not a digest: %q", digest))
	}
	return filepath.Join(dir, "repos", strconv.FormatInt(r.seq, 10), strings.ToLower(hexPart)), nil
}

// repoDir is the directory of a repository's layers ("" before anything is
// stored).
func (s *Server) repoDir(r *repository) string {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	if s.storeDir == "" {
		return ""
	}
	return filepath.Join(s.storeDir, "repos", strconv.FormatInt(r.seq, 10))
}

// manifestPath is where a repository keeps an image's manifest. The caller
// holds s.mu.
func (s *Server) manifestPath(r *repository, digest string) (string, *apiError) {
	layer, apiErr := s.layerPath(r, digest)
	if apiErr != nil {
		return "", apiErr
	}
	return filepath.Join(filepath.Dir(layer), "manifests", filepath.Base(layer)), nil
}
