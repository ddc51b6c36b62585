// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"
)

// Repositories are regional, as in AWS: the key includes the region the
// request was signed for.
type repoKey struct {
	region, registryID, name string
}

type repository struct {
	key       repoKey
	seq       int64 // names its directory: repository names hold '/'
	createdAt time.Time
	layers    map[string]int64  // digest -> size in bytes; the bytes are on disk
	images    map[string]*image // by manifest digest; the manifests are on disk
	tags      map[string]string // tag -> manifest digest

	mutability tagMutability
}

// call is one validated request being served.
type call struct {
	region string
	// account is the caller's: its registry is the one addressed when the
	// request names none, as in AWS (an assumed role in another account
	// addresses that account's registry).
	account string
	input   map[string]any
}

func (c *call) str(name string) string {
	s, _ := c.input[name].(string)
	return s
}

func (c *call) int64(name string) int64 {
	n, _ := c.input[name].(json.Number)
	v, _ := n.Int64()
	return v
}

// blob returns a blob member's bytes and whether it was valid base64.
func (c *call) blob(name string) ([]byte, bool) {
	var text []byte
	switch v := c.input[name].(type) {
	case decodedBlob:
		return v, true // decodeRequest decoded it
	case blobText:
		text = v // decodeBody checked it
	case string:
		text = []byte(v)
	default:
		return nil, false
	}
	if !isBase64(text) {
		return nil, false
	}
	data := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := decodeBase64(data, text)
	return data[:n], err == nil
}

func (c *call) strings(name string) []string {
	items, _ := c.input[name].([]any)
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, _ := item.(string)
		out = append(out, s)
	}
	return out
}

// handlerFunc serves one validated ECR operation.
type handlerFunc func(*call) (any, *apiError)

// registry is the registry a request addresses: registryId when given, else
// the caller's own.
func (s *Server) registry(c *call) string {
	if id := c.str("registryId"); id != "" {
		return id
	}
	if c.account != "" {
		return c.account
	}
	return s.opts.AccountID
}

func (s *Server) keyFor(c *call, name string) repoKey {
	return repoKey{region: c.region, registryID: s.registry(c), name: name}
}

// CreateRepository adds a repository directly, for tests and the demo.
func (s *Server) CreateRepository(region, registryID, name string) {
	key := s.key(region, registryID, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos[key] == nil {
		s.repos[key] = s.newRepository(key)
	}
}

// newRepository makes an empty repository. The caller holds s.mu.
func (s *Server) newRepository(key repoKey) *repository {
	s.repoSeq++
	return &repository{key: key, seq: s.repoSeq, createdAt: s.now(), layers: map[string]int64{},
		images: map[string]*image{}, tags: map[string]string{}, mutability: tagMutability{mode: "MUTABLE"}}
}

// repo returns the addressed repository, or RepositoryNotFoundException. The
// caller holds s.mu.
func (s *Server) repo(key repoKey) (*repository, *apiError) {
	r := s.repos[key]
	if r == nil {
		return nil, newError("RepositoryNotFoundException", fmt.Sprintf(
			"The repository with name '%s' does not exist in the registry with id '%s'", key.name, key.registryID))
	}
	return r, nil
}

func (r *repository) describe() map[string]any {
	out := map[string]any{
		"repositoryArn":              fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", r.key.region, r.key.registryID, r.key.name),
		"registryId":                 r.key.registryID,
		"repositoryName":             r.key.name,
		"repositoryUri":              fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", r.key.registryID, r.key.region, r.key.name),
		"createdAt":                  float64(r.createdAt.UnixMilli()) / 1000,
		"imageScanningConfiguration": map[string]any{"scanOnPush": false},
		"encryptionConfiguration":    map[string]any{"encryptionType": "AES256"},
	}
	r.mutability.describe(out)
	return out
}

func (s *Server) createRepository(c *call) (any, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos[key] != nil {
		return nil, newError("RepositoryAlreadyExistsException", fmt.Sprintf(
			"The repository with name '%s' already exists in the registry with id '%s'", key.name, key.registryID))
	}
	mutability, apiErr := mutabilityFrom(c)
	if apiErr != nil {
		return nil, apiErr
	}
	r := s.newRepository(key)
	r.mutability = mutability
	s.repos[key] = r
	return map[string]any{"repository": r.describe()}, nil
}

func (s *Server) describeRepositories(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*repository
	if names := c.strings("repositoryNames"); len(names) > 0 {
		for _, name := range names {
			r, apiErr := s.repo(s.keyFor(c, name))
			if apiErr != nil {
				return nil, apiErr
			}
			found = append(found, r)
		}
	} else {
		for key, r := range s.repos {
			if key.region == c.region && key.registryID == s.registry(c) {
				found = append(found, r)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].key.name < found[j].key.name })
	}
	start := 0
	if token := c.str("nextToken"); token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(found) {
			return nil, newError("InvalidParameterException", "Invalid parameter at 'nextToken': the token is not valid.")
		}
		start = n
	}
	end := len(found)
	if limit := int(c.int64("maxResults")); limit > 0 && start+limit < end {
		end = start + limit
	}
	out := map[string]any{}
	repos := make([]map[string]any, 0, end-start)
	for _, r := range found[start:end] {
		repos = append(repos, r.describe())
	}
	out["repositories"] = repos
	if end < len(found) {
		out["nextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (s *Server) deleteRepository(c *call) (any, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	r, apiErr := s.repo(key)
	if apiErr == nil && len(r.images) > 0 && c.input["force"] != true {
		apiErr = newError("RepositoryNotEmptyException", fmt.Sprintf(
			"The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images",
			key.name, key.registryID))
	}
	if apiErr != nil {
		s.mu.Unlock()
		return nil, apiErr
	}
	delete(s.repos, key)
	var ended []*upload
	for id, u := range s.uploads {
		if u.repo == key {
			delete(s.uploads, id)
			ended = append(ended, u)
		}
	}
	if dir := s.repoDir(r); dir != "" {
		_ = os.RemoveAll(dir) // nothing can reach it any more; Close removes what is left
	}
	s.mu.Unlock()
	forgetUploads(ended)
	return map[string]any{"repository": r.describe()}, nil
}
