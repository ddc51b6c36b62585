// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
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

// TestAccCLI_copyTraceLogHasNoSecrets copies two images with TF_LOG=trace:
// one from a registry with source_username and source_password_wo (through
// a bearer-token exchange), one from another account's ECR registry with
// the token GetAuthorizationToken issued. Neither the password, nor a
// bearer token, nor the ECR token reaches the log, the plan or the state.
func TestAccCLI_copyTraceLogHasNoSecrets(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	srv.CreateRepository(testAccRegion, "", "team/agent")
	const otherAccount, password = "210987654321", "source-pa55word-that-must-not-be-logged"
	srv.CreateRepository("eu-central-1", otherAccount, "vendor/agent")
	pushExternallyTo(t, srv, ecrpush.Target{Repository: "vendor/agent", RegistryID: otherAccount, Region: "eu-central-1"},
		testAccRandomImage(t), "v7")
	src := newSourceRegistry(t, "robot", password)
	src.set(func(s *sourceRegistry) { s.bearer = true })
	src.push(t, "org/app", "1", testAccRandomImage(t))
	cli := newCLIRun(t, cliConfigHead+testAccProviderConfig(srv, "")+fmt.Sprintf(`
variable "password" {
  type      = string
  sensitive = true
}

resource "ecr_image" "private" {
  repository_name    = %q
  source_image       = %q
  source_username    = "robot"
  source_password_wo = var.password
}

resource "ecr_image" "other_account" {
  repository_name = "team/agent"
  source_image    = "%s.dkr.ecr.eu-central-1.amazonaws.com/vendor/agent:v7"
}
`, testAccImageRepo, src.host+"/org/app:1", otherAccount))
	logFile := filepath.Join(t.TempDir(), "trace.log")
	cmd := cliCommandIn(t, cli.dir, []string{"TF_LOG=trace", "TF_LOG_PATH=" + logFile, "TF_VAR_password=" + password},
		"apply", "-auto-approve", "-no-color")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	secrets := map[string]string{"source password": password}
	src.mu.Lock()
	for token := range src.tokens {
		secrets["bearer token "+token[:8]] = token
	}
	src.mu.Unlock()
	for _, tok := range srv.IssuedAuthorizationTokens() {
		secrets["ECR registry password for "+tok.RegistryID] = tok.Password
		secrets["ECR authorization token for "+tok.RegistryID] = tok.Token
	}
	if len(secrets) < 4 {
		t.Fatalf("only %d secrets to look for: the copies did not authenticate as planned", len(secrets))
	}
	files := map[string]string{"trace log": logFile, "state": filepath.Join(cli.dir, "terraform.tfstate")}
	for where, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if where == "trace log" && !strings.Contains(string(raw), "GetAuthorizationToken") {
			t.Fatalf("the log names no GetAuthorizationToken call; the check would prove little (%d bytes)", len(raw))
		}
		for what, secret := range secrets {
			if strings.Contains(string(raw), secret) {
				t.Errorf("the %s contains the %s", where, what)
			}
		}
	}
}
