// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// testAccLayerCacheDir points the provider's digest and upload records at a
// directory of the test run, never the user's own cache.
var testAccLayerCacheDir = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "ecr-layer-cache-")
	if err != nil {
		panic(err)
	}
	_ = os.Setenv(cacheDirEnv, dir)
	return dir
})

// testAccLayerFile writes size bytes of seeded random content to dir/name
// and returns its path and digest.
func testAccLayerFile(t *testing.T, dir, name string, size int, seed uint64) (string, string) {
	t.Helper()
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 1})
	_, _ = r.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, "sha256:" + hex.EncodeToString(sum[:])
}

// storedAs checks that the endpoint holds, under the digest the resource
// records, exactly the bytes of the file.
type storedAs struct {
	srv     *ecrlocal.Server
	address string
	file    string
}

func (c storedAs) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address != c.address {
			continue
		}
		digest, _ := r.AttributeValues["digest"].(string)
		repo, _ := r.AttributeValues["repository_name"].(string)
		region, _ := r.AttributeValues["region"].(string)
		blob, size, err := c.srv.Blob(region, "", repo, digest)
		if err != nil {
			resp.Error = fmt.Errorf("%s: %w", c.address, err)
			return
		}
		defer func() { _ = blob.Close() }()
		stored, err := io.ReadAll(blob)
		if err != nil {
			resp.Error = err
			return
		}
		want, err := os.ReadFile(c.file)
		if err != nil {
			resp.Error = err
			return
		}
		if int64(len(want)) != size || !bytes.Equal(stored, want) {
			resp.Error = fmt.Errorf("%s: the endpoint stores %d bytes under %s, the file has %d (equal: %v)",
				c.address, size, digest, len(want), bytes.Equal(stored, want))
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the state", c.address)
}

func testAccLayerConfig(srv *ecrlocal.Server, arguments string) string {
	return testAccProviderConfig(srv, "") + fmt.Sprintf(`
resource "ecr_layer" "test" {
  %s
}
`, arguments)
}

func TestAccLayer_basic(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.SetPartSize(5 << 20)
	dir := t.TempDir()
	file, digest := testAccLayerFile(t, dir, "layer.bin", 11<<20+17, 1) // three parts, the last short
	config := testAccLayerConfig(srv, fmt.Sprintf(`
  repository_name = "team/app"
  source          = %q`, file))
	var changed string
	idPattern := regexp.MustCompile(`^[0-9]{12}/team/app@sha256:[a-f0-9]{64}$`)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             iamCovers{srv, []string{"ecr_layer"}}.CheckDestroy,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_layer.test", plancheck.ResourceActionCreate),
					// Known at plan: the digest is the file's.
					plancheck.ExpectKnownValue("ecr_layer.test", tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
					plancheck.ExpectKnownValue("ecr_layer.test", tfjsonpath.New("id"), knownvalue.StringRegexp(idPattern)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("ecr_layer.test", tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
					statecheck.ExpectKnownValue("ecr_layer.test", tfjsonpath.New("size"), knownvalue.Int64Exact(11<<20+17)),
					statecheck.ExpectKnownValue("ecr_layer.test", tfjsonpath.New("region"), knownvalue.StringExact(testAccRegion)),
					statecheck.ExpectKnownValue("ecr_layer.test", tfjsonpath.New("id"), knownvalue.StringRegexp(idPattern)),
					statecheck.ExpectKnownValue("ecr_layer.test", tfjsonpath.New("upload_id_wo"), knownvalue.Null()),
					storedAs{srv, "ecr_layer.test", file},
				},
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				// Other content at the same path: an in-place update that
				// pushes the new blob, planned.
				PreConfig: func() { file, changed = testAccLayerFile(t, dir, "layer.bin", 6<<20, 2) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_layer.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("ecr_layer.test", tfjsonpath.New("digest"), lazyString{&changed}),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					storedAs{srv, "ecr_layer.test", file},
				},
			},
			{
				ResourceName:            "ecr_layer.test",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"source"},
			},
		},
	})
}

// lazyString is knownvalue.StringExact of a value set by an earlier step.
type lazyString struct{ want *string }

func (c lazyString) CheckValue(v any) error {
	if s, ok := v.(string); !ok || s != *c.want {
		return fmt.Errorf("expected %q, got %v", *c.want, v)
	}
	return nil
}

func (c lazyString) String() string { return *c.want }

// TestAccLayer_drift: a layer gone from ECR leaves the state at refresh, and
// the next apply pushes it again.
func TestAccLayer_drift(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	file, digest := testAccLayerFile(t, t.TempDir(), "layer.bin", 1<<20, 3)
	config := testAccLayerConfig(srv, fmt.Sprintf(`
  repository_name = "team/app"
  source          = %q`, file))
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{storedAs{srv, "ecr_layer.test", file}}},
			{
				PreConfig: func() {
					if !srv.DeleteLayer(testAccRegion, "", "team/app", digest) {
						t.Fatal("the endpoint did not have the layer")
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_layer.test", plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{storedAs{srv, "ecr_layer.test", file}},
			},
		},
	})
}

// TestAccLayer_writeOnlyUpload hands ecr_layer_upload's upload to the
// resource: the push completes exactly that upload, and starts none.
func TestAccLayer_writeOnlyUpload(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.SetPartSize(5 << 20)
	file, _ := testAccLayerFile(t, t.TempDir(), "layer.bin", 7<<20, 4)
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   writeOnlyVersions,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{testAccStep(resource.TestStep{
			Config: testAccProviderConfig(srv, "") + fmt.Sprintf(`
ephemeral "ecr_layer_upload" "test" {
  repository_name = "team/app"
}

resource "ecr_layer" "test" {
  repository_name = "team/app"
  source          = %q
  upload_id_wo    = ephemeral.ecr_layer_upload.test.upload_id
  part_size_wo    = ephemeral.ecr_layer_upload.test.part_size
}
`, file),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{noUploadIDs{srv}}},
			ConfigStateChecks: []statecheck.StateCheck{
				storedAs{srv, "ecr_layer.test", file},
				noUploadIDs{srv},
				requestsCheck{Server: srv, Check: handedInUploadCompleted},
			},
		})},
	})
}

// handedInUploadCompleted checks that the one completed upload was issued
// before the push began (by the ephemeral resource), and that every part and
// the completion went to it.
func handedInUploadCompleted(reqs []ecrlocal.Request) error {
	var completed []string
	for _, r := range reqs {
		if r.Operation == "CompleteLayerUpload" {
			id, _ := r.Input["uploadId"].(string)
			completed = append(completed, id)
		}
	}
	if len(completed) != 1 {
		return fmt.Errorf("%d uploads completed, want 1: %v", len(completed), completed)
	}
	id := completed[0]
	checked, issued := -1, -1
	for i, r := range reqs {
		switch r.Operation {
		case "BatchCheckLayerAvailability":
			if checked < 0 {
				checked = i
			}
		case "InitiateLayerUpload":
			if r.Output["uploadId"] == id {
				issued = i
			}
		case "UploadLayerPart":
			if r.Input["uploadId"] != id {
				return fmt.Errorf("a part went to upload %v, not %s", r.Input["uploadId"], id)
			}
		}
	}
	if issued < 0 || checked < 0 || issued > checked {
		return fmt.Errorf("upload %s was issued at request %d, the push's availability check was request %d: "+
			"the push did not use the upload handed in", id, issued, checked)
	}
	return nil
}

// TestAccLayer_alreadyPresent: a second resource with the same content in
// the same repository sends no byte.
func TestAccLayer_alreadyPresent(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	dir := t.TempDir()
	file, _ := testAccLayerFile(t, dir, "a.bin", 2<<20, 5)
	copyFile, _ := testAccLayerFile(t, dir, "b.bin", 2<<20, 5)
	first := fmt.Sprintf(`
resource "ecr_layer" "a" {
  repository_name = "team/app"
  source          = %q
}
`, file)
	var before int64
	var parts int
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: testAccProviderConfig(srv, "") + first},
			{
				PreConfig: func() { before, parts = srv.BytesReceived(), len(srv.RequestsFor("UploadLayerPart")) },
				Config: testAccProviderConfig(srv, "") + first + fmt.Sprintf(`
resource "ecr_layer" "b" {
  repository_name = "team/app"
  source          = %q
}
`, copyFile),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs("ecr_layer.a", tfjsonpath.New("id"), "ecr_layer.b", tfjsonpath.New("id"),
						compare.ValuesSame()),
					requestsCheck{Server: srv, Check: func([]ecrlocal.Request) error {
						if got := srv.BytesReceived(); got != before || len(srv.RequestsFor("UploadLayerPart")) != parts {
							return fmt.Errorf("the endpoint received %d more bytes for a layer it had", got-before)
						}
						return nil
					}},
				},
			},
		},
	})
}

// TestAccLayer_forEach pushes 20 layers at once, as a for_each over an
// image's layers does, and checks each one byte for byte. (count: the
// testing framework cannot shim for_each's string keys into its state.)
func TestAccLayer_forEach(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	dir := t.TempDir()
	const n = 20
	var checks []statecheck.StateCheck
	for i := range n {
		name := fmt.Sprintf("layer%02d.bin", i)
		file, _ := testAccLayerFile(t, dir, name, 256<<10+i*4099, uint64(100+i))
		checks = append(checks, storedAs{srv, fmt.Sprintf("ecr_layer.layers[%d]", i), file})
	}
	checks = append(checks, requestsCheck{Server: srv, Check: func([]ecrlocal.Request) error {
		if got := len(srv.Layers(testAccRegion, "", "team/app")); got != n {
			return fmt.Errorf("the repository has %d layers, want %d", got, n)
		}
		return nil
	}})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccProviderConfig(srv, "") + fmt.Sprintf(`
resource "ecr_layer" "layers" {
  count           = length(fileset(%q, "*.bin"))
  repository_name = "team/app"
  source          = "%s/${sort(fileset(%[1]q, "*.bin"))[count.index]}"
}
`, dir, dir),
			ConfigStateChecks: checks,
		}},
	})
}

// writeOnlyVersions gates tests of write-only arguments (Terraform 1.11+).
var writeOnlyVersions = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)}

// TestAccLayer_createTimeout: an endpoint that stops answering mid-push is
// cut off by timeouts.create, with a message that names the limit, long
// before the 60 s read timeout would end the attempt.
func TestAccLayer_createTimeout(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Kind: ecrlocal.FaultHang, Times: 1})
	file, _ := testAccLayerFile(t, t.TempDir(), "layer.bin", 1<<20, 5)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccLayerConfig(srv, fmt.Sprintf(`
  repository_name = "team/app"
  source          = %q
  timeouts {
    create = "2s"
  }`, file)),
			ExpectError: regexp.MustCompile(`(?s)Layer Push Timed Out.*create\s+timeout\s+\(2s\)`),
		}},
	})
}
