// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

// iamActions is each type's minimum IAM policy: the ECR actions its calls
// need, one per ECR operation it makes (ECR names its IAM actions after its
// operations). The acceptance tests check that every ECR call a type makes is
// listed here, and a unit test that each type's page lists them.
var iamActions = map[string][]string{
	"ecr_layer_upload":       {"ecr:InitiateLayerUpload"},
	"ecr_layer_availability": {"ecr:BatchCheckLayerAvailability"},
	"ecr_image_referrers":    {"ecr:BatchGetImage"}, // ListImageReferrers has no action of its own (ECR_API.md)
	"ecr_layer": {"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
		"ecr:CompleteLayerUpload"},
	// ecr:DescribeRepositories only explains a tag an immutable repository
	// refused; without it the error is less specific, not fatal. A
	// source_image in ECR is read with a token (ecr:GetAuthorizationToken)
	// through the registry API, which ECR authorizes as ecr:BatchGetImage
	// and ecr:GetDownloadUrlForLayer on the source repository.
	"ecr_image": {"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
		"ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:BatchDeleteImage",
		"ecr:DescribeRepositories", "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer"},
	"ecr_artifact": {"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
		"ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:BatchDeleteImage",
		"ecr:DescribeRepositories"},
}
