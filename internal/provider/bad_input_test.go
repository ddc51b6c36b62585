// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// badInput is one invalid configuration: where it goes, the diagnostic it
// must produce, and whether a request may reach the endpoint first.
type badInput struct {
	name string
	// provider is appended to the test provider block; providerBody, when
	// set, replaces the block's body entirely.
	provider     string
	providerBody string
	// upload replaces the ecr_layer_upload body (default: a valid one).
	upload string
	// extra configuration, such as a resource whose value is unknown at plan.
	extra string
	// summary is the diagnostic's summary; where is literal text that must
	// follow it (naming the attribute, as the detail or the CLI's source
	// excerpt shows it), or wherePattern a regular expression, where the
	// text varies (a path, an OS error).
	summary, where, wherePattern string
	// requestsAllowed is true where only talking to the network can find the
	// problem.
	requestsAllowed bool
}

func badInputs(dir string) []badInput {
	notPEM := filepath.Join(dir, "not-a-ca.pem")
	if err := os.WriteFile(notPEM, []byte("this is not a certificate\n"), 0o600); err != nil {
		panic(err)
	}
	valid := `repository_name = "team/app"`
	repo := func(v string) string { return fmt.Sprintf(`repository_name = %q`, v) }
	withRepo := func(more string) string { return valid + "\n  " + more }
	const (
		length = "Invalid Attribute Value Length"
		match  = "Invalid Attribute Value Match"
		value  = "Invalid Attribute Value"
		combo  = "Invalid Attribute Combination"
	)
	return []badInput{
		// ecr_layer_upload arguments.
		{name: "repository name of one character", upload: repo("a"), summary: length, where: "Attribute repository_name string length must be between 2 and 256"},
		{name: "empty repository name", upload: repo(""), summary: length, where: "Attribute repository_name string length"},
		{name: "repository name over 256 characters", upload: repo(strings.Repeat("a", 257)), summary: length, where: "Attribute repository_name string length"},
		{name: "uppercase repository name", upload: repo("Team/App"), summary: match, where: "Attribute repository_name must be lowercase"},
		{name: "repository name with empty component", upload: repo("team//app"), summary: match, where: "Attribute repository_name must be lowercase"},
		{name: "repository name ending in a slash", upload: repo("team/app/"), summary: match, where: "Attribute repository_name must be lowercase"},
		{name: "repository name starting with a dash", upload: repo("-team"), summary: match, where: "Attribute repository_name must be lowercase"},
		{name: "repository name with two dots", upload: repo("team..app"), summary: match, where: "Attribute repository_name must be lowercase"},
		{name: "repository name with a space", upload: repo("team app"), summary: match, where: "Attribute repository_name must be lowercase"},
		{name: "repository name with a colon tag", upload: repo("team/app:latest"), summary: match, where: "Attribute repository_name must be lowercase"},
		{name: "missing repository name", upload: `registry_id = "123456789012"`, summary: "Missing required argument", where: `"repository_name" is required`},
		{name: "registry ID too short", upload: withRepo(`registry_id = "12345"`), summary: match, where: "Attribute registry_id must be a 12-digit AWS account ID"},
		{name: "registry ID too long", upload: withRepo(`registry_id = "1234567890123"`), summary: match, where: "Attribute registry_id must be a 12-digit"},
		{name: "registry ID with letters", upload: withRepo(`registry_id = "12345678901a"`), summary: match, where: "Attribute registry_id must be a 12-digit"},
		{name: "empty registry ID", upload: withRepo(`registry_id = ""`), summary: match, where: "Attribute registry_id must be a 12-digit"},
		{name: "region without a number", upload: withRepo(`region = "eu-west"`), summary: match, where: "Attribute region must be an AWS region name"},
		{name: "uppercase region", upload: withRepo(`region = "EU-WEST-1"`), summary: match, where: "Attribute region must be an AWS region name"},
		{name: "empty region", upload: withRepo(`region = ""`), summary: match, where: "Attribute region must be an AWS region name"},
		{name: "region with underscores", upload: withRepo(`region = "eu_west_1"`), summary: match, where: "Attribute region must be an AWS region name"},
		{name: "setting a result", upload: withRepo(`upload_id = "0f8fad5b-d9cb-469f-a165-70867728950e"`), summary: "Invalid Configuration for Read-Only Attribute", where: "upload_id"},
		{name: "unknown argument", upload: withRepo(`part_count = 3`), summary: "Unsupported argument", where: `"part_count" is not expected here`},

		// The provider block.
		{name: "provider region", providerBody: providerBody(`region = "moon-1"`), summary: match, where: "Attribute region must be an AWS region name"},
		{name: "no region anywhere", providerBody: providerBody("", "region"), summary: "Missing AWS Region", where: "Set region in the provider block"},
		{name: "unknown retry mode", provider: `retry_mode = "sometimes"`, summary: match, where: `Attribute retry_mode value must be one of: ["standard" "adaptive"]`},
		{name: "negative max_retries", provider: `max_retries = -1`, summary: value, where: "Attribute max_retries value must be between 0 and 100, got: -1"},
		{name: "huge max_retries", provider: `max_retries = 1000`, summary: value, where: "Attribute max_retries value must be between 0 and 100, got: 1000"},
		{name: "ECR endpoint not a URL", providerBody: providerBody(`endpoints { ecr = "not a url" }`), summary: "Invalid URL", where: `Attribute endpoints[0].ecr must be an absolute http or https URL`},
		{name: "ECR endpoint with another scheme", providerBody: providerBody(`endpoints { ecr = "ftp://ecr.example.com" }`), summary: "Invalid URL", where: `Attribute endpoints[0].ecr must be`},
		{name: "empty ECR endpoint", providerBody: providerBody(`endpoints { ecr = "" }`), summary: "Invalid URL", where: `Attribute endpoints[0].ecr must be`},
		{name: "STS endpoint without host", providerBody: providerBody(`endpoints { sts = "https://" }`), summary: "Invalid URL", where: `Attribute endpoints[0].sts must be`},
		{name: "two endpoints blocks", provider: `endpoints { ecr = "https://a.example.com" }`, summary: value, where: "Attribute endpoints list must contain at most 1 elements"},
		{name: "HTTP proxy without scheme", provider: `http_proxy = "proxy:3128"`, summary: "Invalid URL", where: "Attribute http_proxy must be"},
		{name: "HTTPS proxy not a URL", provider: `https_proxy = "just text"`, summary: "Invalid URL", where: "Attribute https_proxy must be"},
		{name: "assume_role duration too short", provider: "assume_role {\n role_arn = \"arn:aws:iam::123456789012:role/pusher\"\n duration = \"5m\"\n}", summary: "Invalid Duration", where: `Attribute assume_role[0].duration must be a duration from 15m to 12h`},
		{name: "assume_role duration not a duration", provider: "assume_role {\n role_arn = \"arn:aws:iam::123456789012:role/pusher\"\n duration = \"soon\"\n}", summary: "Invalid Duration", where: `Attribute assume_role[0].duration`},
		{name: "assume_role policy not JSON", provider: "assume_role {\n role_arn = \"arn:aws:iam::123456789012:role/pusher\"\n policy = \"{not json\"\n}", summary: "Invalid JSON", where: `Attribute assume_role[0].policy must be a JSON document`},
		{name: "assume_role ARN not a role", provider: `assume_role { role_arn = "arn:aws:s3:::bucket" }`, summary: match, where: `Attribute assume_role[0].role_arn must be an IAM role ARN`},
		{name: "assume_role without role_arn", provider: `assume_role { session_name = "ci" }`, summary: "Missing required argument", where: `"role_arn" is required`},
		{name: "two assume_role blocks", provider: `assume_role { role_arn = "arn:aws:iam::123456789012:role/a" }` + "\n" + `assume_role { role_arn = "arn:aws:iam::123456789012:role/b" }`, summary: value, where: "Attribute assume_role list must contain at most 1 elements"},
		{name: "access key without secret key", providerBody: providerBody(`access_key = "AKIAECRACCTEST000001"`, "secret_key"), summary: combo, where: `Attribute "secret_key" must be specified when "access_key" is specified`},
		{name: "token without keys", providerBody: providerBody(`token = "session-token"`, "secret_key", "access_key"), summary: combo, where: `must be specified when "token" is specified`},
		{name: "connect_timeout not a duration", provider: `connect_timeout = "fast"`, summary: "Invalid Duration", where: "Attribute connect_timeout must be a duration from 100ms to 10m"},
		{name: "zero read_timeout", provider: `read_timeout = "0s"`, summary: "Invalid Duration", where: "Attribute read_timeout must be a duration from 100ms to 30m"},
		{name: "negative read_timeout", provider: `read_timeout = "-5s"`, summary: "Invalid Duration", where: "Attribute read_timeout must be a duration"},
		{name: "empty profile", provider: `profile = ""`, summary: length, where: "Attribute profile string length must be at least 1"},
		{name: "empty shared config file path", provider: `shared_config_files = [""]`, summary: length, where: `Attribute shared_config_files[0] string length must be at least 1`},
		{name: "profile that does not exist", providerBody: providerBody(`profile = "no-such-profile"`, "secret_key", "access_key"), summary: "AWS Profile Not Found", where: `The profile names "no-such-profile", which is in none of the shared config`},
		{name: "no credentials anywhere", providerBody: providerBody("skip_metadata_api_check = true", "secret_key", "access_key"), summary: "No AWS Credentials Found", where: "Set one of: access_key and secret_key in the provider block; the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{name: "CA bundle that does not exist", provider: `custom_ca_bundle = "` + filepath.Join(dir, "missing.pem") + `"`, summary: "Cannot Read the CA Bundle", where: "missing.pem"},
		{name: "CA bundle that is not PEM", provider: `custom_ca_bundle = "` + notPEM + `"`, summary: "Cannot Read the CA Bundle", where: "failed to load custom CA bundle PEM file"},
		{name: "provider region no partition lists", providerBody: providerBody(`region = "xx-fake-9"`), summary: "Unsupported AWS Region", where: `The provider's region "xx-fake-9" is not a region in the AWS SDK's partition data`},
		{name: "region no partition lists", provider: "skip_credentials_validation = true", upload: withRepo(`region = "xx-fake-9"`), summary: "Unsupported AWS Region", where: `The region "xx-fake-9" is not a region in the AWS SDK's partition data`},
		{name: "region no partition lists, validation skipped", provider: "skip_region_validation = true", upload: withRepo(`region = "xx-fake-9"`), summary: "ECR Repository Not Found", where: `region "xx-fake-9"`, requestsAllowed: true},
		{name: "region unknown at plan", providerBody: providerBody(`region = terraform_data.later.output`), extra: `resource "terraform_data" "later" { input = "eu-west-1" }`, summary: "Unknown Provider Configuration", where: "provider's region depends on a value that is not known until apply"},
		{name: "assume_role from a dynamic block unknown at plan", provider: "dynamic \"assume_role\" {\n  for_each = terraform_data.later.output\n  content { role_arn = assume_role.value }\n}", extra: `resource "terraform_data" "later" { input = ["arn:aws:iam::123456789012:role/pusher"] }`, summary: "Unknown Provider Configuration", where: "provider's assume_role depends on a value that is not known until apply"},
		{name: "endpoints unknown at plan", providerBody: providerBody("endpoints {\n ecr = terraform_data.later.output\n sts = \"%[1]s\"\n}"), extra: `resource "terraform_data" "later" { input = "http://127.0.0.1:1" }`, summary: "Unknown Provider Configuration", where: "provider's endpoints depends on a value that is not known until apply"},
		{name: "unreachable endpoint", providerBody: providerBody(`endpoints { ecr = "http://127.0.0.1:1" }` + "\nskip_credentials_validation = true\nmax_retries = 1"), summary: "Cannot Reach ECR", wherePattern: `(?s)InitiateLayerUpload for repository "team/app".*connection refused`, requestsAllowed: true},
	}
}

// providerBody is the test provider block's body with one argument set (it
// replaces an argument of the same name; "" sets none) and the named
// arguments removed. %[1]s is the endpoint URL.
func providerBody(set string, remove ...string) string {
	lines := map[string]string{
		"region":     `region = "eu-west-1"`,
		"access_key": `access_key = "` + testAccAccessKey + `"`,
		"secret_key": `secret_key = "` + testAccSecretKey + `"`,
		"endpoints":  "endpoints {\n ecr = \"%[1]s\"\n sts = \"%[1]s\"\n}",
	}
	if set != "" {
		name, _, _ := strings.Cut(strings.TrimSpace(set), " ")
		lines[name] = set
	}
	for _, name := range remove {
		delete(lines, name)
	}
	var b strings.Builder
	for _, name := range []string{"region", "access_key", "secret_key", "endpoints", "profile", "skip_credentials_validation"} {
		if l, ok := lines[name]; ok {
			b.WriteString(l + "\n")
			delete(lines, name)
		}
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func (c badInput) config(srv *ecrlocal.Server) string {
	var provider string
	if c.providerBody != "" {
		provider = "provider \"ecr\" {\n" + strings.ReplaceAll(c.providerBody, "%[1]s", srv.URL()) + "}\n"
	} else {
		provider = testAccProviderConfig(srv, c.provider)
	}
	upload := c.upload
	if upload == "" {
		upload = `repository_name = "team/app"`
	}
	return provider + c.extra + "\nephemeral \"ecr_layer_upload\" \"test\" {\n  " + upload + "\n}\n" +
		testAccEchoConfig("ephemeral.ecr_layer_upload.test")
}

func TestAccBadInputs(t *testing.T) {
	cases := badInputs(t.TempDir())
	t.Logf("%d bad inputs", len(cases))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", "team/app")
			resource.ParallelTest(t, resource.TestCase{
				TerraformVersionChecks:   ephemeralSupported,
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      c.config(srv),
					ExpectError: regexp.MustCompile(`(?s)Error: ` + regexp.QuoteMeta(c.summary) + `.*` + c.pattern()),
				}},
			})
			if n := len(srv.Requests()); n > 0 && !c.requestsAllowed {
				t.Errorf("%d requests reached the endpoint; validation should have stopped them", n)
			}
		})
	}
}

func (c badInput) pattern() string {
	if c.wherePattern != "" {
		return spaced(c.wherePattern)
	}
	return spaced(regexp.QuoteMeta(c.where))
}

// spaced lets a literal phrase match across the CLI's line wrapping.
func spaced(pattern string) string {
	return strings.ReplaceAll(pattern, " ", `\s+`)
}
