// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

// UploadOwner is the repository an upload ID was issued for.
type UploadOwner struct {
	Region     string
	RegistryID string
	Repository string
}

// UploadOwner tells which repository an upload ID was issued for. It keeps
// answering after the upload completes, expires or its repository is
// deleted, so a test can check, after the fact, that every ID a client used
// belongs to the repository it used it for.
func (s *Server) UploadOwner(uploadID string) (UploadOwner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.owners[uploadID]
	return o, ok
}

// IssuedUploads returns every upload ID issued so far with its repository.
func (s *Server) IssuedUploads() map[string]UploadOwner {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]UploadOwner, len(s.owners))
	for id, o := range s.owners {
		out[id] = o
	}
	return out
}

func (k repoKey) owner() UploadOwner {
	return UploadOwner{Region: k.region, RegistryID: k.registryID, Repository: k.name}
}
