// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Tag mutability, as ECR has it: MUTABLE and IMMUTABLE, and since 2025 the
// *_WITH_EXCLUSION modes whose wildcard filters name the tags that behave
// the other way.
type tagMutability struct {
	mode    string
	filters []string // wildcard patterns ('*' matches any run of characters)
}

// tagPattern is what ECR accepts as a tag (the registry API's grammar; the
// model only bounds the length).
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]*$`)

// mutabilityFrom reads imageTagMutability and its exclusion filters from a
// CreateRepository or PutImageTagMutability request.
func mutabilityFrom(c *call) (tagMutability, *apiError) {
	m := tagMutability{mode: c.str("imageTagMutability")}
	if m.mode == "" {
		m.mode = "MUTABLE"
	}
	items, _ := c.input["imageTagMutabilityExclusionFilters"].([]any)
	for _, item := range items {
		f, _ := item.(map[string]any)
		filter, _ := f["filter"].(string)
		m.filters = append(m.filters, filter)
	}
	withExclusion := strings.HasSuffix(m.mode, "_WITH_EXCLUSION")
	switch {
	case withExclusion && len(m.filters) == 0:
		return m, newError("InvalidParameterException", fmt.Sprintf(
			"Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'must be set when imageTagMutability is %s'", m.mode))
	case !withExclusion && len(m.filters) > 0:
		return m, newError("InvalidParameterException", fmt.Sprintf(
			"Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'can only be set with an imageTagMutability of IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not %s'", m.mode))
	}
	return m, nil
}

// immutable reports whether a tag, once set, may not move to another image.
func (m tagMutability) immutable(tag string) bool {
	excluded := false
	for _, f := range m.filters {
		if ok, _ := path.Match(f, tag); ok { // tags hold no '/', so '*' spans the tag
			excluded = true
		}
	}
	switch m.mode {
	case "IMMUTABLE":
		return true
	case "IMMUTABLE_WITH_EXCLUSION":
		return !excluded
	case "MUTABLE_WITH_EXCLUSION":
		return excluded
	}
	return false
}

func (m tagMutability) describe(out map[string]any) {
	out["imageTagMutability"] = m.mode
	if len(m.filters) > 0 {
		filters := make([]map[string]any, 0, len(m.filters))
		for _, f := range m.filters {
			filters = append(filters, map[string]any{"filterType": "WILDCARD", "filter": f})
		}
		out["imageTagMutabilityExclusionFilters"] = filters
	}
}

func (s *Server) putImageTagMutability(c *call) (any, *apiError) {
	m, apiErr := mutabilityFrom(c)
	if apiErr != nil {
		return nil, apiErr
	}
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, apiErr := s.repo(key)
	if apiErr != nil {
		return nil, apiErr
	}
	repo.mutability = m
	out := map[string]any{"registryId": key.registryID, "repositoryName": key.name}
	m.describe(out)
	return out, nil
}

// SetTagMutability sets a repository's tag mutability directly, for tests
// ("MUTABLE", "IMMUTABLE", or a *_WITH_EXCLUSION mode with its wildcard
// filters). It reports whether the repository exists.
func (s *Server) SetTagMutability(region, registryID, repository, mode string, exclusionFilters ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repos[s.key(region, registryID, repository)]
	if repo == nil {
		return false
	}
	repo.mutability = tagMutability{mode: mode, filters: exclusionFilters}
	return true
}
