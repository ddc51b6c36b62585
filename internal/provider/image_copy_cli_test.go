// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestAccCLI_forEachCopiesShareOneBaseLayer copies 16 images that share a
// 6 MiB base layer, as a for_each mirroring a vendor's images does: the
// base layer is fetched from the source once and sent to ECR once, and at
// most max_blobs_in_flight blobs are sent at once, however many copies run.
func TestAccCLI_forEachCopiesShareOneBaseLayer(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	srv.SetPartSize(5 << 20)
	src := newSourceRegistry(t, "", "")
	base := mustT(random.Layer(6<<20, types.OCILayer))
	baseDigest := mustT(base.Digest()).String()
	const images = 16
	var refs []string
	digests := map[string]string{}
	for i := range images {
		own := mustT(random.Layer(4096, types.OCILayer))
		img := mutate.MediaType(mustT(mutate.AppendLayers(empty.Image, base, own)), types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		name := fmt.Sprintf("tool%02d", i)
		digests[name] = src.push(t, "vendor/"+name, "1.0", img)
		refs = append(refs, fmt.Sprintf("    %s = %q", name, src.host+"/vendor/"+name+":1.0"))
	}
	before := src.count()
	config := cliConfigHead + testAccProviderConfig(srv, "max_blobs_in_flight = 3") + fmt.Sprintf(`
resource "ecr_image" "each" {
  for_each = {
%s
  }
  repository_name = %q
  source_image    = each.value
  tags            = [each.key]
}
`, strings.Join(refs, "\n"), testAccImageRepo)
	cli := newCLIRun(t, config)
	cli.must("apply", "-auto-approve", "-parallelism=16")
	gets, _ := src.blobGets(before)
	baseGets := 0
	for _, d := range gets {
		if d == baseDigest {
			baseGets++
		}
	}
	reqs := srv.Requests()
	uploads := 0
	for _, r := range reqs {
		if r.Operation == "InitiateLayerUpload" {
			uploads++
		}
	}
	// Each config and own layer, and the base layer once, are fetched and
	// sent: 33 blobs.
	if baseGets != 1 || len(gets) != 2*images+1 || uploads != 2*images+1 {
		t.Errorf("base layer fetched %d times (want 1), %d uploads (want %d); blob GETs: %d", baseGets, uploads,
			2*images+1, len(gets))
	}
	if most := uploadsAtOnce(reqs); most > 3 {
		t.Errorf("%d blobs were being sent at once; max_blobs_in_flight is 3", most)
	}
	tags := srv.ImageTags(testAccRegion, "", testAccImageRepo)
	for name, d := range digests {
		if tags[name] != d {
			t.Errorf("tag %s names %q, want %s", name, tags[name], d)
		}
	}
}
