// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// TestDeployImageChangedSincePlan: the image at source is not the one the
// plan was made for (rewritten after Terraform's last re-plan). The apply
// stops with the provider's own words before any request, and the state it
// returns is the one it had. Terraform's saved-plan check usually catches
// this first (TestAccCLI_savedPlanAfterSourceRewritten); this is the
// instant after it.
func TestDeployImageChangedSincePlan(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	source := filepath.Join(t.TempDir(), "layout")
	planned := writeLayout(t, source, testAccRandomImage(t))
	now := writeLayout(t, source, testAccRandomImage(t))
	r := &imageResource{client: &client{region: testAccRegion, accountID: "123456789012", interrupted: context.Background(),
		ecr: ecr.New(ecr.Options{Region: testAccRegion, BaseEndpoint: aws.String(srv.URL()),
			Credentials: credentials.NewStaticCredentialsProvider(testAccAccessKey, testAccSecretKey, "")})}}
	state := &imageResourceModel{ImageDigest: types.StringValue("sha256:" + strings.Repeat("a", 64)),
		Tags: tagSet([]string{"prod"}), KeepRemotely: types.BoolValue(false)}
	plan := imageResourceModel{Source: types.StringValue(source), ImageDigest: types.StringValue(planned),
		Tags: tagSet([]string{"prod"}), KeepRemotely: types.BoolValue(false)}
	plan.RepositoryName, plan.Region, plan.RegistryID = types.StringValue(testAccImageRepo), types.StringValue(testAccRegion), types.StringNull()
	out, diags := r.deployImage(context.Background(), deployRequest{plan: plan, state: state, operation: "update", limit: 60e9})
	if !diags.HasError() || diags.Errors()[0].Summary() != "Image Changed Since Plan" ||
		!strings.Contains(diags.Errors()[0].Detail(), now) || !strings.Contains(diags.Errors()[0].Detail(), planned) {
		t.Fatalf("diagnostics: %v", diags)
	}
	if out != state {
		t.Errorf("the state returned is not the one it had: %+v", out)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}

// TestEmptyBlobOfAnImageIsWordedForImages: the empty-blob error of a push
// is worded for the image, not with ecr_layer's "give a file with content".
func TestEmptyBlobOfAnImageIsWordedForImages(t *testing.T) {
	const empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	err := &ecrpush.BlobError{Name: "layer", Digest: empty, Err: &ecrpush.EmptyBlobError{Digest: empty}}
	summary, detail := explainImageFailure(errors.Join(err), "")
	if summary != "Image Has an Empty Blob" || strings.Contains(detail, "give a file") {
		t.Fatalf("%s: %s", summary, detail)
	}
}
