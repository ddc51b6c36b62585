// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// digestID is the id of ecr_layer and ecr_image: <registry>/<repository>@<digest>,
// the repository@digest form of image references with the account that names
// the registry.
func digestID(registryID, repository, digest string) string {
	return registryID + "/" + repository + "@" + digest
}

// parseDigestID splits an import ID: [[<region>/]<registry>/]<repository>@<digest>.
// region and registry are "" when not given. A repository whose first
// component is 12 digits needs the registry given, or it is read as one.
func parseDigestID(id string) (region, registry, repository, digest string, err error) {
	rest, digest, ok := strings.Cut(id, "@")
	if !ok {
		return "", "", "", "", errors.New("has no '@' before the digest")
	}
	if !layerDigestRegexp.MatchString(digest) {
		return "", "", "", "", fmt.Errorf("ends in %q, which is not a digest of the form sha256:<64 lowercase hex digits>", digest)
	}
	region, registry, repository, err = parseRepositoryPath(rest)
	return region, registry, repository, digest, err
}

// parseImageID is parseDigestID that also takes a tag in place of the
// digest: [[<region>/]<registry>/]<repository>:<tag>, as docker names an
// image. Exactly one of digest and tag is set.
func parseImageID(id string) (region, registry, repository, digest, tag string, err error) {
	if strings.Contains(id, "@") {
		region, registry, repository, digest, err = parseDigestID(id)
		return region, registry, repository, digest, "", err
	}
	colon := strings.LastIndex(id, ":")
	if colon < 0 || colon < strings.LastIndex(id, "/") {
		return "", "", "", "", "", errors.New("ends in neither '@<digest>' nor ':<tag>'")
	}
	tag = id[colon+1:]
	if err := ecrpush.ValidateImageTag(tag); err != nil {
		return "", "", "", "", "", fmt.Errorf("ends in tag %q, which %v", tag, err)
	}
	region, registry, repository, err = parseRepositoryPath(id[:colon])
	return region, registry, repository, "", tag, err
}

// parseRepositoryPath splits [[<region>/]<registry>/]<repository>.
func parseRepositoryPath(rest string) (region, registry, repository string, err error) {
	parts := strings.SplitN(rest, "/", 3)
	switch {
	case len(parts) == 3 && ecrpush.RegionRegexp.MatchString(parts[0]) && ecrpush.RegistryIDRegexp.MatchString(parts[1]):
		region, registry, repository = parts[0], parts[1], parts[2]
	case len(parts) >= 2 && ecrpush.RegistryIDRegexp.MatchString(parts[0]):
		registry, repository = parts[0], strings.TrimPrefix(rest, parts[0]+"/")
	default:
		repository = rest
	}
	if err := ecrpush.ValidateRepositoryName(repository); err != nil {
		return "", "", "", fmt.Errorf("names a repository that %v", err)
	}
	return region, registry, repository, nil
}
