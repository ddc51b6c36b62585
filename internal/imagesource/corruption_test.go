// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// corruptionEndpoint is the local ECR endpoint, in process, with the
// repository team/app in eu-west-1, and an SDK client for it.
func corruptionEndpoint(t *testing.T) (*ecrlocal.Server, *ecr.Client) {
	t.Helper()
	const key, secret = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	srv, err := ecrlocal.Start("127.0.0.1:0", ecrlocal.Options{AccessKeyID: key, SecretAccessKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.CreateRepository("eu-west-1", "", "team/app")
	return srv, ecr.New(ecr.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
}
