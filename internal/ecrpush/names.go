// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

// Package ecrpush is the engine that pushes layers and images to Amazon ECR.
//
// It is plain Go over the AWS SDK, with no Terraform imports: the provider
// package adapts it to Terraform, and its tests run without Terraform.
package ecrpush

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

// The constraints below are the official ECR API model's (shapes
// RepositoryName, RegistryId, UploadId); a test checks them against it.
const (
	RepositoryNamePattern = `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
	RepositoryNameMinLen  = 2
	RepositoryNameMaxLen  = 256
	RegistryIDPattern     = `[0-9]{12}`
	UploadIDPattern       = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`

	// RegionPattern accepts every AWS region name form (us-east-1,
	// us-gov-west-1, eu-central-2, cn-north-1, il-central-1, ...). The model
	// has no region shape; this catches typos such as "eu-west" or "EU-WEST-1"
	// before any request is signed for a region that cannot exist.
	RegionPattern = `[a-z]{2}(-[a-z]+)+-[0-9]+`
)

// Anchored forms: the service matches a pattern against the whole value.
var (
	RepositoryNameRegexp = regexp.MustCompile(`^(?:` + RepositoryNamePattern + `)$`)
	RegistryIDRegexp     = regexp.MustCompile(`^(?:` + RegistryIDPattern + `)$`)
	UploadIDRegexp       = regexp.MustCompile(`^(?:` + UploadIDPattern + `)$`)
	RegionRegexp         = regexp.MustCompile(`^(?:` + RegionPattern + `)$`)
)

// ValidateRepositoryName checks a repository name as ECR does.
func ValidateRepositoryName(name string) error {
	n := utf8.RuneCountInString(name)
	if n < RepositoryNameMinLen || n > RepositoryNameMaxLen {
		return fmt.Errorf("must be %d to %d characters long, got %d", RepositoryNameMinLen, RepositoryNameMaxLen, n)
	}
	if !RepositoryNameRegexp.MatchString(name) {
		return fmt.Errorf("must be lowercase letters and digits, in path components separated by '/', "+
			"with single '.', '_', '__' or '-' runs between them (pattern %s), got %q", RepositoryNamePattern, name)
	}
	return nil
}

// ValidateRegistryID checks a registry ID (an AWS account ID).
func ValidateRegistryID(id string) error {
	if !RegistryIDRegexp.MatchString(id) {
		return fmt.Errorf("must be a 12-digit AWS account ID, got %q", id)
	}
	return nil
}

// ValidateRegion checks the form of an AWS region name.
func ValidateRegion(region string) error {
	if !RegionRegexp.MatchString(region) {
		return fmt.Errorf("must be an AWS region name such as eu-west-1, got %q", region)
	}
	return nil
}
