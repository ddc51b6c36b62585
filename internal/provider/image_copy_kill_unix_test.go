// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build unix

package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// TestAccCLI_copyKilledMidStreamResumes kills terraform and the provider
// (SIGKILL, the process group) while a copied layer's second part is in
// flight; the next apply goes on from the byte ECR holds, asking the source
// for the rest with a range request, and sends no byte twice.
func TestAccCLI_copyKilledMidStreamResumes(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	srv.SetPartSize(5 << 20)
	src := newSourceRegistry(t, "", "")
	layer := mustT(random.Layer(16<<20, "application/vnd.oci.image.layer.v1.tar"))
	img := mustT(mutate.AppendLayers(mustT(random.Image(0, 0)), layer))
	digest := src.push(t, "big/tool", "1", img)
	// ECR has the config already: the layer is the only blob sent, so its
	// second part is the second UploadLayerPart.
	raw := mustT(img.RawConfigFile())
	if _, err := (&ecrpush.Pusher{API: testAccECRClient(srv)}).Push(context.Background(),
		ecrpush.Target{Repository: testAccImageRepo, Region: testAccRegion},
		[]ecrpush.Blob{{Name: "config", Digest: mustT(img.ConfigName()).String(), Size: int64(len(raw)),
			Content: bytes.NewReader(raw)}}); err != nil {
		t.Fatal(err)
	}
	parts := len(srv.RequestsFor("UploadLayerPart"))
	srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Kind: ecrlocal.FaultHang, After: 1, Times: 1})
	cli := newCLIRun(t, cliConfigHead+testAccProviderConfig(srv, "")+fmt.Sprintf(`
resource "ecr_image" "test" {
  repository_name = %q
  source_image    = %q
}
`, testAccImageRepo, src.host+"/big/tool:1"))

	cmd := cliCommandIn(t, cli.dir, nil, "apply", "-auto-approve", "-no-color")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.ArrivalsFor("UploadLayerPart") >= parts+2 })
	// The CLI runs its providers in process groups of their own: kill them
	// as the end of a CI job does, with the CLI.
	children := childProcesses(cmd.Process.Pid)
	if len(children) == 0 {
		t.Fatal("found no provider process under the CLI")
	}
	for _, pid := range append(children, cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the killed apply succeeded:\n%s", out.String())
	}
	before := src.count()
	cli.must("apply", "-auto-approve")
	if got := cli.state()["ecr_image.test"]["image_digest"]; got != digest {
		t.Fatalf("image_digest %v, want %s", got, digest)
	}
	gets, ranges := src.blobGets(before)
	want := fmt.Sprintf("bytes=%d-%d", 5<<20, mustT(layer.Size())-1)
	if len(gets) != 1 || gets[0] != mustT(layer.Digest()).String() || ranges[0] != want {
		t.Fatalf("after the kill, blob reads %v with ranges %q; want the layer once, from byte %d (%s)", gets, ranges, 5<<20, want)
	}
	zero := 0
	for _, r := range srv.RequestsFor("UploadLayerPart")[parts:] {
		if fmt.Sprint(r.Input["partFirstByte"]) == "0" {
			zero++
		}
	}
	if zero != 1 {
		t.Fatalf("the layer's first part was sent %d times, want once", zero)
	}
	// Read back, every byte checked against its digest.
	ref := mustT(name.ParseReference(strings.TrimPrefix(srv.URL(), "http://")+"/"+testAccImageRepo+"@"+digest, name.Insecure))
	copied := mustT(remote.Image(ref, remote.WithAuth(registryAuth(t, srv))))
	if err := validate.Image(copied); err != nil {
		t.Fatalf("the copy in ECR: %v", err)
	}
}

// childProcesses lists the processes whose parent is pid, whichever of its
// threads started them (Linux's /proc; none elsewhere, and the test then
// fails rather than pass with the provider alive).
func childProcesses(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, task := range tasks {
		raw, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(raw)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
