// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ReferrersPage is the most referrers ECR answers in one ListImageReferrers
// call (maxResults 1 to 50); asking for the most keeps the calls fewest.
const ReferrersPage = 50

// ReferrersAPI is the part of the ECR client that lists referrers.
type ReferrersAPI interface {
	ListImageReferrers(ctx context.Context, in *ecr.ListImageReferrersInput, opts ...func(*ecr.Options)) (*ecr.ListImageReferrersOutput, error)
}

// Referrer is a manifest whose subject is another image: a signature, an
// SBOM, an attestation.
type Referrer struct {
	Digest       string
	ArtifactType string
	MediaType    string
	Size         int64
	Annotations  map[string]string
}

// ListReferrers lists the referrers of the image subjectDigest, those of
// artifactTypes only when any are given, page after page until ECR has no
// more. They are sorted by artifact type, then digest, so that the list is
// the same whatever order ECR answers in. A subject with none (or one the
// repository does not hold) is an empty list; a missing repository is an
// *OperationError (KindRepositoryNotFound).
func ListReferrers(ctx context.Context, api ReferrersAPI, target Target, subjectDigest string, artifactTypes []string) ([]Referrer, error) {
	if err := target.Validate(); err != nil {
		return nil, err
	}
	in := &ecr.ListImageReferrersInput{
		RepositoryName: aws.String(target.Repository), RegistryId: target.registryID(),
		SubjectId:  &types.SubjectIdentifier{ImageDigest: aws.String(subjectDigest)},
		MaxResults: aws.Int32(ReferrersPage),
	}
	if len(artifactTypes) > 0 {
		in.Filter = &types.ListImageReferrersFilter{ArtifactTypes: artifactTypes}
	}
	out := []Referrer{}
	seen := map[string]bool{}
	for {
		page, err := api.ListImageReferrers(ctx, in, target.options)
		if err != nil {
			// ECR authorizes ListImageReferrers as ecr:BatchGetImage
			// (ECR_API.md): there is no ecr:ListImageReferrers action.
			return nil, &OperationError{Operation: "ListImageReferrers", Action: "ecr:BatchGetImage", Target: target,
				Err: err, Canceled: ctx.Err() != nil}
		}
		for _, r := range page.Referrers {
			out = append(out, Referrer{Digest: aws.ToString(r.Digest), ArtifactType: aws.ToString(r.ArtifactType),
				MediaType: aws.ToString(r.MediaType), Size: aws.ToInt64(r.Size), Annotations: maps.Clone(r.Annotations)})
		}
		next := aws.ToString(page.NextToken)
		if next == "" {
			break
		}
		// A token answered twice would page forever.
		if seen[next] {
			return nil, fmt.Errorf("ListImageReferrers on repository %q answered nextToken %q twice", target.Repository, next)
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
	slices.SortStableFunc(out, func(a, b Referrer) int {
		return cmp.Or(strings.Compare(a.ArtifactType, b.ArtifactType), strings.Compare(a.Digest, b.Digest))
	})
	return out, nil
}
