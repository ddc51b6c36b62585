// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Choosing the image to push: by ref, by platform.

// matchesRef reports whether ref names the descriptor d.
func matchesRef(d v1.Descriptor, ref string) bool {
	if ref == d.Digest.String() || strings.TrimPrefix(ref, "@") == d.Digest.String() {
		return true
	}
	if d.Annotations[annotationRefName] == ref || d.Annotations[annotationContainerd] == ref {
		return true
	}
	if c := d.Annotations[annotationContainerd]; c != "" {
		return sameReference(c, ref)
	}
	return false
}

func refNames(d v1.Descriptor) []string {
	var names []string
	for _, a := range []string{annotationRefName, annotationContainerd} {
		if n := d.Annotations[a]; n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// distinctDigests returns the first descriptor of each digest in ds.
func distinctDigests(ds []v1.Descriptor) []v1.Descriptor {
	seen := make(map[v1.Hash]bool, len(ds))
	var out []v1.Descriptor
	for _, d := range ds {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			out = append(out, d)
		}
	}
	return out
}

func candidates(ds []v1.Descriptor) []Candidate {
	out := make([]Candidate, 0, len(ds))
	for _, d := range ds {
		out = append(out, Candidate{Names: refNames(d), Digest: d.Digest.String(), MediaType: string(d.MediaType), Platform: platformOf(d)})
	}
	return out
}

func platformOf(d v1.Descriptor) string {
	if d.Platform == nil {
		return ""
	}
	return d.Platform.String()
}

// isAttestation reports whether d is an attestation manifest (BuildKit's
// provenance and SBOM), never a platform to choose.
func isAttestation(d v1.Descriptor) bool {
	if _, ok := d.Annotations[annotationReferenceType]; ok {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

func allImagesWithPlatforms(ds []v1.Descriptor) bool {
	for _, d := range ds {
		if !d.MediaType.IsImage() || d.Platform == nil {
			return false
		}
	}
	return true
}

// choosePlatform picks the one image manifest of ds for the wanted platform,
// never an attestation.
func (p *planner) choosePlatform(ds []v1.Descriptor, from string) (v1.Descriptor, error) {
	var platforms []v1.Descriptor
	for _, d := range ds {
		if d.Platform != nil && !isAttestation(d) && (d.MediaType == "" || d.MediaType.IsImage()) {
			platforms = append(platforms, d)
		}
	}
	var exact []v1.Descriptor
	for _, d := range platforms {
		if platformMatches(*d.Platform, *p.want, true) {
			exact = append(exact, d)
		}
	}
	if len(exact) == 0 && p.want.Variant == "" {
		for _, d := range platforms {
			if platformMatches(*d.Platform, *p.want, false) {
				exact = append(exact, d)
			}
		}
	}
	switch len(exact) {
	case 1:
		return exact[0], nil
	case 0:
		return v1.Descriptor{}, &ChoiceError{Path: p.path,
			Problem: fmt.Sprintf("%s has no image for platform %s", from, p.opts.Platform),
			Hint:    "set platform to one it has", Candidates: candidates(platforms)}
	default:
		return v1.Descriptor{}, &ChoiceError{Path: p.path,
			Problem: fmt.Sprintf("%s has %d images for platform %s", from, len(exact), p.opts.Platform),
			Hint:    "set platform with a variant, or set ref to a digest", Candidates: candidates(exact)}
	}
}

// parsePlatform parses "os/arch[/variant]".
func parsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err == nil && (p.OS == "" || p.Architecture == "") {
		err = errors.New("it needs an OS and an architecture")
	}
	if err != nil {
		return nil, fmt.Errorf("platform %q is not of the form os/arch[/variant]: %w", s, err)
	}
	return p, nil
}

// normalize spells a platform as containerd does: architecture aliases
// folded, the default variant of arm64 (v8), arm (v7) and amd64 (v1) made
// explicit.
func normalize(p v1.Platform) v1.Platform {
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	}
	if p.Variant == "" {
		switch p.Architecture {
		case "arm64":
			p.Variant = "v8"
		case "arm":
			p.Variant = "v7"
		case "amd64":
			p.Variant = "v1"
		}
	}
	return p
}

// platformMatches reports whether have is the wanted platform. With
// variant false, only OS and architecture are compared.
func platformMatches(have, want v1.Platform, variant bool) bool {
	h, w := normalize(have), normalize(want)
	if h.OS != w.OS || h.Architecture != w.Architecture {
		return false
	}
	if want.OSVersion != "" && h.OSVersion != w.OSVersion {
		return false
	}
	return !variant || h.Variant == w.Variant
}
