package provider

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
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

func FuzzURLValidator(f *testing.F) {
	for _, seed := range []string{"https://api.ecr.eu-west-1.amazonaws.com", "http://127.0.0.1:4566", "not a url", "ftp://x", "https://", "", "http://[::1]:80/", "%zz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !accepts([]validator.String{urlValidator()}, s) {
			return
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("accepted %q", s)
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

func FuzzJSONValidator(f *testing.F) {
	for _, seed := range []string{`{"Version":"2012-10-17"}`, "{not json", "", "null", "[1,2", `"x"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := accepts([]validator.String{jsonValidator()}, s), json.Valid([]byte(s)); got != want {
			t.Fatalf("%q: accepted=%v, want %v", s, got, want)
		}
	})
}

// FuzzSchemaValidators holds the schema's validators to the engine's checks,
// which are themselves fuzzed against the ECR model.
func FuzzSchemaValidators(f *testing.F) {
	for _, seed := range []string{"team/app", "a", "Team", "123456789012", "eu-west-1", "", "a__b", "12345678901٢"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := accepts(repositoryNameValidators(), s), ecrpush.ValidateRepositoryName(s) == nil; got != want {
			t.Fatalf("repository name %q: schema accepts=%v, engine accepts=%v", s, got, want)
		}
		if got, want := accepts([]validator.String{registryIDValidator()}, s), ecrpush.ValidateRegistryID(s) == nil; got != want {
			t.Fatalf("registry ID %q: schema accepts=%v, engine accepts=%v", s, got, want)
		}
		if got, want := accepts([]validator.String{regionValidator()}, s), ecrpush.ValidateRegion(s) == nil; got != want {
			t.Fatalf("region %q: schema accepts=%v, engine accepts=%v", s, got, want)
		}
	})
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
