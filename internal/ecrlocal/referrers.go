// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"fmt"
	"regexp"
	"slices"
)

// OCI 1.1 referrers: a manifest (signature, SBOM, attestation) whose subject
// descriptor names another manifest. PutImage records the subject;
// ListImageReferrers and the registry's /v2/<name>/referrers/<digest> list
// the manifests that name a digest.
//
// Deleting a subject leaves its referrers in place, still listed by the
// subject's digest. ECR_API.md documents only that lifecycle rules delete
// referrers with their subject, and this endpoint has no lifecycle rules;
// BatchDeleteImage removing images the caller did not name would surprise a
// provider that deletes a subject and then its referrers by digest.

// emptyDescriptorType is the config media type of an OCI 1.1 artifact with
// no config of its own. Its blob ("{}") is checked like any other config:
// it must have been uploaded, as a registry API push uploads it too.
const emptyDescriptorType = "application/vnd.oci.empty.v1+json"

// mediaTypePattern is RFC 6838's type/subtype, the form the OCI image spec
// gives descriptors' mediaType and manifests' artifactType (127 characters
// each side, which keeps artifactType within the model's 255).
var mediaTypePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

// subjectDoc is a manifest's subject descriptor. Size is a pointer so that a
// descriptor without one is told apart from size 0.
type subjectDoc struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      *int64 `json:"size"`
}

// readReferrerFields takes a manifest's subject, artifactType and
// annotations. Docker schema 2 defines none of them, so only OCI manifests
// and indexes are read, as the distribution reference registry does.
//
// A subject the repository does not hold (yet) is accepted: the OCI
// distribution spec lets a registry take a referrer before its subject, so
// that signatures can be pushed in any order, and what ECR_API.md documents
// of ECR adds no check. The subject must still be a descriptor: a media
// type, a sha256 digest (the only algorithm ECR stores manifests under) and
// a size.
func (img *image) readReferrerFields(doc *manifestDoc) *apiError {
	if img.mediaType != ociManifest && img.mediaType != ociIndex {
		return nil
	}
	if doc.ArtifactType != "" && !mediaTypePattern.MatchString(doc.ArtifactType) {
		return invalidManifest(fmt.Sprintf("artifactType %q is not a media type", doc.ArtifactType))
	}
	img.artifactType, img.annotations = doc.ArtifactType, doc.Annotations
	if img.artifactType == "" && doc.Config != nil { // the OCI rule for a referrer's artifactType
		img.artifactType = doc.Config.MediaType
	}
	if doc.Subject == nil {
		return nil
	}
	switch sub := doc.Subject; {
	case !mediaTypePattern.MatchString(sub.MediaType):
		return invalidManifest(fmt.Sprintf("the subject's mediaType %q is not a media type", sub.MediaType))
	case !isDigest(sub.Digest):
		return invalidManifest(fmt.Sprintf("the subject's digest %q is not a sha256 digest", sub.Digest))
	case sub.Size == nil || *sub.Size <= 0:
		return invalidManifest("the subject descriptor needs the size of the manifest it names")
	}
	img.subject = doc.Subject.Digest
	return nil
}

// referrerDescriptor is a referrer as the registry's referrers index lists it.
type referrerDescriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// referrers lists the manifests whose subject is digest, oldest push first,
// keeping those of the artifact types given (all when none are). The caller
// holds s.mu.
func (r *repository) referrers(digest string, artifactTypes []string) []referrerDescriptor {
	out := []referrerDescriptor{}
	for _, d := range r.listImages("ANY") {
		img := r.images[d]
		if img.subject != digest || (len(artifactTypes) > 0 && !slices.Contains(artifactTypes, img.artifactType)) {
			continue
		}
		out = append(out, referrerDescriptor{MediaType: img.mediaType, Digest: img.digest, Size: img.manifestSize,
			ArtifactType: img.artifactType, Annotations: img.annotations})
	}
	return out
}

// listImageReferrers needs ecr:BatchGetImage in AWS. This endpoint has no
// IAM policies: as for BatchGetImage, any signed caller reads the registry
// it addresses.
func (s *Server) listImageReferrers(c *call) (any, *apiError) {
	subject, _ := c.input["subjectId"].(map[string]any)
	digest, _ := subject["imageDigest"].(string)
	// The model gives ImageDigest no pattern; ECR checks digests against
	// this one wherever it takes an image ID.
	if !digestPattern.MatchString(digest) {
		return nil, newError("InvalidParameterException", fmt.Sprintf(
			"Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: '%s' must satisfy regular expression '%s'", digest, digestPattern))
	}
	filter, _ := c.input["filter"].(map[string]any)
	status, _ := filter["artifactStatus"].(string)
	var artifactTypes []string
	items, _ := filter["artifactTypes"].([]any)
	for _, item := range items {
		t, _ := item.(string)
		artifactTypes = append(artifactTypes, t)
	}
	key := s.keyFor(c, c.str("repositoryName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, apiErr := s.repo(key)
	if apiErr != nil {
		return nil, apiErr
	}
	found := repo.referrers(digest, artifactTypes)
	if status == "ARCHIVED" || status == "ACTIVATING" {
		found = nil // nothing is archived here: every image is ACTIVE
	}
	start, end, next, apiErr := page(c, len(found), 50)
	if apiErr != nil {
		return nil, apiErr
	}
	list := make([]map[string]any, 0, end-start)
	for _, d := range found[start:end] {
		ref := map[string]any{"digest": d.Digest, "mediaType": d.MediaType, "size": d.Size, "artifactStatus": "ACTIVE"}
		if d.ArtifactType != "" {
			ref["artifactType"] = d.ArtifactType
		}
		if len(d.Annotations) > 0 {
			ref["annotations"] = d.Annotations
		}
		list = append(list, ref)
	}
	out := map[string]any{"referrers": list}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}
