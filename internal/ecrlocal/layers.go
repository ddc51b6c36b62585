package ecrlocal

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

const (
	// minPartSize is the smallest part ECR accepts, except the last one.
	minPartSize = 5 * 1024 * 1024
	// maxPartsPerLayer is ECR's limit on parts in one upload.
	maxPartsPerLayer = 4200
	layerMediaType   = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// upload is an upload in progress. Only a running digest is kept, never the
// bytes, so the endpoint's memory does not grow with the layers pushed.
type upload struct {
	repo          repoKey
	digest        hash.Hash
	received      int64 // bytes received so far; the next part starts here
	parts         int
	lastPartSize  int64
	tooSmallParts bool // a part before the last was under minPartSize
}

func (s *Server) initiateLayerUpload(c *call) (any, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, apiErr := s.repo(key); apiErr != nil {
		return nil, apiErr
	}
	id := newUUID()
	s.uploads[id] = &upload{repo: key, digest: sha256.New()}
	s.owners[id] = key.owner()
	return map[string]any{"uploadId": id, "partSize": s.partSize}, nil
}

// uploadFor returns the addressed upload; the caller holds s.mu.
func (s *Server) uploadFor(c *call) (*upload, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	if _, apiErr := s.repo(key); apiErr != nil {
		return nil, apiErr
	}
	id := c.str("uploadId")
	u := s.uploads[id]
	if u == nil || u.repo != key {
		return nil, newError("UploadNotFoundException", fmt.Sprintf(
			"Upload with id '%s' is not found in repository '%s' of registry '%s'", id, key.name, key.registryID))
	}
	return u, nil
}

func (s *Server) uploadLayerPart(c *call) (any, *apiError) {
	blob, err := base64.StdEncoding.DecodeString(c.str("layerPartBlob"))
	if err != nil {
		return nil, newError("SerializationException", "layerPartBlob is not valid base64.")
	}
	first, last := c.int64("partFirstByte"), c.int64("partLastByte")

	s.mu.Lock()
	defer s.mu.Unlock()
	u, apiErr := s.uploadFor(c)
	if apiErr != nil {
		return nil, apiErr
	}
	switch {
	case first != u.received:
		return nil, u.invalidPart(fmt.Sprintf("The part starts at byte %d but the upload expects byte %d next.", first, u.received))
	case len(blob) == 0:
		return nil, u.invalidPart("The layer part is empty.")
	case last-first+1 != int64(len(blob)):
		return nil, u.invalidPart(fmt.Sprintf("The part's byte range %d-%d does not match its %d bytes.", first, last, len(blob)))
	case u.parts >= maxPartsPerLayer:
		return nil, newError("LimitExceededException", fmt.Sprintf("An upload may have at most %d parts.", maxPartsPerLayer))
	}
	if u.parts > 0 && u.lastPartSize < minPartSize {
		u.tooSmallParts = true
	}
	u.digest.Write(blob)
	u.received += int64(len(blob))
	u.parts++
	u.lastPartSize = int64(len(blob))
	return map[string]any{
		"registryId":       u.repo.registryID,
		"repositoryName":   u.repo.name,
		"uploadId":         c.str("uploadId"),
		"lastByteReceived": u.received - 1,
	}, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	u, apiErr := s.uploadFor(c)
	if apiErr != nil {
		return nil, apiErr
	}
	digests := c.strings("layerDigests")
	if len(digests) != 1 {
		return nil, newError("InvalidParameterException", "Exactly one layer digest must be given to complete an upload.")
	}
	id := c.str("uploadId")
	switch {
	case u.received == 0:
		return nil, newError("EmptyUploadException", fmt.Sprintf("The upload with id '%s' has no parts.", id))
	case u.tooSmallParts:
		return nil, newError("LayerPartTooSmallException", fmt.Sprintf(
			"Every part of an upload but the last must be at least %d bytes.", minPartSize))
	}
	got := "sha256:" + hex.EncodeToString(u.digest.Sum(nil))
	if !strings.EqualFold(digests[0], got) {
		return nil, newError("InvalidLayerException", fmt.Sprintf(
			"The digest %s does not match the uploaded content's digest %s.", digests[0], got))
	}
	delete(s.uploads, id)
	repo := s.repos[u.repo]
	if _, exists := repo.layers[got]; exists {
		return nil, newError("LayerAlreadyExistsException", fmt.Sprintf(
			"The layer %s already exists in the repository '%s'.", got, u.repo.name))
	}
	repo.layers[got] = u.received
	return map[string]any{
		"registryId":     u.repo.registryID,
		"repositoryName": u.repo.name,
		"uploadId":       id,
		"layerDigest":    got,
	}, nil
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
