// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

func pathRoot(name string) path.Expression { return path.MatchRoot(name) }

func quotedList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "`" + v + "`"
	}
	return strings.Join(quoted, ", ")
}

// The patterns come from the engine, which a test holds to the official
// model, so validation here and in the engine cannot disagree.

func repositoryNameValidators() []validator.String {
	return []validator.String{
		stringvalidator.LengthBetween(ecrpush.RepositoryNameMinLen, ecrpush.RepositoryNameMaxLen),
		stringvalidator.RegexMatches(ecrpush.RepositoryNameRegexp,
			"must be lowercase letters and digits, in path components separated by '/', with single '.', '_', '__' or "+
				"'-' runs between them (for example team/app)"),
	}
}

func registryIDValidator() validator.String {
	return stringvalidator.RegexMatches(ecrpush.RegistryIDRegexp, "must be a 12-digit AWS account ID")
}

func regionValidator() validator.String {
	return stringvalidator.RegexMatches(ecrpush.RegionRegexp, "must be an AWS region name such as eu-west-1")
}

var roleARNRegexp = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$`)

func roleARNValidator() validator.String {
	return stringvalidator.RegexMatches(roleARNRegexp, "must be an IAM role ARN such as arn:aws:iam::123456789012:role/pusher")
}

// checkValidator adapts a plain check to a string validator whose
// diagnostic is "Invalid <what>" on the attribute.
type checkValidator struct {
	what  string
	rule  string
	check func(string) error
}

func (v checkValidator) Description(context.Context) string         { return v.rule }
func (v checkValidator) MarkdownDescription(context.Context) string { return v.rule }

func (v checkValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+v.what,
			fmt.Sprintf("Attribute %s %s: %v.", req.Path, v.rule, err))
	}
}

func urlValidator() validator.String {
	return checkValidator{what: "URL", rule: "must be an absolute http or https URL", check: func(s string) error {
		u, err := url.Parse(s)
		if err != nil {
			return err
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q has no http(s) scheme or host", s)
		}
		return nil
	}}
}

// durationValidator accepts Go durations ("90s", "1h") from least to most.
func durationValidator(least, most time.Duration, example string) validator.String {
	rule := fmt.Sprintf("must be a duration from %s to %s, such as %s", shortDuration(least), shortDuration(most), example)
	return checkValidator{what: "Duration", rule: rule, check: func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		if d < least || d > most {
			return fmt.Errorf("%s is out of range", d)
		}
		return nil
	}}
}

// shortDuration prints 15m0s as 15m and 12h0m0s as 12h.
func shortDuration(d time.Duration) string {
	s := d.String()
	for _, zero := range []string{"m0s", "h0m"} {
		if strings.HasSuffix(s, zero) {
			s = strings.TrimSuffix(s, zero[1:])
		}
	}
	return s
}

func jsonValidator() validator.String {
	return checkValidator{what: "JSON", rule: "must be a JSON document", check: func(s string) error {
		if !json.Valid([]byte(s)) {
			return fmt.Errorf("%q is not valid JSON", s)
		}
		return nil
	}}
}
