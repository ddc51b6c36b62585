// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// TestDeployArtifactChangedSincePlan: a file rewritten after the last plan
// stops the apply with the provider's own words before any request, and the
// state it returns is the one it had.
func TestDeployArtifactChangedSincePlan(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	file := filepath.Join(t.TempDir(), "sbom.json")
	writeFile(t, file, `{"v":1}`)
	r := &artifactResource{client: &client{region: testAccRegion, accountID: "123456789012", interrupted: context.Background(),
		ecr: ecr.New(ecr.Options{Region: testAccRegion, BaseEndpoint: aws.String(srv.URL()),
			Credentials: credentials.NewStaticCredentialsProvider(testAccAccessKey, testAccSecretKey, "")})}}
	plan := artifactResourceModel{ArtifactType: types.StringValue("application/json"), SubjectDigest: types.StringNull(),
		Annotations: types.MapNull(types.StringType), Tags: tagSet([]string{"v1"}), KeepRemotely: types.BoolValue(false)}
	plan.Files = types.ListValueMust(artifactFileType, []attr.Value{types.ObjectValueMust(artifactFileType.AttrTypes,
		map[string]attr.Value{"path": types.StringValue(file), "media_type": types.StringValue("application/json")})})
	plan.RepositoryName, plan.Region, plan.RegistryID = types.StringValue(testAccImageRepo), types.StringValue(testAccRegion), types.StringNull()
	built, diags := r.build(context.Background(), plan, false)
	if diags.HasError() || built == nil {
		t.Fatalf("build: %v", diags)
	}
	plan.Digest = types.StringValue(built.manifest.Digest)
	writeFile(t, file, `{"v":2, "rewritten": true}`)
	state := &artifactResourceModel{Digest: types.StringValue("sha256:" + strings.Repeat("a", 64)), Tags: tagSet([]string{"v1"}),
		KeepRemotely: types.BoolValue(false)}
	out, diags := r.deploy(context.Background(), plan, state, "update", 60e9)
	if !diags.HasError() || diags.Errors()[0].Summary() != "Artifact Changed Since Plan" ||
		!strings.Contains(diags.Errors()[0].Detail(), built.manifest.Digest) {
		t.Fatalf("diagnostics: %v", diags)
	}
	if out != state {
		t.Errorf("the state returned is not the one it had: %+v", out)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}
