// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// TestAccEnvironment_badVariables sets AWS environment variables to values
// the SDK refuses. Each must be reported as that variable's problem, quoted,
// not as a credentials or network problem. Not parallel: it sets the
// process's environment.
func TestAccEnvironment_badVariables(t *testing.T) {
	for _, c := range []struct{ name, value, summary, detail string }{
		{"AWS_RETRY_MODE", "sometimes ", "Invalid AWS_RETRY_MODE", `AWS_RETRY_MODE is "sometimes "`},
		{"AWS_MAX_ATTEMPTS", "lots", "Invalid AWS_MAX_ATTEMPTS", `AWS_MAX_ATTEMPTS is "lots"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.name, c.value)
			srv := testAccEndpoint(t)
			resource.Test(t, resource.TestCase{
				TerraformVersionChecks:   ephemeralSupported,
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      testAccProviderConfig(srv, "") + "\nephemeral \"ecr_layer_upload\" \"test\" {\n  repository_name = \"team/app\"\n}\n",
					ExpectError: regexp.MustCompile(`(?s)Error: ` + regexp.QuoteMeta(c.summary) + `.*` + spaced(regexp.QuoteMeta(c.detail))),
				}},
			})
			if n := len(srv.Requests()); n > 0 {
				t.Errorf("%d requests reached the endpoint", n)
			}
		})
	}
}

// TestAccEnvironment_skippedValidationMakesNoSTSCall points STS at an
// endpoint of its own with skip_credentials_validation set: where STS is
// unreachable the plan must not wait on it, so it must not be called at all.
func TestAccEnvironment_skippedValidationMakesNoSTSCall(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	sts := testAccEndpoint(t)
	config := `
provider "ecr" {
  region     = "` + testAccRegion + `"
  access_key = "` + testAccAccessKey + `"
  secret_key = "` + testAccSecretKey + `"
  skip_credentials_validation = true
  endpoints {
    ecr = "` + srv.URL() + `"
    sts = "` + sts.URL() + `"
  }
}

ephemeral "ecr_layer_upload" "test" {
  repository_name = "team/app"
}
` + testAccEchoConfig("ephemeral.ecr_layer_upload.test")
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("upload_id"), knownvalue.NotNull()),
				requestsCheck{Server: sts, Check: func(reqs []ecrlocal.Request) error {
					if len(reqs) > 0 {
						return fmt.Errorf("STS received %d requests (first: %s); want none", len(reqs), reqs[0].Operation)
					}
					return nil
				}},
			},
		})},
	})
}
