// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/acctest"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// testAccUploadWithProvider is one ecr_layer_upload echoed into state, under
// a provider block with the given extra arguments.
func testAccUploadWithProvider(srv *ecrlocal.Server, providerArgs string) string {
	return testAccProviderConfig(srv, providerArgs) + `
ephemeral "ecr_layer_upload" "test" {
  repository_name = "team/app"
}
` + testAccEchoConfig("ephemeral.ecr_layer_upload.test")
}

func TestAccReliability_faultsRetriedToSuccess(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	for _, f := range []ecrlocal.Fault{
		{Kind: ecrlocal.FaultDropConnection},
		{Kind: ecrlocal.FaultResetMidBody},
		{Code: "ServerException"},
		{Code: "ThrottlingException"},
		{Kind: ecrlocal.FaultTruncatedResponse},
		{Kind: ecrlocal.FaultLatency, Delay: 200 * time.Millisecond},
	} {
		srv.InjectFault("InitiateLayerUpload", f)
	}
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config:            testAccUploadWithProvider(srv, "max_retries = 6"),
			ConfigStateChecks: []statecheck.StateCheck{lastIssuedUpload{srv}},
		})},
	})
}

// TestAccReliability_adaptiveRetryMode shows a provider in adaptive mode gets
// past throttling. Standard mode would too: that the setting reaches the
// SDK's retryer is TestRetryModeReachesTheRetryer's job.
func TestAccReliability_adaptiveRetryMode(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Code: "ThrottlingException", Times: 3})
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config:            testAccUploadWithProvider(srv, "retry_mode = \"adaptive\"\nmax_retries = 4"),
			ConfigStateChecks: []statecheck.StateCheck{lastIssuedUpload{srv}},
		})},
	})
}

func TestAccReliability_retryBudgetSpent(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Code: "ServerException", Times: 100, Message: "the last AWS error"})
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccUploadWithProvider(srv, "max_retries = 2"),
			ExpectError: regexp.MustCompile(`(?s)Error: ECR Server Error.*InitiateLayerUpload\s+for\s+repository\s+"team/app".*` +
				`Operation: InitiateLayerUpload.*Attempts made: 3.*ServerException: the last AWS error`),
		}},
	})
}

func TestAccReliability_hungEndpointTimesOut(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Kind: ecrlocal.FaultHang, Times: 100})
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      testAccUploadWithProvider(srv, "read_timeout = \"1s\"\nmax_retries = 1"),
			ExpectError: regexp.MustCompile(`(?s)Error: Cannot Reach ECR.*Attempts made: 2.*timeout\s+awaiting\s+response\s+headers`),
		}},
	})
}

// TestAccReliability_TLS serves the endpoint over HTTPS with a CA of its own:
// verification is on by default, custom_ca_bundle trusts the CA, insecure
// turns verification off.
func TestAccReliability_TLS(t *testing.T) {
	srv, caPEM := acctest.TLSEndpoint(t, ecrlocal.Options{})
	srv.CreateRepository(testAccRegion, "", "team/app")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, step := range map[string]resource.TestStep{
		"verification is on by default (STS)": {
			Config:      testAccUploadWithProvider(srv, "max_retries = 0"),
			ExpectError: regexp.MustCompile(`(?s)Error: Cannot Reach STS.*certificate signed by unknown authority`),
		},
		"verification is on by default (ECR)": {
			Config:      testAccUploadWithProvider(srv, "max_retries = 0\nskip_credentials_validation = true"),
			ExpectError: regexp.MustCompile(`(?s)Error: ECR's TLS Certificate Is Not Trusted.*custom_ca_bundle`),
		},
		"custom_ca_bundle trusts the CA": testAccStep(resource.TestStep{
			Config:            testAccUploadWithProvider(srv, `custom_ca_bundle = "`+caFile+`"`),
			ConfigStateChecks: []statecheck.StateCheck{lastIssuedUpload{srv}},
		}),
		"insecure skips verification": testAccStep(resource.TestStep{
			Config:            testAccUploadWithProvider(srv, "insecure = true"),
			ConfigStateChecks: []statecheck.StateCheck{lastIssuedUpload{srv}},
		}),
	} {
		// Each case is a test of its own, so that echo.test is created anew.
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				TerraformVersionChecks:   ephemeralSupported,
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{step},
			})
		})
	}
}

// TestAccReliability_forEachStaysUnderQuota opens 300 uploads with for_each
// against an endpoint that enforces ECR's request quotas. The provider's
// pacing must keep every request under the quota: not one is throttled.
func TestAccReliability_forEachStaysUnderQuota(t *testing.T) {
	srv := acctest.Endpoint(t, ecrlocal.Options{Quotas: ecrpush.ServiceQuotas, Slack: 1.5})
	srv.CreateRepository(testAccRegion, "", "team/app")
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralSupported,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config: testAccProviderConfig(srv, "") + `
ephemeral "ecr_layer_upload" "many" {
  for_each        = toset([for i in range(300) : tostring(i)])
  repository_name = "team/app"
}
` + testAccEchoConfig(`{ for k, u in ephemeral.ecr_layer_upload.many : k => u.upload_id }`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data"), knownvalue.MapSizeExact(300)),
				requestsCheck{Server: srv, Check: func(reqs []ecrlocal.Request) error {
					opened, throttled := 0, 0
					for _, r := range reqs {
						if r.Operation != "InitiateLayerUpload" {
							continue
						}
						opened++
						if r.ErrorCode == "ThrottlingException" {
							throttled++
						}
					}
					t.Logf("%d InitiateLayerUpload requests, %d throttled", opened, throttled)
					if opened < 600 || throttled > 0 {
						return fmt.Errorf("%d requests (want 600: plan and apply), %d throttled (want 0)", opened, throttled)
					}
					return nil
				}},
			},
		})},
	})
}
