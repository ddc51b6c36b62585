// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// TestAccLayerAvailabilityDataSource_basic asks about one pushed layer among
// 150 digests the repository does not have: two calls, answers in order.
func TestAccLayerAvailabilityDataSource_basic(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	file, digest := testAccLayerFile(t, t.TempDir(), "layer.bin", 64<<10, 7)
	var absent []string
	for i := range 150 {
		absent = append(absent, fmt.Sprintf("sha256:%064x", i+1))
	}
	missing := make([]knownvalue.Check, len(absent))
	for i, d := range absent {
		missing[i] = knownvalue.StringExact(d)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccProviderConfig(srv, "") + fmt.Sprintf(`
resource "ecr_layer" "test" {
  repository_name = "team/app"
  source          = %q
}

data "ecr_layer_availability" "test" {
  repository_name = "team/app"
  digests         = concat([%q], [ecr_layer.test.digest], [%s])
  depends_on      = [ecr_layer.test]
}
`, file, absent[0], `"`+strings.Join(absent[1:], `", "`)+`"`),
			ConfigStateChecks: []statecheck.StateCheck{
				iamCovers{srv, []string{"ecr_layer_availability", "ecr_layer"}},
				statecheck.ExpectKnownValue("data.ecr_layer_availability.test", tfjsonpath.New("available"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(digest)})),
				statecheck.ExpectKnownValue("data.ecr_layer_availability.test", tfjsonpath.New("missing"),
					knownvalue.ListExact(missing)),
				statecheck.ExpectKnownValue("data.ecr_layer_availability.test", tfjsonpath.New("status").AtMapKey(digest),
					knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("data.ecr_layer_availability.test", tfjsonpath.New("status").AtMapKey(absent[0]),
					knownvalue.Bool(false)),
				requestsCheck{Server: srv, Check: func(reqs []ecrlocal.Request) error {
					var sizes []int
					for _, r := range reqs {
						if r.Operation == "BatchCheckLayerAvailability" {
							d, _ := r.Input["layerDigests"].([]any)
							sizes = append(sizes, len(d))
						}
					}
					// The resource's own check (1), then the data source's 151 digests in 100 + 51.
					if len(sizes) < 3 || sizes[len(sizes)-2] != 100 || sizes[len(sizes)-1] != 51 {
						return fmt.Errorf("availability checks of %v digests, want ..., 100, 51", sizes)
					}
					return nil
				}},
			},
		}},
	})
}

// TestAccLayer_badInput: each mistake is refused at plan, naming what is
// wrong, before any request reaches ECR.
func TestAccLayer_badInput(t *testing.T) {
	testAccLayerCacheDir()
	dir := t.TempDir()
	file, _ := testAccLayerFile(t, dir, "layer.bin", 1024, 8)
	missingFile := dir + "/no-such-layer.tar.gz"
	good := "sha256:" + strings.Repeat("a", 64)
	cases := []struct {
		name   string
		config string
		want   string
	}{
		{"missing file", fmt.Sprintf(`
resource "ecr_layer" "test" {
  repository_name = "team/app"
  source          = %q
}`, missingFile), `The layer file "` + regexp.QuoteMeta(missingFile) + `"\s+does\s+not\s+exist`},
		{"directory", fmt.Sprintf(`
resource "ecr_layer" "test" {
  repository_name = "team/app"
  source          = %q
}`, dir), `"` + regexp.QuoteMeta(dir) + `"[\s\S]*is\s+not\s+a\s+regular\s+file\s+\(a\s+directory\)`},
		{"malformed digest", fmt.Sprintf(`
data "ecr_layer_availability" "test" {
  repository_name = "team/app"
  digests         = [%q, "sha256:ABC", %q]
}`, good, good), `Attribute digests\[1\] must be a digest of the form sha256:<64 lowercase hex digits>, got: sha256:ABC`},
		{"upload ID without part size", fmt.Sprintf(`
resource "ecr_layer" "test" {
  repository_name = "team/app"
  source          = %q
  upload_id_wo    = "0123abcd-0123-4567-89ab-0123456789ab"
}`, file), `Attribute "part_size_wo" must be specified when "upload_id_wo" is\s+specified`},
		{"part size below 5 MiB", fmt.Sprintf(`
resource "ecr_layer" "test" {
  repository_name = "team/app"
  source          = %q
  upload_id_wo    = "0123abcd-0123-4567-89ab-0123456789ab"
  part_size_wo    = 1048576
}`, file), `Attribute part_size_wo value must be between 5242880 and 20971520, got: 1048576`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", "team/app")
			resource.ParallelTest(t, resource.TestCase{
				TerraformVersionChecks:   writeOnlyVersions,
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      testAccProviderConfig(srv, "") + tc.config,
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(strings.ReplaceAll(tc.want, " ", `\s+`)), // the CLI wraps lines
				}},
			})
			for _, r := range srv.Requests() {
				if !strings.HasSuffix(r.Operation, "GetCallerIdentity") {
					t.Errorf("%s reached the endpoint", r.Operation)
				}
			}
		})
	}
}
