// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

var ephemeralSupported = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)}

func testAccLayerUploadConfig_basic(srv *ecrlocal.Server, arguments string) string {
	return testAccProviderConfig(srv, "") + fmt.Sprintf(`
ephemeral "ecr_layer_upload" "test" {
  %s
}
`, arguments) + testAccEchoConfig("ephemeral.ecr_layer_upload.test")
}

func TestAccLayerUploadEphemeral_basic(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.SetPartSize(6 << 20) // not ECR's default, so a hard-coded answer would fail
	data := tfjsonpath.New("data")
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config: testAccLayerUploadConfig_basic(srv, `repository_name = "team/app"`),
			ConfigStateChecks: []statecheck.StateCheck{
				iamCovers{srv, []string{"ecr_layer_upload"}},
				statecheck.ExpectKnownValue("echo.test", data.AtMapKey("upload_id"), knownvalue.StringRegexp(ecrpush.UploadIDRegexp)),
				statecheck.ExpectKnownValue("echo.test", data.AtMapKey("part_size"), knownvalue.Int64Exact(6<<20)),
				statecheck.ExpectKnownValue("echo.test", data.AtMapKey("repository_name"), knownvalue.StringExact("team/app")),
				statecheck.ExpectKnownValue("echo.test", data.AtMapKey("registry_id"), knownvalue.Null()),
				statecheck.ExpectKnownValue("echo.test", data.AtMapKey("region"), knownvalue.StringExact(testAccRegion)),
				lastIssuedUpload{srv},
			},
		})},
	})
}

func TestAccLayerUploadEphemeral_registryAndRegion(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository("us-west-2", "210987654321", "shared/base")
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config: testAccLayerUploadConfig_basic(srv, `
  repository_name = "shared/base"
  registry_id     = "210987654321"
  region          = "us-west-2"`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("region"), knownvalue.StringExact("us-west-2")),
				lastIssuedUpload{srv},
				requestsCheck{Server: srv, Check: func(reqs []ecrlocal.Request) error {
					for _, r := range reqs {
						if r.Operation == "InitiateLayerUpload" && (r.Region != "us-west-2" || r.Input["registryId"] != "210987654321") {
							return fmt.Errorf("InitiateLayerUpload reached region %s, registry %v", r.Region, r.Input["registryId"])
						}
					}
					return nil
				}},
			},
		})},
	})
}

// TestAccLayerUploadEphemeral_notPersisted feeds the results to a provisioner
// and to another ephemeral resource, and looks for every upload ID the
// endpoint issued in the plan and the state.
func TestAccLayerUploadEphemeral_notPersisted(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	never := noUploadIDs{srv}
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		ExternalProviders:        map[string]resource.ExternalProvider{},
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config: testAccProviderConfig(srv, "") + `
ephemeral "ecr_layer_upload" "first" {
  repository_name = "team/app"
}

# Another ephemeral resource that depends on the first one's results.
ephemeral "ecr_layer_upload" "second" {
  repository_name = ephemeral.ecr_layer_upload.first.part_size > 0 ? "team/app" : "never/used"
}

resource "terraform_data" "consumer" {
  input = "static"
  provisioner "local-exec" {
    command = "test -n \"$UPLOAD_ID\" && test \"$PART_SIZE\" -gt 0 && test \"$SECOND\" != \"$UPLOAD_ID\""
    environment = {
      UPLOAD_ID = ephemeral.ecr_layer_upload.first.upload_id
      PART_SIZE = ephemeral.ecr_layer_upload.first.part_size
      SECOND    = ephemeral.ecr_layer_upload.second.upload_id
    }
  }
}
`,
			ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{never}},
			ConfigStateChecks: []statecheck.StateCheck{never},
		})},
	})
	if n := len(issuedUploadIDs(srv)); n < 4 {
		t.Fatalf("want at least 4 uploads (two resources, opened at plan and at apply), got %d", n)
	}
}

func TestAccLayerUploadEphemeral_repositoryNotFound(t *testing.T) {
	srv := testAccEndpoint(t)
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config:      testAccLayerUploadConfig_basic(srv, `repository_name = "missing/repo"`),
			ExpectError: regexp.MustCompile(`(?s)ECR Repository Not Found.*"missing/repo".*registry\s+123456789012.*region\s+"eu-west-1"`),
		})},
	})
}

func TestAccLayerUploadEphemeral_accessDenied(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Code: "AccessDeniedException", Times: 10,
		Message: "User is not authorized to perform: ecr:InitiateLayerUpload"})
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config:      testAccLayerUploadConfig_basic(srv, `repository_name = "team/app"`),
			ExpectError: regexp.MustCompile(`(?s)Access Denied by ECR.*IAM\s+action\s+ecr:InitiateLayerUpload.*AWS request ID:`),
		})},
	})
}

func TestAccLayerUploadEphemeral_throttlingRetried(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Code: "ThrottlingException", Times: 2})
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config:            testAccLayerUploadConfig_basic(srv, `repository_name = "team/app"`),
			ConfigStateChecks: []statecheck.StateCheck{lastIssuedUpload{srv}},
		})},
	})
	throttled := 0
	for _, r := range srv.RequestsFor("InitiateLayerUpload") {
		if r.ErrorCode == "ThrottlingException" {
			throttled++
		}
	}
	if throttled != 2 {
		t.Fatalf("want the 2 throttled attempts to have reached the endpoint, got %d", throttled)
	}
}

func TestAccLayerUploadEphemeral_wrongCredentials(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	wrongSecret := strings.Replace(testAccProviderConfig(srv, "skip_credentials_validation = true"),
		testAccSecretKey, "not-the-right-secret", 1)
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      strings.Replace(testAccLayerUploadConfig_basic(srv, `repository_name = "team/app"`), testAccSecretKey, "not-the-right-secret", 1),
				ExpectError: regexp.MustCompile(`(?s)Invalid AWS Credentials.*STS GetCallerIdentity.*SignatureDoesNotMatch`),
			},
			{
				Config: wrongSecret + `
ephemeral "ecr_layer_upload" "test" {
  repository_name = "team/app"
}
` + testAccEchoConfig("ephemeral.ecr_layer_upload.test"),
				ExpectError: regexp.MustCompile(`(?s)Invalid AWS Credentials.*InvalidSignatureException`),
			},
		},
	})
}

// TestAccLayerUploadEphemeral_unknownAtPlan gives the resource a repository
// name that is unknown during plan, and sends its results to a write-only
// argument and a provisioner. The open must wait for apply, the write-only
// argument must get the upload ECR issued, and nothing may be stored.
func TestAccLayerUploadEphemeral_unknownAtPlan(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.SetPartSize(5 << 20)
	key := t.Name()
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"ecr":  testAccProtoV6ProviderFactories["ecr"],
			"sink": providerserver.NewProtocol6WithError(sinkProvider{}),
		},
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config: testAccProviderConfig(srv, "") + fmt.Sprintf(`
resource "terraform_data" "repository" {
  input = "team/app"
}

ephemeral "ecr_layer_upload" "test" {
  repository_name = terraform_data.repository.output
}

resource "sink_secret" "test" {
  key      = %q
  value_wo = "${ephemeral.ecr_layer_upload.test.upload_id}/${ephemeral.ecr_layer_upload.test.part_size}"
}

resource "terraform_data" "provisioned" {
  provisioner "local-exec" {
    command     = "test \"$PART_SIZE\" = 5242880"
    environment = { PART_SIZE = ephemeral.ecr_layer_upload.test.part_size }
  }
}
`, key),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				planCheckFunc(func(*tfjson.Plan) error {
					if n := len(srv.RequestsFor("InitiateLayerUpload")); n != 0 {
						return fmt.Errorf("the upload was opened during plan (%d requests) although its input was unknown", n)
					}
					return nil
				}),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("sink_secret.test", tfjsonpath.New("value_wo"), knownvalue.Null()),
				noUploadIDs{srv},
				// The sink recorded what its write-only argument received:
				// the one upload the endpoint issued, at apply.
				stateCheckFunc(func() error {
					got, _ := sinkReceived.Load(key)
					ids := issuedUploadIDs(srv)
					if len(ids) != 1 || got != ids[0]+"/5242880" {
						return fmt.Errorf("the write-only argument got %v; the endpoint issued %v", got, ids)
					}
					return nil
				}),
			},
		})},
	})
}
