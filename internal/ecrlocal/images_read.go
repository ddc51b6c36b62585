// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
)

// digestPattern is what ECR accepts as an image digest in an image ID.
var digestPattern = regexp.MustCompile(`^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$`)

// imageRef is one ImageIdentifier of a request, and what it resolved to.
type imageRef struct {
	id                  map[string]any
	tag, digest         string
	failure, failureWhy string
}

// resolve finds the image an ImageIdentifier names, or says why not in
// BatchGetImage's and BatchDeleteImage's failure terms. The caller holds s.mu.
func (r *repository) resolve(item any) imageRef {
	id, _ := item.(map[string]any)
	ref := imageRef{id: map[string]any{}}
	ref.tag, _ = id["imageTag"].(string)
	ref.digest, _ = id["imageDigest"].(string)
	if ref.tag != "" {
		ref.id["imageTag"] = ref.tag
	}
	if ref.digest != "" {
		ref.id["imageDigest"] = ref.digest
	}
	fail := func(code, why string) imageRef {
		ref.failure, ref.failureWhy = code, why
		return ref
	}
	switch {
	case ref.tag == "" && ref.digest == "":
		return fail("MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null")
	case ref.digest != "" && !digestPattern.MatchString(ref.digest):
		return fail("InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '"+digestPattern.String()+"'")
	case ref.tag != "" && !tagPattern.MatchString(ref.tag):
		return fail("InvalidImageTag", "Invalid request parameters: image tag should satisfy the regex '"+tagPattern.String()+"'")
	}
	if ref.tag != "" {
		d, ok := r.tags[ref.tag]
		switch {
		case !ok:
			return fail("ImageNotFound", "Requested image not found")
		case ref.digest != "" && d != ref.digest:
			return fail("ImageTagDoesNotMatchDigest", "Invalid request parameters: image tag does not match digest")
		}
		ref.digest = d
	}
	if r.images[ref.digest] == nil {
		return fail("ImageNotFound", "Requested image not found")
	}
	return ref
}

func (r *repository) tagsOf(digest string) []string {
	var tags []string
	for tag, d := range r.tags {
		if d == digest {
			tags = append(tags, tag)
		}
	}
	sort.Strings(tags)
	return tags
}

// referencedBy lists the indexes in the repository that list digest.
func (r *repository) referencedBy(digest string) []string {
	var parents []string
	for d, img := range r.images {
		for _, child := range img.children {
			if child == digest {
				parents = append(parents, d)
			}
		}
	}
	sort.Strings(parents)
	return parents
}

func failure(ref imageRef) map[string]any {
	return map[string]any{"imageId": ref.id, "failureCode": ref.failure, "failureReason": ref.failureWhy}
}

func (s *Server) batchGetImage(c *call) (any, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, apiErr := s.repo(key)
	if apiErr != nil {
		return nil, apiErr
	}
	images, failures := []map[string]any{}, []map[string]any{}
	items, _ := c.input["imageIds"].([]any)
	for _, item := range items {
		ref := repo.resolve(item)
		if ref.failure != "" {
			failures = append(failures, failure(ref))
			continue
		}
		manifest, apiErr := s.readManifest(repo, ref.digest)
		if apiErr != nil {
			return nil, apiErr
		}
		ref.id["imageDigest"] = ref.digest
		images = append(images, map[string]any{"registryId": key.registryID, "repositoryName": key.name, "imageId": ref.id,
			"imageManifest": string(manifest), "imageManifestMediaType": repo.images[ref.digest].mediaType})
	}
	return map[string]any{"images": images, "failures": failures}, nil
}

func (s *Server) batchDeleteImage(c *call) (any, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, apiErr := s.repo(key)
	if apiErr != nil {
		return nil, apiErr
	}
	deleted, failures := []map[string]any{}, []map[string]any{}
	items, _ := c.input["imageIds"].([]any)
	for _, item := range items {
		ref := repo.resolve(item)
		if ref.failure != "" {
			failures = append(failures, failure(ref))
			continue
		}
		tags := []string{ref.tag}
		if ref.tag == "" { // by digest: the image goes with all its tags
			tags = repo.tagsOf(ref.digest)
		}
		lastTag := ref.tag == "" || len(repo.tagsOf(ref.digest)) == 1
		if parents := repo.referencedBy(ref.digest); lastTag && len(parents) > 0 {
			ref.failure, ref.failureWhy = "ImageReferencedByManifestList", fmt.Sprintf("Requested image referenced by manifest list: %v", parents)
			failures = append(failures, failure(ref))
			continue
		}
		if ref.tag != "" {
			delete(repo.tags, ref.tag)
			s.deleteIfUntagged(repo, ref.digest)
		} else {
			s.deleteImage(repo, ref.digest)
		}
		if len(tags) == 0 {
			deleted = append(deleted, map[string]any{"imageDigest": ref.digest})
		}
		for _, tag := range tags {
			deleted = append(deleted, map[string]any{"imageDigest": ref.digest, "imageTag": tag})
		}
	}
	return map[string]any{"imageIds": deleted, "failures": failures}, nil
}

func (s *Server) describeImages(c *call) (any, *apiError) {
	key := s.keyFor(c, c.str("repositoryName"))
	items, _ := c.input["imageIds"].([]any)
	if len(items) > 0 && c.input["maxResults"] != nil {
		return nil, newError("InvalidParameterException", "Invalid parameter: maxResults cannot be used with imageIds")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, apiErr := s.repo(key)
	if apiErr != nil {
		return nil, apiErr
	}
	var digests []string
	for _, item := range items {
		ref := repo.resolve(item)
		switch ref.failure {
		case "":
			digests = append(digests, ref.digest)
		case "ImageNotFound", "ImageTagDoesNotMatchDigest":
			return nil, newError("ImageNotFoundException", fmt.Sprintf(
				"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
				orNull(ref.id["imageDigest"]), orNull(ref.id["imageTag"]), key.name, key.registryID))
		default:
			return nil, newError("InvalidParameterException", ref.failureWhy)
		}
	}
	if len(items) == 0 {
		f, _ := c.input["filter"].(map[string]any)
		status, _ := f["tagStatus"].(string)
		digests = repo.listImages(status)
	}
	start, end, next, apiErr := page(c, len(digests), 100)
	if apiErr != nil {
		return nil, apiErr
	}
	details := make([]map[string]any, 0, end-start)
	for _, d := range digests[start:end] {
		details = append(details, repo.detail(d))
	}
	out := map[string]any{"imageDetails": details}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func orNull(v any) any {
	if v == nil {
		return "null"
	}
	return v
}

// listImages returns the digests of the images with a tag status (TAGGED,
// UNTAGGED, ANY or ""), oldest push first. The caller holds s.mu.
func (r *repository) listImages(tagStatus string) []string {
	var digests []string
	for d := range r.images {
		tagged := len(r.tagsOf(d)) > 0
		if (tagStatus == "TAGGED" && !tagged) || (tagStatus == "UNTAGGED" && tagged) {
			continue
		}
		digests = append(digests, d)
	}
	sort.Slice(digests, func(i, j int) bool {
		a, b := r.images[digests[i]], r.images[digests[j]]
		if !a.pushedAt.Equal(b.pushedAt) {
			return a.pushedAt.Before(b.pushedAt)
		}
		return a.digest < b.digest
	})
	return digests
}

func (r *repository) detail(digest string) map[string]any {
	img := r.images[digest]
	out := map[string]any{
		"registryId": r.key.registryID, "repositoryName": r.key.name, "imageDigest": digest,
		"imageSizeInBytes": img.size, "imagePushedAt": float64(img.pushedAt.UnixMilli()) / 1000,
		"imageManifestMediaType": img.mediaType, "imageStatus": "ACTIVE",
	}
	if tags := r.tagsOf(digest); len(tags) > 0 {
		out["imageTags"] = tags
	}
	if img.artifactMediaType != "" {
		out["artifactMediaType"] = img.artifactMediaType
	}
	if img.subject != "" { // a referrer: ECR names the manifest it refers to
		out["subjectManifestDigest"] = img.subject
	}
	return out
}

// page works out a page of n results from nextToken and maxResults
// (fallback when maxResults is absent).
func page(c *call, n, fallback int) (start, end int, next string, apiErr *apiError) {
	if token := c.str("nextToken"); token != "" {
		v, err := strconv.Atoi(token)
		if err != nil || v < 0 || v > n {
			return 0, 0, "", newError("InvalidParameterException", "Invalid parameter at 'nextToken': the token is not valid.")
		}
		start = v
	}
	limit := int(c.int64("maxResults"))
	if limit <= 0 {
		limit = fallback
	}
	end = min(n, start+limit)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}
