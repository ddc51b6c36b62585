// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// iamPages is where each type's page (its template) lists its IAM actions.
var iamPages = map[string]string{
	"ecr_layer_upload":       "../../templates/ephemeral-resources/layer_upload.md.tmpl",
	"ecr_layer_availability": "../../templates/data-sources/layer_availability.md.tmpl",
	"ecr_image_referrers":    "../../templates/data-sources/image_referrers.md.tmpl",
	"ecr_layer":              "../../templates/resources/layer.md.tmpl",
	"ecr_image":              "../../templates/resources/image.md.tmpl",
	"ecr_artifact":           "../../templates/resources/artifact.md.tmpl",
}

var iamActionPattern = regexp.MustCompile(`ecr:[A-Za-z]+`)

// TestIAMActionsOnEveryPage: each type's page names every action in its
// list, and names no ECR action that no type's list has.
func TestIAMActionsOnEveryPage(t *testing.T) {
	known := map[string]bool{}
	for _, actions := range iamActions {
		for _, a := range actions {
			known[a] = true
		}
	}
	for typeName, actions := range iamActions {
		page, ok := iamPages[typeName]
		if !ok {
			t.Errorf("%s has no page to check", typeName)
			continue
		}
		raw, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		named := iamActionPattern.FindAllString(string(raw), -1)
		for _, a := range actions {
			if !slices.Contains(named, a) {
				t.Errorf("%s's page (%s) does not name %s", typeName, page, a)
			}
		}
		for _, a := range named {
			if !known[a] {
				t.Errorf("%s's page names %s, which no type needs", typeName, a)
			}
		}
	}
}

// iamCovers fails when the endpoint received an ECR call (other than the
// ones a test itself makes to read back) whose action is not in the type's
// minimum policy.
type iamCovers struct {
	srv *ecrlocal.Server
	// types are the types the test's configuration uses.
	types []string
}

func (c iamCovers) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = c.check()
}

// CheckDestroy runs the check after destroy, when every call of the test,
// destroy's included, has been made.
func (c iamCovers) CheckDestroy(*terraform.State) error { return c.check() }

func (c iamCovers) check() error {
	var allowed []string
	for _, typeName := range c.types {
		allowed = append(allowed, iamActions[typeName]...)
	}
	calls := 0
	for _, r := range c.srv.Requests() {
		if strings.Contains(r.Operation, ":") || r.Operation == "GetAuthorizationToken" || r.AccessKeyID == fixtureAccessKey {
			continue // STS, the registry API, the test reading back, or its fixtures
		}
		calls++
		if action := iamActionFor(r.Operation); !slices.Contains(allowed, action) {
			return fmt.Errorf("%v called %s, which their IAM policies (iamActions) do not list", c.types, action)
		}
	}
	if calls == 0 {
		return fmt.Errorf("no ECR call was made: the check proves nothing")
	}
	return nil
}
