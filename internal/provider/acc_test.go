// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/ecrlabs/terraform-provider-ecr/internal/acctest"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// The shared pieces live in internal/acctest; these short names keep the
// tests readable.
const (
	testAccAccessKey = acctest.AccessKey
	testAccSecretKey = acctest.SecretKey
	testAccRegion    = acctest.Region
)

var (
	testAccProviderConfig = acctest.ProviderConfig
	testAccEchoConfig     = acctest.EchoConfig
	issuedUploadIDs       = acctest.IssuedUploadIDs
)

type (
	requestsCheck  = acctest.RequestsCheck
	stateCheckFunc = acctest.StateCheckFunc
	planCheckFunc  = acctest.PlanCheckFunc
)

// TestMain isolates the tests from the machine's AWS settings: only what a
// test configures reaches the provider.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") {
			_ = os.Unsetenv(name)
		}
	}
	_ = os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	_ = os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	_ = os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// Nor the machine's Docker logins: a copy's credentials are the test's.
	dockerConfig, err := os.MkdirTemp("", "docker-config-")
	if err != nil {
		panic(err)
	}
	_ = os.Setenv("DOCKER_CONFIG", dockerConfig)
	code := m.Run()
	_ = os.RemoveAll(dockerConfig)
	os.Exit(code)
}

// testAccEndpoint starts a local ECR endpoint with the test credentials.
func testAccEndpoint(t *testing.T) *ecrlocal.Server { return acctest.Endpoint(t, ecrlocal.Options{}) }

var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"ecr":  providerserver.NewProtocol6WithError(New("test")()),
	"echo": echoprovider.NewProviderServer(),
}

// lastIssuedUpload checks that echo.test holds exactly the upload the
// endpoint issued last, with the part size it answered.
type lastIssuedUpload struct{ srv *ecrlocal.Server }

func (c lastIssuedUpload) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	reqs := c.srv.RequestsFor("InitiateLayerUpload")
	if len(reqs) == 0 || reqs[len(reqs)-1].Output == nil {
		resp.Error = fmt.Errorf("the endpoint issued no upload")
		return
	}
	issued := reqs[len(reqs)-1].Output
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address != "echo.test" {
			continue
		}
		data, _ := r.AttributeValues["data"].(map[string]any)
		if data["upload_id"] != issued["uploadId"] || fmt.Sprint(data["part_size"]) != fmt.Sprint(issued["partSize"]) {
			resp.Error = fmt.Errorf("echo.test holds %v / %v, the endpoint issued %v / %v",
				data["upload_id"], data["part_size"], issued["uploadId"], issued["partSize"])
		}
		return
	}
	resp.Error = fmt.Errorf("echo.test is not in the state")
}

// noUploadIDs fails when any upload ID the endpoint issued appears anywhere in
// the JSON state or plan.
type noUploadIDs struct{ srv *ecrlocal.Server }

func (c noUploadIDs) find(doc any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	ids := issuedUploadIDs(c.srv)
	if len(ids) == 0 {
		return fmt.Errorf("the endpoint issued no upload, so the check proves nothing")
	}
	for _, id := range ids {
		if strings.Contains(string(b), id) {
			return fmt.Errorf("upload ID %s was written out", id)
		}
	}
	return nil
}

func (c noUploadIDs) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = c.find(req.State)
}

func (c noUploadIDs) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = c.find(req.Plan)
}

// hostListsOpenActions reports whether the CLI under test lists each
// ephemeral resource as an "open" change in its plans. OpenTofu 1.11 does (it
// keeps placeholders for them in plan files); Terraform and OpenTofu 1.12+ do
// not. terraform-plugin-testing counts such a change as a non-empty plan.
var hostListsOpenActions = sync.OnceValue(func() bool {
	if os.Getenv("TF_ACC_PROVIDER_HOST") != "registry.opentofu.org" {
		return false
	}
	// A version that cannot be read would silently pick the wrong
	// expectation for every test: stop the run instead.
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	out, err := exec.Command(cli, "version", "-json").Output()
	if err != nil {
		panic(fmt.Sprintf("cannot run %q version -json: %v", cli, err))
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		panic(fmt.Sprintf("cannot read the version of %q from %q: %v", cli, out, err))
	}
	return strings.HasPrefix(v.Version, "1.11.")
})

// testAccStep adapts a step to the CLI under test: where the host lists
// "open" changes, the post-apply plans must hold nothing else.
func testAccStep(step resource.TestStep) resource.TestStep {
	if !hostListsOpenActions() || step.ExpectError != nil || step.PlanOnly {
		return step
	}
	step.ExpectNonEmptyPlan = true
	step.ConfigPlanChecks.PostApplyPreRefresh = append(step.ConfigPlanChecks.PostApplyPreRefresh, onlyEphemeralOpens{})
	step.ConfigPlanChecks.PostApplyPostRefresh = append(step.ConfigPlanChecks.PostApplyPostRefresh, onlyEphemeralOpens{})
	return step
}

// onlyEphemeralOpens fails on any planned change other than an ephemeral
// resource's "open".
type onlyEphemeralOpens struct{}

func (onlyEphemeralOpens) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		for _, action := range rc.Change.Actions {
			if action == tfjson.ActionNoop || (rc.Mode == "ephemeral" && action == "open") {
				continue
			}
			resp.Error = fmt.Errorf("the plan after apply is not empty: %s %s", rc.Address, action)
			return
		}
	}
	for name, oc := range req.Plan.OutputChanges {
		if !oc.Actions.NoOp() {
			resp.Error = fmt.Errorf("the plan after apply changes output %s", name)
			return
		}
	}
}
