// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

// Package acctest holds what the provider's tests share: the local ECR
// endpoint started with the test credentials, configurations composed with
// the echo provider, and state and plan checks over what the endpoint saw.
// Only tests import it.
package acctest

import (
	"context"
	"fmt"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// The credentials and region every test provider block uses.
const (
	AccessKey = "AKIAECRACCTEST000001"
	SecretKey = "ecr-acceptance-test-secret-key-00000001"
	Region    = "eu-west-1"
)

// Endpoint starts a local ECR endpoint for one test, stopped when the test
// ends. Options without credentials get AccessKey and SecretKey.
func Endpoint(t testing.TB, opts ecrlocal.Options) *ecrlocal.Server {
	t.Helper()
	srv, err := ecrlocal.Start("127.0.0.1:0", withCredentials(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// TLSEndpoint is Endpoint over HTTPS with a CA of its own, returned as PEM.
func TLSEndpoint(t testing.TB, opts ecrlocal.Options) (*ecrlocal.Server, []byte) {
	t.Helper()
	srv, caPEM, err := ecrlocal.StartTLS("127.0.0.1:0", withCredentials(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, caPEM
}

func withCredentials(opts ecrlocal.Options) ecrlocal.Options {
	if opts.AccessKeyID == "" {
		opts.AccessKeyID, opts.SecretAccessKey = AccessKey, SecretKey
	}
	return opts
}

// ProviderConfig is a provider block pointed at the endpoint for ECR and
// STS, with extra arguments appended.
func ProviderConfig(srv *ecrlocal.Server, extra string) string {
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
`, Region, AccessKey, SecretKey, srv.URL(), srv.URL(), extra)
}

// EchoConfig passes an ephemeral value through the echo provider's
// provider block into the state of echo.test, so a test can check it.
func EchoConfig(expression string) string {
	return fmt.Sprintf(`
provider "echo" {
  data = %s
}

resource "echo" "test" {}
`, expression)
}

// IssuedUploadIDs lists every upload ID the endpoint handed out.
func IssuedUploadIDs(srv *ecrlocal.Server) []string {
	var ids []string
	for _, r := range srv.RequestsFor("InitiateLayerUpload") {
		if id, ok := r.Output["uploadId"].(string); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// RequestsCheck runs an assertion over the requests the endpoint received.
type RequestsCheck struct {
	Server *ecrlocal.Server
	Check  func([]ecrlocal.Request) error
}

func (c RequestsCheck) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = c.Check(c.Server.Requests())
}

// StateCheckFunc runs an assertion that needs no state, after the state is
// written: on what the endpoint or a test provider recorded.
type StateCheckFunc func() error

func (f StateCheckFunc) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f()
}

// PlanCheckFunc adapts a function to a plan check.
type PlanCheckFunc func(*tfjson.Plan) error

func (f PlanCheckFunc) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f(req.Plan)
}
