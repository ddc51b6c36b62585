// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// accepts runs string validators the way the framework does.
func accepts(vs []validator.String, value string) bool {
	for _, v := range vs {
		resp := &validator.StringResponse{}
		v.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("x"), ConfigValue: types.StringValue(value)}, resp)
		if resp.Diagnostics.HasError() {
			return false
		}
	}
	return true
}

// FuzzURLValidator states what an accepted URL must be, through net/http
// rather than the validator's own url.Parse call: the SDK builds requests
// from it, so http.NewRequest must take it with an http(s) scheme and a host.
// Conversely, every scheme://host[:port][/path] made of valid parts must be
// accepted.
func FuzzURLValidator(f *testing.F) {
	for _, seed := range []string{"https://api.ecr.eu-west-1.amazonaws.com", "http://127.0.0.1:4566", "not a url", "ftp://x", "https://", "", "http://[::1]:80/", "%zz"} {
		f.Add(seed, "ecr.example.com", uint16(443), "/v1")
	}
	v := []validator.String{urlValidator()}
	f.Fuzz(func(t *testing.T, s, host string, port uint16, p string) {
		if accepts(v, s) {
			req, err := http.NewRequest(http.MethodPost, s, nil)
			if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
				t.Fatalf("accepted %q, which net/http cannot send to (%v)", s, err)
			}
		}
		host = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
				return r
			}
			return -1
		}, strings.ToLower(host))
		p = "/" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r == '/' {
				return r
			}
			return -1
		}, p)
		if host == "" {
			return
		}
		for _, u := range []string{"https://" + host, fmt.Sprintf("http://%s:%d%s", host, port, p)} {
			if !accepts(v, u) {
				t.Fatalf("refused %q", u)
			}
		}
	})
}

func FuzzDurationValidator(f *testing.F) {
	for _, seed := range []string{"1h", "15m", "12h", "5m", "12h1s", "soon", "", "-1h", "9223372036854775807ns"} {
		f.Add(seed)
	}
	v := []validator.String{durationValidator(15*time.Minute, 12*time.Hour, "1h")}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := time.ParseDuration(s)
		want := err == nil && d >= 15*time.Minute && d <= 12*time.Hour
		if got := accepts(v, s); got != want {
			t.Fatalf("%q: accepted=%v, want %v", s, got, want)
		}
	})
}

// FuzzJSONValidator: accepted exactly when encoding/json's decoder can read
// the whole string into a value (the validator uses the scanner, json.Valid).
func FuzzJSONValidator(f *testing.F) {
	for _, seed := range []string{`{"Version":"2012-10-17"}`, "{not json", "", "null", "[1,2", `"x"`, "1 2"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if got, want := accepts([]validator.String{jsonValidator()}, s), json.Unmarshal([]byte(s), &v) == nil; got != want {
			t.Fatalf("%q: accepted=%v, want %v", s, got, want)
		}
	})
}

// FuzzSchemaValidators holds the schema's validators to oracles of their
// own: the official ECR model's shapes (pattern, lengths), compiled here from
// the model the local endpoint embeds, not from the engine's constants; and,
// for regions (the model has no region shape), the properties of a region
// name written out.
func FuzzSchemaValidators(f *testing.F) {
	for _, seed := range []string{"team/app", "a", "Team", "123456789012", "eu-west-1", "", "a__b", "12345678901٢", "us-gov-west-1", "eu-west"} {
		f.Add(seed)
	}
	repoShape, registryShape := modelShape(f, "RepositoryName"), modelShape(f, "RegistryId")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := accepts(repositoryNameValidators(), s), repoShape(s); got != want {
			t.Fatalf("repository name %q: schema accepts=%v, model accepts=%v", s, got, want)
		}
		if got, want := accepts([]validator.String{registryIDValidator()}, s), registryShape(s); got != want {
			t.Fatalf("registry ID %q: schema accepts=%v, model accepts=%v", s, got, want)
		}
		if got, want := accepts([]validator.String{regionValidator()}, s), looksLikeRegion(s); got != want {
			t.Fatalf("region %q: schema accepts=%v, want %v", s, got, want)
		}
	})
}

// modelShape compiles a string shape of the official model, anchored, with
// its lengths counted in characters as the service counts them.
func modelShape(f *testing.F, name string) func(string) bool {
	shape, ok := ecrlocal.StringShape(name)
	if !ok {
		f.Fatalf("the model has no string shape %s", name)
	}
	re := regexp.MustCompile(`^(?:` + shape.Pattern + `)$`)
	return func(s string) bool {
		n := utf8.RuneCountInString(s)
		return re.MatchString(s) && (shape.Min == 0 || n >= shape.Min) && (shape.Max == 0 || n <= shape.Max)
	}
}

// looksLikeRegion: two lowercase letters, then one or more dash-separated
// runs of lowercase letters, then a dash and digits (eu-west-1,
// us-gov-west-1, ap-southeast-3), written without a regular expression.
func looksLikeRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	isRun := func(p string, ok func(rune) bool) bool {
		if p == "" {
			return false
		}
		for _, r := range p {
			if !ok(r) {
				return false
			}
		}
		return true
	}
	lower := func(r rune) bool { return r >= 'a' && r <= 'z' }
	digit := func(r rune) bool { return r >= '0' && r <= '9' }
	for _, p := range parts[:len(parts)-1] {
		if !isRun(p, lower) {
			return false
		}
	}
	return isRun(parts[len(parts)-1], digit)
}

// FuzzProviderBlockValidators covers the provider block's remaining
// validators: the role ARN, the retry mode, and the non-empty strings.
func FuzzProviderBlockValidators(f *testing.F) {
	for _, seed := range []string{"arn:aws:iam::123456789012:role/pusher", "arn:aws-us-gov:iam::123456789012:role/a/b",
		"arn:aws:s3:::bucket", "standard", "adaptive", "legacy", "", "x"} {
		f.Add(seed)
	}
	retryMode, profile := stringValidators(f, "retry_mode"), stringValidators(f, "profile")
	f.Fuzz(func(t *testing.T, s string) {
		if accepts([]validator.String{roleARNValidator()}, s) {
			account, role, ok := strings.Cut(strings.TrimPrefix(s, "arn:"), ":role/")
			if !strings.HasPrefix(s, "arn:aws") || !ok || role == "" || !strings.HasSuffix(account, ":iam::"+account[len(account)-12:]) {
				t.Fatalf("role ARN %q accepted", s)
			}
		}
		if got, want := accepts(retryMode, s), s == "standard" || s == "adaptive"; got != want {
			t.Fatalf("retry mode %q: accepted=%v, want %v", s, got, want)
		}
		if got, want := accepts(profile, s), s != ""; got != want {
			t.Fatalf("profile %q: accepted=%v, want %v", s, got, want)
		}
	})
}

// stringValidators returns the validators of one of the provider block's
// string attributes, as the schema declares them.
func stringValidators(f *testing.F, name string) []validator.String {
	attr, ok := providerSchema().Attributes[name].(schema.StringAttribute)
	if !ok {
		f.Fatalf("%s is not a string attribute", name)
	}
	return attr.Validators
}
