// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

const concurrentRepositories = 48

// TestAccConcurrency_forEachUploadsStayInTheirRepositories opens
// ecr_layer_upload for 48 repositories at once, through plan and apply,
// against the signature-checking endpoint. Terraform opens them in parallel
// through one provider client, so any request or response shared between
// calls shows up here: a signature that no longer matches its body, a body
// that names another repository, an answer decoded from another call.
// Every open must succeed, and every upload ID that reaches configuration
// must have been issued for the repository it was opened for.
//
// Debug logging is on (the provider logs to a file): the defect this guards
// against, aws-sdk-go-base's logging middleware sharing pooled buffers between
// calls, only ran at debug level and below, which is where a plugin process
// that Terraform starts always logs.
func TestAccConcurrency_forEachUploadsStayInTheirRepositories(t *testing.T) {
	t.Setenv("TF_LOG", "DEBUG")
	t.Setenv("TF_LOG_PATH", filepath.Join(t.TempDir(), "provider.log"))
	srv := testAccEndpoint(t)
	for i := range concurrentRepositories {
		srv.CreateRepository(testAccRegion, "", concurrentRepository(i))
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config: testAccProviderConfig(srv, "") + fmt.Sprintf(`
ephemeral "ecr_layer_upload" "many" {
  for_each        = toset([for i in range(%d) : format("team/app-%%02d", i)])
  repository_name = each.key
}
`, concurrentRepositories) + testAccEchoConfig(`{ for repo, u in ephemeral.ecr_layer_upload.many : repo => u.upload_id }`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data"), knownvalue.MapSizeExact(concurrentRepositories)),
				uploadsInOwnRepository{srv},
				requestsCheck{Server: srv, Check: func(reqs []ecrlocal.Request) error {
					opened := 0
					for _, r := range reqs {
						if r.Operation != "InitiateLayerUpload" {
							continue
						}
						opened++
						if r.ErrorCode != "" {
							return fmt.Errorf("an InitiateLayerUpload for %v failed with %s", r.Input["repositoryName"], r.ErrorCode)
						}
					}
					if want := 2 * concurrentRepositories; opened < want {
						return fmt.Errorf("%d InitiateLayerUpload requests, want at least %d (plan and apply)", opened, want)
					}
					return nil
				}},
			},
		})},
	})
}

func concurrentRepository(i int) string { return fmt.Sprintf("team/app-%02d", i) }

// uploadsInOwnRepository checks that each upload ID in echo.test's map
// (repository name => upload ID) was issued, by the endpoint's own record,
// for that repository.
type uploadsInOwnRepository struct{ srv *ecrlocal.Server }

func (c uploadsInOwnRepository) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address != "echo.test" {
			continue
		}
		data, _ := r.AttributeValues["data"].(map[string]any)
		if len(data) == 0 {
			resp.Error = fmt.Errorf("echo.test holds no uploads")
			return
		}
		for repo, id := range data {
			owner, ok := c.srv.UploadOwner(fmt.Sprint(id))
			switch {
			case !ok:
				resp.Error = fmt.Errorf("%s got upload ID %v, which the endpoint never issued", repo, id)
				return
			case owner.Repository != repo:
				resp.Error = fmt.Errorf("%s got upload ID %v, which the endpoint issued for %s", repo, id, owner.Repository)
				return
			}
		}
		return
	}
	resp.Error = fmt.Errorf("echo.test is not in the state")
}

// TestAccCLI_forEachProvisionersGetTheirOwnUploads runs plan and apply as a
// user does (the provider binary started by the CLI, no TF_LOG), with a
// provisioner per repository writing down the upload ID it received. Each
// must be an ID the endpoint issued for that provisioner's repository.
func TestAccCLI_forEachProvisionersGetTheirOwnUploads(t *testing.T) {
	srv := testAccEndpoint(t)
	for i := range concurrentRepositories {
		srv.CreateRepository(testAccRegion, "", concurrentRepository(i))
	}
	received := t.TempDir()
	config := fmt.Sprintf(`
terraform {
  required_providers {
    ecr = { source = "ecrlabs/ecr" }
  }
}
%s
ephemeral "ecr_layer_upload" "many" {
  for_each        = toset([for i in range(%d) : format("team/app-%%02d", i)])
  repository_name = each.key
}

resource "terraform_data" "consumer" {
  for_each = toset([for i in range(%[2]d) : format("team/app-%%02d", i)])
  provisioner "local-exec" {
    command     = "printf %%s \"$UPLOAD_ID\" > \"$OUT\""
    environment = {
      UPLOAD_ID = ephemeral.ecr_layer_upload.many[each.key].upload_id
      OUT       = "%[3]s/${replace(each.key, "/", "_")}"
    }
  }
}
`, testAccProviderConfig(srv, ""), concurrentRepositories, received)
	dir := cliWorkdir(t, config)
	for _, args := range [][]string{{"plan", "-no-color"}, {"apply", "-auto-approve", "-no-color"}} {
		if out, err := cliCommandIn(t, dir, nil, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, out)
		}
	}
	for _, r := range srv.RequestsFor("InitiateLayerUpload") {
		if r.ErrorCode != "" {
			t.Errorf("InitiateLayerUpload for %v failed with %s", r.Input["repositoryName"], r.ErrorCode)
		}
	}
	for i := range concurrentRepositories {
		repo := concurrentRepository(i)
		id, err := os.ReadFile(filepath.Join(received, strings.ReplaceAll(repo, "/", "_")))
		if err != nil {
			t.Fatalf("the provisioner of %s wrote nothing: %v", repo, err)
		}
		if owner, _ := srv.UploadOwner(string(id)); owner.Repository != repo {
			t.Errorf("the provisioner of %s got upload ID %q, which the endpoint issued for %q", repo, id, owner.Repository)
		}
	}
}
