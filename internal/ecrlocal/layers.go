// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"strings"
	"sync"
)

const (
	// minPartSize is the smallest part ECR accepts, except the last one.
	minPartSize = 5 * 1024 * 1024
	// maxPartsPerLayer is ECR's limit on parts in one upload.
	maxPartsPerLayer = 4200
	layerMediaType   = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// upload is an upload in progress. Its parts go to a file; only a running
// digest is kept in memory. Parts of one upload are served one at a time
// (mu); different uploads proceed in parallel. Lock order: an upload's mu
// may be held while taking s.mu, never the other way round.
type upload struct {
	id   string
	repo repoKey
	path string

	mu            sync.Mutex
	gone          bool // completed, expired, or its repository deleted
	digest        resumableHash
	received      int64 // bytes received so far; the next part starts here
	parts         int
	lastPartSize  int64
	tooSmallParts bool // a part before the last was under minPartSize
}

// resumableHash is a running digest whose state can be saved and put back,
// so a part that fails halfway leaves no trace in it.
type resumableHash interface {
	hash.Hash
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

func newDigest() resumableHash {
	h, ok := sha256.New().(resumableHash)
	if !ok {
		panic("crypto/sha256 no longer saves its state")
	}
	return h
}

func (s *Server) initiateLayerUpload(c *call) (any, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	id := newUUID()
	path, apiErr := s.uploadPath(id)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, apiErr := s.repo(key); apiErr != nil {
		return nil, apiErr
	}
	s.uploads[id] = &upload{id: id, repo: key, path: path, digest: newDigest()}
	s.owners[id] = key.owner()
	return map[string]any{"uploadId": id, "partSize": s.partSize}, nil
}

// uploadFor returns the addressed upload, locked; the caller unlocks it.
func (s *Server) uploadFor(c *call) (*upload, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	id := c.str("uploadId")
	s.mu.Lock()
	_, apiErr := s.repo(key)
	u := s.uploads[id]
	s.mu.Unlock()
	if apiErr != nil {
		return nil, apiErr
	}
	notFound := newError("UploadNotFoundException", fmt.Sprintf(
		"Upload with id '%s' is not found in repository '%s' of registry '%s'", id, key.name, key.registryID))
	if u == nil || u.repo != key {
		return nil, notFound
	}
	u.mu.Lock()
	if u.gone { // it ended while this request waited for it
		u.mu.Unlock()
		return nil, notFound
	}
	return u, nil
}

func (s *Server) uploadLayerPart(c *call) (any, *apiError) {
	data, ok := c.blob("layerPartBlob")
	if !ok {
		return nil, newError("SerializationException", "layerPartBlob is not valid base64.")
	}
	size := len(data)
	first, last := c.int64("partFirstByte"), c.int64("partLastByte")
	s.countPart(s.keyFor(c, c.str("repositoryName")), c.str("uploadId"), int64(size))

	u, apiErr := s.uploadFor(c)
	if apiErr != nil {
		return nil, apiErr
	}
	defer u.mu.Unlock()
	switch {
	case first != u.received:
		return nil, u.invalidPart(fmt.Sprintf("The part starts at byte %d but the upload expects byte %d next.", first, u.received))
	case size == 0:
		return nil, u.invalidPart("The layer part is empty.")
	case last-first+1 != int64(size):
		return nil, u.invalidPart(fmt.Sprintf("The part's byte range %d-%d does not match its %d bytes.", first, last, size))
	case u.parts >= maxPartsPerLayer:
		return nil, newError("LimitExceededException", fmt.Sprintf("An upload may have at most %d parts.", maxPartsPerLayer))
	}
	if err := u.appendPart(data); err != nil {
		return nil, newError("ServerException", "storing the part: "+err.Error())
	}
	if u.parts > 0 && u.lastPartSize < minPartSize {
		u.tooSmallParts = true
	}
	u.received += int64(size)
	u.parts++
	u.lastPartSize = int64(size)
	return map[string]any{
		"registryId":       u.repo.registryID,
		"repositoryName":   u.repo.name,
		"uploadId":         u.id,
		"lastByteReceived": u.received - 1,
	}, nil
}

// appendPart writes a part's bytes to the upload's file and digest. On
// failure both are put back as they were, so the upload can go on from its
// last valid byte. The caller holds u.mu.
func (u *upload) appendPart(data []byte) (err error) {
	state, err := u.digest.MarshalBinary()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(u.path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Truncate(u.received)
			_ = u.digest.UnmarshalBinary(state)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return writePart(f, u.path, u.digest, data, u.received)
}

// invalidPart is InvalidLayerPartException, carrying the last byte the upload
// holds so the client can resume after it. With nothing received yet there is
// no such byte and the member is left out.
func (u *upload) invalidPart(message string) *apiError {
	e := newError("InvalidLayerPartException", message)
	if u.received > 0 {
		e = e.with("lastValidByteReceived", u.received-1)
	}
	return e
}

func (s *Server) completeLayerUpload(c *call) (any, *apiError) {
	digests := c.strings("layerDigests")
	u, apiErr := s.uploadFor(c)
	if apiErr != nil {
		return nil, apiErr
	}
	defer u.mu.Unlock()
	if len(digests) != 1 {
		return nil, newError("InvalidParameterException", "Exactly one layer digest must be given to complete an upload.")
	}
	switch {
	case u.received == 0:
		return nil, newError("EmptyUploadException", fmt.Sprintf("The upload with id '%s' has no parts.", u.id))
	case u.tooSmallParts:
		return nil, newError("LayerPartTooSmallException", fmt.Sprintf(
			"Every part of an upload but the last must be at least %d bytes.", minPartSize))
	}
	got := "sha256:" + hex.EncodeToString(u.digest.Sum(nil))
	if !strings.EqualFold(digests[0], got) {
		return nil, newError("InvalidLayerException", fmt.Sprintf(
			"The digest %s does not match the uploaded content's digest %s.", digests[0], got))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	repo, apiErr := s.repo(u.repo)
	if apiErr != nil {
		return nil, apiErr
	}
	delete(s.uploads, u.id)
	u.gone = true
	if _, exists := repo.layers[got]; exists {
		_ = os.Remove(u.path)
		return nil, newError("LayerAlreadyExistsException", fmt.Sprintf(
			"The layer %s already exists in the repository '%s'.", got, u.repo.name))
	}
	if apiErr := s.storeLayer(repo, got, u.path); apiErr != nil {
		return nil, apiErr
	}
	repo.layers[got] = u.received
	return map[string]any{
		"registryId":     u.repo.registryID,
		"repositoryName": u.repo.name,
		"uploadId":       u.id,
		"layerDigest":    got,
	}, nil
}

// storeLayer moves a completed upload's file into its repository. The
// caller holds s.mu.
func (s *Server) storeLayer(repo *repository, digest, from string) *apiError {
	to, apiErr := s.layerPath(repo, digest)
	if apiErr != nil {
		return apiErr
	}
	if err := os.MkdirAll(s.repoDir(repo), 0o700); err != nil {
		return newError("ServerException", "storing the layer: "+err.Error())
	}
	if err := os.Rename(from, to); err != nil {
		return newError("ServerException", "storing the layer: "+err.Error())
	}
	return nil
}

// forgetUploads ends uploads (expired, or their repository deleted) and
// removes their files. The caller must not hold s.mu.
func forgetUploads(uploads []*upload) {
	for _, u := range uploads {
		u.mu.Lock()
		u.gone = true
		_ = os.Remove(u.path) // absent when no part came; the directory goes at Close anyway
		u.mu.Unlock()
	}
}

func (s *Server) batchCheckLayerAvailability(c *call) (any, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, apiErr := s.repo(key)
	if apiErr != nil {
		return nil, apiErr
	}
	layers := []map[string]any{}
	failures := []map[string]any{}
	for _, d := range c.strings("layerDigests") {
		algorithm, hexPart, ok := strings.Cut(d, ":")
		size, found := repo.layers[strings.ToLower(d)]
		switch {
		case !ok || algorithm != "sha256" || len(hexPart) != sha256.Size*2:
			failures = append(failures, map[string]any{"layerDigest": d, "failureCode": "InvalidLayerDigest",
				"failureReason": "Invalid layer digest"})
		case !found:
			failures = append(failures, map[string]any{"layerDigest": d, "failureCode": "MissingLayerDigest",
				"failureReason": "Requested image not found"})
		default:
			layers = append(layers, map[string]any{"layerDigest": d, "layerAvailability": "AVAILABLE",
				"layerSize": size, "mediaType": layerMediaType})
		}
	}
	return map[string]any{"layers": layers, "failures": failures}, nil
}
