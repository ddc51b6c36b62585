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

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

const (
	testAccAccessKey = "AKIAECRACCTEST000001"
	testAccSecretKey = "ecr-acceptance-test-secret-key-00000001"
	testAccRegion    = "eu-west-1"
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
	os.Exit(m.Run())
}

var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"ecr":  providerserver.NewProtocol6WithError(New("test")()),
	"echo": echoprovider.NewProviderServer(),
}

// testAccEndpoint starts a local ECR endpoint for one test.
func testAccEndpoint(t *testing.T) *ecrlocal.Server {
	t.Helper()
	srv, err := ecrlocal.Start("127.0.0.1:0", ecrlocal.Options{AccessKeyID: testAccAccessKey, SecretAccessKey: testAccSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// testAccProviderConfig is a provider block pointed at the endpoint, with
// extra arguments appended.
func testAccProviderConfig(srv *ecrlocal.Server, extra string) string {
	return fmt.Sprintf(`
provider "ecr" {
  region     = %q
  access_key = %q
  secret_key = %q
  endpoints {
    ecr = %q
    sts = %q
  }
  %s
}
`, testAccRegion, testAccAccessKey, testAccSecretKey, srv.URL(), srv.URL(), extra)
}

// testAccEchoConfig passes an ephemeral value through the echo provider's
// provider block into the state of echo.test, so a test can check it.
func testAccEchoConfig(expression string) string {
	return fmt.Sprintf(`
provider "echo" {
  data = %s
}

resource "echo" "test" {}
`, expression)
}

// issuedUploadIDs lists every upload ID the endpoint handed out.
func issuedUploadIDs(srv *ecrlocal.Server) []string {
	var ids []string
	for _, r := range srv.RequestsFor("InitiateLayerUpload") {
		if id, ok := r.Output["uploadId"].(string); ok {
			ids = append(ids, id)
		}
	}
	return ids
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

// requestsCheck runs an assertion over the requests the endpoint received.
type requestsCheck struct {
	srv   *ecrlocal.Server
	check func([]ecrlocal.Request) error
}

func (c requestsCheck) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = c.check(c.srv.Requests())
}

// stateCheckFunc runs an assertion that needs no state, after the state is
// written: on what the endpoint or a test provider recorded.
type stateCheckFunc func() error

func (f stateCheckFunc) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f()
}

// hostListsOpenActions reports whether the CLI under test lists each
// ephemeral resource as an "open" change in its plans. OpenTofu 1.11 does (it
// keeps placeholders for them in plan files); Terraform and OpenTofu 1.12+ do
// not. terraform-plugin-testing counts such a change as a non-empty plan.
var hostListsOpenActions = sync.OnceValue(func() bool {
	if os.Getenv("TF_ACC_PROVIDER_HOST") != "registry.opentofu.org" {
		return false
	}
	out, err := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), "version", "-json").Output()
	if err != nil {
		return false
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if json.Unmarshal(out, &v) != nil {
		return false
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

// planCheckFunc adapts a function to a plan check.
type planCheckFunc func(*tfjson.Plan) error

func (f planCheckFunc) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f(req.Plan)
}
