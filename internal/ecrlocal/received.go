// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import "sync"

// receivedBytes counts the layer bytes UploadLayerPart requests carried:
// every part that reached the handler, signed and well-formed, whether the
// upload took it or refused it. A test of a resumed push compares these with
// the blob's size to show only the rest was sent.
type receivedBytes struct {
	mu       sync.Mutex
	total    int64
	byUpload map[string]int64
	byRepo   map[repoKey]int64
}

func (s *Server) countPart(key repoKey, uploadID string, n int64) {
	r := &s.received
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byUpload == nil {
		r.byUpload, r.byRepo = map[string]int64{}, map[repoKey]int64{}
	}
	r.total += n
	r.byUpload[uploadID] += n
	r.byRepo[key] += n
}

// BytesReceived counts the layer bytes of every UploadLayerPart request
// served so far, accepted or refused.
func (s *Server) BytesReceived() int64 {
	s.received.mu.Lock()
	defer s.received.mu.Unlock()
	return s.received.total
}

// BytesReceivedFor counts the layer bytes sent for one upload ID.
func (s *Server) BytesReceivedFor(uploadID string) int64 {
	s.received.mu.Lock()
	defer s.received.mu.Unlock()
	return s.received.byUpload[uploadID]
}

// BytesReceivedIn counts the layer bytes sent to one repository (registryID
// "" is the endpoint's own account).
func (s *Server) BytesReceivedIn(region, registryID, repository string) int64 {
	key := s.key(region, registryID, repository)
	s.received.mu.Lock()
	defer s.received.mu.Unlock()
	return s.received.byRepo[key]
}
