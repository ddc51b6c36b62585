// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// TestAccCLI_forEachImagesShareOneBaseLayer: a for_each of 24 images that share
// a base layer of two parts, each with a layer of its own, applied at once
// (-parallelism=24). The base layer is uploaded
// once, every image lands with its tag, and the endpoint never has more
// blobs being sent at once than max_blobs_in_flight.
func TestAccCLI_forEachImagesShareOneBaseLayer(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	srv.SetPartSize(5 << 20)
	dir := t.TempDir()
	base := mustT(random.Layer(6<<20, types.OCILayer))
	baseDigest := mustT(base.Digest()).String()
	const images = 24
	var sources []string
	digests := map[string]string{}
	for i := range images {
		own := mustT(random.Layer(4096, types.OCILayer))
		img := mutate.MediaType(mustT(mutate.AppendLayers(empty.Image, base, own)), types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		name := fmt.Sprintf("img%02d", i)
		p := filepath.Join(dir, name)
		digests[name] = writeLayout(t, p, img)
		sources = append(sources, fmt.Sprintf("    %s = %q", name, p))
	}
	config := cliConfigHead + testAccProviderConfig(srv, "max_blobs_in_flight = 3") + fmt.Sprintf(`
resource "ecr_image" "each" {
  for_each = {
%s
  }
  repository_name = %q
  source          = each.value
  tags            = [each.key]
}
`, strings.Join(sources, "\n"), testAccImageRepo)
	// terraform-plugin-testing's state shim refuses for_each, so the CLI
	// runs as a user runs it.
	cli := newCLIRun(t, config)
	cli.must("apply", "-auto-approve", "-parallelism=24")
	reqs := srv.Requests()
	uploads, baseCompletions := 0, 0
	for _, r := range reqs {
		switch r.Operation {
		case "InitiateLayerUpload":
			uploads++
		case "CompleteLayerUpload":
			if fmt.Sprint(r.Input["layerDigests"]) == "["+baseDigest+"]" {
				baseCompletions++
			}
		}
	}
	// 24 configs, 24 own layers, one base layer.
	if uploads != 2*images+1 || baseCompletions != 1 {
		t.Errorf("%d uploads (want %d), base layer completed %d times (want 1)", uploads, 2*images+1, baseCompletions)
	}
	if most := uploadsAtOnce(reqs); most > 3 || most < 2 {
		t.Errorf("%d blobs were being sent at once; max_blobs_in_flight is 3", most)
	}
	tags := srv.ImageTags(testAccRegion, "", testAccImageRepo)
	for name, d := range digests {
		if tags[name] != d {
			t.Errorf("tag %s names %q, want %s", name, tags[name], d)
		}
	}
}

// uploadsAtOnce is the most uploads open at one time: each from its
// InitiateLayerUpload's arrival to its CompleteLayerUpload's. The engine
// holds a scheduler slot for at least that span.
func uploadsAtOnce(reqs []ecrlocal.Request) int {
	type event struct {
		at    time.Time
		delta int
	}
	var events []event
	for _, r := range reqs {
		switch r.Operation {
		case "InitiateLayerUpload":
			if r.ErrorCode == "" {
				events = append(events, event{r.Received, +1})
			}
		case "CompleteLayerUpload":
			events = append(events, event{r.Received, -1})
		}
	}
	slices.SortStableFunc(events, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	open, most := 0, 0
	for _, e := range events {
		open += e.delta
		most = max(most, open)
	}
	return most
}
