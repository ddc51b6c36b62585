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

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

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

func testAccLayerConfig(srv *ecrlocal.Server, name, arguments string) string {
	return testAccProviderConfig(srv, "") + fmt.Sprintf(`
resource "ecr_layer" %q {
  %s
}
`, name, arguments)
}

func TestAccLayer_basic(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", "team/app")
	srv.SetPartSize(5 << 20)
	dir := t.TempDir()
	file, digest := testAccLayerFile(t, dir, "layer.bin", 11<<20+17, 1) // three parts, the last short
	config := testAccLayerConfig(srv, "test", fmt.Sprintf(`
  repository_name = "team/app"
  source          = %q`, file))
	var changed string
	idPattern := regexp.MustCompile(`^[0-9]{12}/team/app@sha256:[a-f0-9]{64}$`)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
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
				// Other content at the same path: a replacement, planned.
				PreConfig: func() { file, changed = testAccLayerFile(t, dir, "layer.bin", 6<<20, 2) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_layer.test", plancheck.ResourceActionReplace),
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
