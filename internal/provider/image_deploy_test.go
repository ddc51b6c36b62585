// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/ecrlabs/terraform-provider-ecr/internal/acctest"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// The deploy tests run the CLI as a user does (a provider binary built from
// this tree) so that they can read the state a failed apply wrote, and
// apply a saved plan after the source changed.

// tagsNeverNameNothing checks the requests since *from: no BatchDeleteImage
// before the last PutImage, so no tag was removed while the new image was
// not yet holding every tag.
type tagsNeverNameNothing struct {
	srv  *ecrlocal.Server
	from *int
}

func (c tagsNeverNameNothing) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	var ops []string
	for _, r := range c.srv.Requests()[*c.from:] {
		if r.Operation == "PutImage" || r.Operation == "BatchDeleteImage" {
			ops = append(ops, r.Operation)
		}
	}
	lastPut, firstDelete := slices.Index(ops, "PutImage"), slices.Index(ops, "BatchDeleteImage")
	for i, op := range ops {
		if op == "PutImage" {
			lastPut = i
		}
	}
	if lastPut < 0 || firstDelete >= 0 && firstDelete < lastPut {
		resp.Error = fmt.Errorf("image calls in order %v: a tag or image was removed before the last PutImage", ops)
	}
}

// cliRun is one working directory driven through the CLI.
type cliRun struct {
	t   *testing.T
	dir string
}

func newCLIRun(t *testing.T, config string) *cliRun {
	t.Helper()
	return &cliRun{t: t, dir: cliWorkdir(t, config)}
}

func (c *cliRun) config(config string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(config), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cliRun) run(args ...string) (string, error) {
	c.t.Helper()
	out, err := cliCommandIn(c.t, c.dir, nil, append(args, "-no-color")...).CombinedOutput()
	return string(out), err
}

func (c *cliRun) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// state reads the state as the last command wrote it (no refresh): each
// resource's values by address.
func (c *cliRun) state() map[string]map[string]any {
	c.t.Helper()
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	out, err := cliCommandIn(c.t, c.dir, nil, "show", "-json").Output()
	if err != nil {
		c.t.Fatalf("show -json: %v", err)
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		c.t.Fatalf("show -json: %v\n%s", err, out)
	}
	res := map[string]map[string]any{}
	for _, r := range doc.Values.RootModule.Resources {
		res[r.Address] = r.Values
	}
	return res
}

func stateTags(v map[string]any) []string {
	var tags []string
	list, _ := v["tags"].([]any)
	for _, tag := range list {
		tags = append(tags, fmt.Sprint(tag))
	}
	slices.Sort(tags)
	return tags
}

// deployPhase is one apply (or destroy) of ecr_image after a setup, with
// the tags it must leave.
type deployPhase struct {
	name  string
	setup func(t *testing.T, w *deployScene) // runs clean, before the fault
	act   func(w *deployScene) (string, error)
	// planned is the tag map a clean run leaves, by image name.
	planned map[string]string
}

// deployScene is an endpoint, two image layouts and a working directory.
type deployScene struct {
	srv    *ecrlocal.Server
	cli    *cliRun
	source string
	digest map[string]string // image name: digest
	name   map[string]string
	layout map[string]func() // image name: write it at source
}

const deployFaultProvider = `max_retries = 0`

func newDeployScene(t *testing.T) *deployScene {
	t.Helper()
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	dir := t.TempDir()
	w := &deployScene{srv: srv, source: filepath.Join(dir, "layout"), digest: map[string]string{}, name: map[string]string{},
		layout: map[string]func(){}}
	for _, n := range []string{"one", "two", "other"} {
		img := testAccRandomImage(t)
		d := mustT(img.Digest()).String()
		w.digest[n], w.name[d] = n, n
		w.digest[n] = d
		w.layout[n] = func() { writeLayout(t, w.source, img) }
		if n == "other" {
			pushExternally(t, srv, img, "a")
		}
	}
	w.cli = newCLIRun(t, "")
	return w
}

func (w *deployScene) apply(image string, tags ...string) (string, error) {
	w.layout[image]()
	quoted := make([]string, len(tags))
	for i, tag := range tags {
		quoted[i] = fmt.Sprintf("%q", tag)
	}
	w.cli.config(cliConfigHead + testAccProviderConfig(w.srv, deployFaultProvider) + fmt.Sprintf(`
resource "ecr_image" "test" {
  repository_name = %q
  source          = %q
  tags            = [%s]
}
`, testAccImageRepo, w.source, strings.Join(quoted, ", ")))
	return w.cli.run("apply", "-auto-approve")
}

const cliConfigHead = `
terraform {
  required_providers {
    ecr = { source = "ecrlabs/ecr" }
  }
}
`

// tags is the repository's tags by image name.
func (w *deployScene) tags() map[string]string {
	out := map[string]string{}
	for tag, d := range w.srv.ImageTags(testAccRegion, "", testAccImageRepo) {
		out[tag] = w.name[d]
	}
	return out
}

var deployPhases = []deployPhase{
	{name: "create", setup: func(*testing.T, *deployScene) {},
		act:     func(w *deployScene) (string, error) { return w.apply("one", "a", "b") },
		planned: map[string]string{"a": "one", "b": "one"}},
	{name: "new image", setup: func(t *testing.T, w *deployScene) {
		if out, err := w.apply("one", "prod", "v1"); err != nil {
			t.Fatalf("setup: %v\n%s", err, out)
		}
	},
		act:     func(w *deployScene) (string, error) { return w.apply("two", "prod", "v2") },
		planned: map[string]string{"a": "other", "prod": "two", "v2": "two"}},
	{name: "last tag removed", setup: func(t *testing.T, w *deployScene) {
		if out, err := w.apply("one", "v1"); err != nil {
			t.Fatalf("setup: %v\n%s", err, out)
		}
	},
		act:     func(w *deployScene) (string, error) { return w.apply("one") },
		planned: map[string]string{"a": "other"}},
	{name: "destroy", setup: func(t *testing.T, w *deployScene) {
		if out, err := w.apply("one", "v1"); err != nil {
			t.Fatalf("setup: %v\n%s", err, out)
		}
	},
		act:     func(w *deployScene) (string, error) { return w.cli.run("destroy", "-auto-approve") },
		planned: map[string]string{"a": "other"}},
}

// imageCalls are the ECR operations that read or change images.
var imageCalls = []string{"DescribeImages", "BatchGetImage", "PutImage", "BatchDeleteImage"}

// TestAccCLI_imageFaultAtEveryCall fails, in turn, each call that reads or
// changes an image during a create, an update to a new image, the removal
// of an image's last tag and a destroy. After each failed apply, the state
// the CLI wrote is checked against ECR: a resource in the state has its
// image and tags there; no tag the plan keeps names nothing; then a plain
// apply (or destroy) converges on what was planned.
func TestAccCLI_imageFaultAtEveryCall(t *testing.T) {
	for _, phase := range deployPhases {
		clean := newDeployScene(t)
		phase.setup(t, clean)
		start := len(clean.srv.Requests())
		if out, err := phase.act(clean); err != nil {
			t.Fatalf("%s: clean run: %v\n%s", phase.name, err, out)
		}
		if got := clean.tags(); !maps.Equal(got, phase.planned) {
			t.Fatalf("%s: clean run left tags %v, planned %v", phase.name, got, phase.planned)
		}
		var calls []string
		for _, r := range clean.srv.Requests()[start:] {
			if slices.Contains(imageCalls, r.Operation) {
				calls = append(calls, r.Operation)
			}
		}
		for i, op := range calls {
			after := 0
			for _, prev := range calls[:i] {
				if prev == op {
					after++
				}
			}
			t.Run(fmt.Sprintf("%s/call %d %s", phase.name, i+1, op), func(t *testing.T) {
				t.Parallel()
				w := newDeployScene(t)
				phase.setup(t, w)
				before := w.tags()
				w.srv.InjectFault(op, ecrlocal.Fault{Code: "ServerException", After: after})
				out, err := phase.act(w)
				if !metFault(w.srv, op) {
					t.Fatalf("the fault was not met:\n%s", out)
				}
				after := w.tags()
				if err == nil && !maps.Equal(after, phase.planned) && !strings.Contains(out, "Warning:") {
					t.Errorf("apply succeeded, with no warning, but left tags %v; planned %v\n%s", after, phase.planned, out)
				}
				for tag := range before {
					if _, ok := after[tag]; !ok && phase.planned[tag] != "" {
						t.Errorf("tag %q names nothing now\n%s", tag, out)
					}
				}
				if err != nil && strings.Contains(out, "No tag changed") && !maps.Equal(after, before) {
					t.Errorf("the error says no tag changed, but tags went from %v to %v\n%s", before, after, out)
				}
				if r, ok := w.cli.state()["ecr_image.test"]; ok {
					digest, _ := r["image_digest"].(string)
					if !slices.Contains(w.srv.Images(testAccRegion, "", testAccImageRepo), digest) &&
						!strings.Contains(out, "Image Deleted by ECR With Its Last Tag") {
						t.Errorf("the state holds %s, which ECR does not have\n%s", w.name[digest], out)
					}
					for _, tag := range stateTags(r) {
						if after[tag] != w.name[digest] {
							t.Errorf("the state gives tag %q to %s; ECR has it on %q\n%s", tag, w.name[digest], after[tag], out)
						}
					}
				}
				// The next run, with no fault, converges on the plan, but
				// for an old image's tags the failed run warned about.
				if out, err := phase.act(w); err != nil {
					t.Fatalf("the next run failed: %v\n%s", err, out)
				}
				got := w.tags()
				for tag := range got {
					if phase.planned[tag] == "" && strings.Contains(out, "Old Image Left in ECR") && strings.Contains(out, fmt.Sprintf("%q", tag)) {
						delete(got, tag)
					}
				}
				if !maps.Equal(got, phase.planned) {
					t.Errorf("after the next run, tags %v; planned %v", w.tags(), phase.planned)
				}
			})
		}
	}
}

// TestAccCLI_savedPlanAfterSourceRewritten: plan -out, the build writes the
// source again, apply PLAN. The apply must fail before anything in ECR or
// the state changes, for a new ecr_image, an ecr_image updated to a new
// image, and ecr_layer.
func TestAccCLI_savedPlanAfterSourceRewritten(t *testing.T) {
	t.Run("ecr_image update", func(t *testing.T) {
		w := newDeployScene(t)
		if out, err := w.apply("one", "prod"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		w.layout["two"]()
		w.cli.must("plan", "-out=tfplan")
		w.layout["other"]() // the build wrote again
		checkSavedPlanChangesNothing(t, w.srv, w.cli, "ecr_image.test", "image_digest", w.digest["one"])
		if tags := w.tags(); !maps.Equal(tags, map[string]string{"a": "other", "prod": "one"}) {
			t.Errorf("tags %v", tags)
		}
	})
	t.Run("ecr_image create", func(t *testing.T) {
		w := newDeployScene(t)
		_, _ = w.apply("one", "prod")
		w.cli.must("destroy", "-auto-approve")
		w.layout["two"]()
		w.cli.must("plan", "-out=tfplan")
		w.layout["one"]()
		checkSavedPlanChangesNothing(t, w.srv, w.cli, "ecr_image.test", "", "")
	})
	t.Run("ecr_layer update", func(t *testing.T) {
		testAccLayerCacheDir()
		srv := testAccEndpoint(t)
		srv.CreateRepository(testAccRegion, "", testAccImageRepo)
		dir := t.TempDir()
		file, first := testAccLayerFile(t, dir, "layer.bin", 1<<20, 1)
		cli := newCLIRun(t, cliConfigHead+testAccLayerConfig(srv, fmt.Sprintf("repository_name = %q\n  source = %q",
			testAccImageRepo, file)))
		cli.must("apply", "-auto-approve")
		testAccLayerFile(t, dir, "layer.bin", 1<<20, 2)
		cli.must("plan", "-out=tfplan")
		testAccLayerFile(t, dir, "layer.bin", 1<<20, 3)
		checkSavedPlanChangesNothing(t, srv, cli, "ecr_layer.test", "digest", first)
	})
}

// checkSavedPlanChangesNothing applies tfplan, expects a failure that says
// the source changed, and checks that no call changed ECR and that the state
// still holds attribute = want ("" attribute: no resource in the state).
func checkSavedPlanChangesNothing(t *testing.T, srv *ecrlocal.Server, cli *cliRun, address, attribute, want string) {
	t.Helper()
	start := len(srv.Requests())
	out, err := cli.run("apply", "tfplan")
	if err == nil {
		t.Fatalf("applying the stale plan succeeded:\n%s", out)
	}
	if !strings.Contains(out, "inconsistent final plan") && !strings.Contains(out, "Changed Since Plan") {
		t.Errorf("the error does not say the source changed since plan:\n%s", out)
	}
	for _, r := range srv.Requests()[start:] {
		switch r.Operation {
		case "PutImage", "BatchDeleteImage", "InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload":
			t.Errorf("the stale apply called %s\n%s", r.Operation, out)
		}
	}
	got, ok := cli.state()[address]
	switch {
	case attribute == "" && ok:
		t.Errorf("%s is in the state: %v", address, got)
	case attribute != "" && (!ok || got[attribute] != want):
		t.Errorf("%s in the state: %v; want %s = %s", address, got, attribute, want)
	}
}

// TestAccImage_listedByIndex: one resource pushes an index whole, another
// the arm64 image of the same build with a tag. Removing that tag, and
// destroying the second resource, each leave the image (the index lists
// it) and ECR keeps its last tag: the apply succeeds with a warning naming
// both, and the next plan is empty, not a change that fails forever.
func TestAccImage_listedByIndex(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	source := filepath.Join(t.TempDir(), "layout")
	_, _, arm := testAccIndexLayout(t, source)
	armDigest := mustT(arm.Digest()).String()
	config := func(armTags string, withArm bool) string {
		c := testAccProviderConfig(srv, "") + fmt.Sprintf(`
resource "ecr_image" "index" {
  repository_name = %q
  source          = %q
  tags            = ["multi"]
}
`, testAccImageRepo, source)
		if withArm {
			c += fmt.Sprintf(`
resource "ecr_image" "arm" {
  repository_name = %q
  source          = %q
  platform        = "linux/arm64"
  tags            = %s
  depends_on      = [ecr_image.index]
}
`, testAccImageRepo, source, armTags)
		}
		return c
	}
	armTagIs := func(want string) stateCheckFunc {
		return func() error {
			if got := srv.ImageTags(testAccRegion, "", testAccImageRepo)["arm"]; got != want {
				return fmt.Errorf("tag arm names %q, want %q", got, want)
			}
			if !slices.Contains(srv.Images(testAccRegion, "", testAccImageRepo), armDigest) {
				return fmt.Errorf("the arm64 image is gone")
			}
			return nil
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(`["arm"]`, true), ConfigStateChecks: []statecheck.StateCheck{armTagIs(armDigest)}},
			{Config: config(`[]`, true), ConfigStateChecks: []statecheck.StateCheck{armTagIs(armDigest)}},
			{Config: config(`[]`, true), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{Config: config(`["arm"]`, true), ConfigStateChecks: []statecheck.StateCheck{armTagIs(armDigest)}},
			{Config: config("", false), ConfigStateChecks: []statecheck.StateCheck{armTagIs(armDigest)}},
		},
	})
}

// TestAccCLI_indexWarnings: the warnings of TestAccImage_listedByIndex, as a
// user reads them.
func TestAccCLI_indexWarnings(t *testing.T) {
	testAccLayerCacheDir()
	srv := acctest.Endpoint(t, ecrlocal.Options{})
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	source := filepath.Join(t.TempDir(), "layout")
	_, _, arm := testAccIndexLayout(t, source)
	armDigest := mustT(arm.Digest()).String()
	config := func(armTags string) string {
		return cliConfigHead + testAccProviderConfig(srv, "") + fmt.Sprintf(`
resource "ecr_image" "index" {
  repository_name = %[1]q
  source          = %[2]q
}

resource "ecr_image" "arm" {
  repository_name = %[1]q
  source          = %[2]q
  platform        = "linux/arm64"
  tags            = %[3]s
  depends_on      = [ecr_image.index]
}
`, testAccImageRepo, source, armTags)
	}
	cli := newCLIRun(t, config(`["arm"]`))
	cli.must("apply", "-auto-approve")
	cli.config(config(`[]`))
	out := cli.must("apply", "-auto-approve")
	for _, want := range []string{"Image Kept in ECR: an Index Lists It", armDigest, `"arm"`, "batch-delete-image"} {
		if !strings.Contains(out, want) {
			t.Errorf("the apply's output lacks %q:\n%s", want, out)
		}
	}
	if out, err := cli.run("plan", "-detailed-exitcode"); err != nil {
		t.Errorf("the next plan is not empty (%v):\n%s", err, out)
	}
}

// metFault reports whether the endpoint answered op with the injected
// ServerException.
func metFault(srv *ecrlocal.Server, op string) bool {
	for _, r := range srv.RequestsFor(op) {
		if r.ErrorCode == "ServerException" {
			return true
		}
	}
	return false
}

// TestAccCLI_planAfterImport: an image imported by tag and a layer imported
// by digest, then planned with the configuration that made them. The plan
// may only set source (ECR does not know where either was built from), and
// applying it sends nothing.
func TestAccCLI_planAfterImport(t *testing.T) {
	w := newDeployScene(t)
	if out, err := w.apply("one", "v1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	file, layerDigest := testAccLayerFile(t, t.TempDir(), "layer.bin", 1<<20, 7)
	config := cliConfigHead + testAccProviderConfig(w.srv, "") + fmt.Sprintf(`
resource "ecr_image" "test" {
  repository_name = %[1]q
  source          = %[2]q
  tags            = ["v1"]
}

resource "ecr_layer" "test" {
  repository_name = %[1]q
  source          = %[3]q
}
`, testAccImageRepo, w.source, file)
	pusher := newCLIRun(t, config)
	pusher.must("apply", "-auto-approve", "-target=ecr_layer.test")
	layerID, _ := pusher.state()["ecr_layer.test"]["id"].(string)

	cli := newCLIRun(t, config)
	cli.must("import", "ecr_image.test", testAccImageRepo+":v1")
	cli.must("import", "ecr_layer.test", layerID)
	if got := cli.state()["ecr_image.test"]["image_digest"]; got != w.digest["one"] {
		t.Errorf("imported by tag: image_digest %v, want %s", got, w.digest["one"])
	}
	out := cli.must("plan")
	_, actions, _ := strings.Cut(out, "will perform the following actions:")
	for _, line := range strings.Split(actions, "\n") {
		line = strings.TrimSpace(line)
		// OpenTofu lists write-only arguments in an update as "(write-only
		// attribute)": they hold nothing, so they change nothing.
		if (strings.HasPrefix(line, "+ ") || strings.HasPrefix(line, "~ ") || strings.HasPrefix(line, "- ")) &&
			!strings.HasPrefix(line, "+ source") && !strings.HasPrefix(line, "~ resource") &&
			!strings.HasSuffix(line, "(write-only attribute)") {
			t.Errorf("the plan after import changes more than source: %q\n%s", line, out)
		}
	}
	start := len(w.srv.Requests())
	cli.must("apply", "-auto-approve")
	for _, r := range w.srv.Requests()[start:] {
		switch r.Operation {
		case "PutImage", "BatchDeleteImage", "InitiateLayerUpload", "UploadLayerPart":
			t.Errorf("applying the plan after import called %s", r.Operation)
		}
	}
	if out, err := cli.run("plan", "-detailed-exitcode"); err != nil {
		t.Errorf("the plan after that apply is not empty (%v):\n%s", err, out)
	}
	_ = layerDigest
}
