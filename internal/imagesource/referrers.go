// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// OCI 1.1 referrers: SBOMs, signatures and attestations whose subject is a
// manifest pushed travel with the image, after it, so that tools that look
// them up by subject (cosign verify, oras discover) find them in ECR too.

// ReferrerFilter chooses which referrers travel with the image. The zero
// value takes all.
type ReferrerFilter struct {
	// None takes none.
	None bool
	// ArtifactTypes, when not empty, takes only referrers of these artifact
	// types, at every level: a signature of an SBOM travels only if its own
	// type is listed too, and a referrer of a referrer left out is left out
	// (its subject would not be in ECR).
	ArtifactTypes []string
}

func (f ReferrerFilter) takes(artifactType string) bool {
	return !f.None && (len(f.ArtifactTypes) == 0 || slices.Contains(f.ArtifactTypes, artifactType))
}

const (
	// maxReferrerDepth bounds chains of referrers (a signature of an SBOM
	// of an image is two deep): tools make chains of two or three.
	maxReferrerDepth = 8
	// maxReferrers bounds the referrers listed in all, each a manifest
	// read: a registry could list any number.
	maxReferrers = 1000

	// emptyConfigDigest is the OCI empty descriptor's digest: the config
	// "{}" of artifacts that have none, often left out of layouts because
	// the descriptor may carry it as data.
	emptyConfigDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	emptyConfig       = "{}"
)

// referrerFields reads what a manifest says of itself as a referrer: its
// subject's digest ("" when it has none) and its artifact type (its
// artifactType field, else its config's media type).
func referrerFields(raw []byte) (subject, artifactType string) {
	var doc struct {
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
		ArtifactType string `json:"artifactType"`
		Config       *struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return "", ""
	}
	if doc.Subject != nil {
		subject = doc.Subject.Digest
	}
	artifactType = doc.ArtifactType
	if artifactType == "" && doc.Config != nil {
		artifactType = doc.Config.MediaType
	}
	return subject, artifactType
}

// takeReferrers adds to the plan the referrers list gives of each manifest
// planned, then theirs, level by level, so that each comes after its
// subject. list returns the referrers of a subject digest as descriptors,
// in the order to push them.
func (p *planner) takeReferrers(list func(subject string) ([]v1.Descriptor, error)) error {
	if p.opts.Referrers.None {
		return nil
	}
	frontier := make([]string, 0, len(p.manifests))
	for _, m := range p.manifests {
		frontier = append(frontier, m.Digest)
	}
	listed := 0
	for depth := 1; len(frontier) > 0; depth++ {
		var next []string
		for _, subject := range frontier {
			ds, err := list(subject)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if p.seenManifests[d.Digest.String()] {
					continue
				}
				if listed++; listed > maxReferrers {
					return &UnsupportedError{Path: p.path, What: fmt.Sprintf(
						"the image has more than %d referrers; set the referrer filter to the artifact types to push", maxReferrers)}
				}
				took, err := p.takeReferrer(d, subject)
				if err != nil {
					return err
				}
				if !took {
					continue
				}
				if depth > maxReferrerDepth {
					return &UnsupportedError{Path: p.path, What: fmt.Sprintf(
						"the referrer %s is more than %d referrers deep (a referrer of a referrer of ...); no tool chains them so", d.Digest, maxReferrerDepth)}
				}
				next = append(next, d.Digest.String())
			}
		}
		frontier = next
	}
	return nil
}

// takeReferrer adds the referrer d of subject to the plan, with its blobs,
// unless it is not an image manifest, does not name subject (a listing is
// only a hint: a registry's fallback tag may be stale) or the filter leaves
// it out. The filter looks at the manifest itself, not at the listing's
// artifactType: registries fill that in differently (some with the
// config's media type even where the manifest has an artifactType).
func (p *planner) takeReferrer(d v1.Descriptor, subject string) (bool, error) {
	if d.MediaType != "" && !d.MediaType.IsImage() {
		return false, nil // an index as referrer: rare, and not supported here
	}
	raw, mt, err := p.readManifest(d, "referrer manifest")
	if err != nil {
		return false, err
	}
	if !mt.IsImage() {
		return false, nil
	}
	subj, artifactType := referrerFields(raw)
	if subj != subject || !p.opts.Referrers.takes(artifactType) {
		return false, nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return false, fmt.Errorf("%s: %w", p.where(blobName(d.Digest)), err)
	}
	if err := p.addManifestBlobs(m); err != nil {
		return false, err
	}
	p.seenManifests[d.Digest.String()] = true
	p.referrers = append(p.referrers, Manifest{Digest: d.Digest.String(), MediaType: string(mt), Raw: raw,
		Subject: subject, ArtifactType: artifactType})
	return true, nil
}

// layoutReferrers sorts index.json's entries into referrers, by subject
// digest, and the images to choose from. A referrer is an entry whose
// manifest names a subject the layout holds: what oras, cosign save and
// regctl write beside an image. An entry whose subject the layout lacks is
// an image to choose (an artifact pushed on its own), and so is one whose
// manifest cannot be read: choosing it reports why.
func (p *planner) layoutReferrers(entries []v1.Descriptor) (map[string][]v1.Descriptor, []v1.Descriptor) {
	bySubject := map[string][]v1.Descriptor{}
	isReferrer := map[v1.Hash]bool{}
	var images []v1.Descriptor
	for _, d := range entries {
		ref, known := isReferrer[d.Digest]
		if !known {
			ref = p.layoutSubject(d, bySubject)
			isReferrer[d.Digest] = ref
		}
		if !ref {
			images = append(images, d)
		}
	}
	return bySubject, images
}

// layoutSubject reports whether the entry d is a referrer and if so lists
// it under its subject.
func (p *planner) layoutSubject(d v1.Descriptor, bySubject map[string][]v1.Descriptor) bool {
	if !d.MediaType.IsImage() && d.MediaType != "" {
		return false
	}
	raw, _, err := p.readManifest(d, "")
	if err != nil {
		return false
	}
	subject, _ := referrerFields(raw)
	h, err := v1.NewHash(subject)
	if err != nil {
		return false
	}
	if held, err := exists(p.store, blobName(h)); err != nil || !held {
		return false
	}
	bySubject[subject] = append(bySubject[subject], d)
	return true
}
