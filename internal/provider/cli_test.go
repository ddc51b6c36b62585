// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrlabs/terraform-provider-ecr/internal/acctest"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// These tests run the CLI as a user does, against a provider binary built
// from this tree and installed with dev_overrides, for what
// terraform-plugin-testing cannot do: send signals, and read a whole TF_LOG.

var providerBinaryDir = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ecr-provider-bin")
	if err != nil {
		return "", err
	}
	args := append(append([]string{"build"}, raceBuildFlags...), "-o", filepath.Join(dir, "terraform-provider-ecr"), "../..")
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the provider: %v\n%s", err, out)
	}
	return dir, nil
})

// cliUnderTest is the binary terraform-plugin-testing would use.
func cliUnderTest() string {
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		return p
	}
	return "terraform"
}

// cliCommand prepares `<cli> args...` in a new directory holding config.
func cliCommand(t *testing.T, config string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	return cliCommandIn(t, cliWorkdir(t, config), env, args...)
}

// cliWorkdir is a directory with config and a CLI configuration that installs
// the provider built from this tree.
func cliWorkdir(t *testing.T, config string) string {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("set TF_ACC=1 to run tests that run the CLI")
	}
	bin, err := providerBinaryDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rc := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.terraform.io/ecrlabs/ecr" = %[1]q
    "registry.opentofu.org/ecrlabs/ecr" = %[1]q
  }
  direct {}
}
`, bin)
	for name, content := range map[string]string{"cli.tfrc": rc, "main.tf": config} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func cliCommandIn(t *testing.T, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(cliUnderTest(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"TF_CLI_CONFIG_FILE=" + filepath.Join(dir, "cli.tfrc"),
		"TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		// A provider built with -race (raceBuildFlags) crashes on a race,
		// which Terraform reports, instead of only printing it.
		"GORACE=halt_on_error=1"}, env...)...)
	return cmd
}

func cliConfig(srv *ecrlocal.Server, providerArgs string) string {
	return `
terraform {
  required_providers {
    ecr = { source = "ecrlabs/ecr" }
  }
}
` + testAccProviderConfig(srv, providerArgs) + `
ephemeral "ecr_layer_upload" "test" {
  repository_name = "team/app"
}

resource "terraform_data" "consumer" {
  provisioner "local-exec" {
    command     = "test -n \"$UPLOAD_ID\""
    environment = { UPLOAD_ID = ephemeral.ecr_layer_upload.test.upload_id }
  }
}
`
}

// TestAccCLI_traceLogHasNoSecrets runs a whole apply with TF_LOG=trace and
// looks in the log for the access key, secret key, session token and every
// request signature.
func TestAccCLI_traceLogHasNoSecrets(t *testing.T) {
	const token = "ecr-local-session-token-that-must-not-be-logged"
	srv := acctest.Endpoint(t, ecrlocal.Options{AccessKeyID: testAccAccessKey, SecretAccessKey: testAccSecretKey, SessionToken: token})
	srv.CreateRepository(testAccRegion, "", "team/app")
	logFile := filepath.Join(t.TempDir(), "trace.log")
	cmd := cliCommand(t, cliConfig(srv, `token = "`+token+`"`), []string{"TF_LOG=trace", "TF_LOG_PATH=" + logFile},
		"apply", "-auto-approve", "-no-color")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(raw)
	if !strings.Contains(log, "AWS call:") || !strings.Contains(log, "aws_operation=InitiateLayerUpload") {
		t.Fatalf("the log has no AWS call lines; the check would prove nothing (%d bytes)", len(log))
	}
	secrets := map[string]string{"access key": testAccAccessKey, "secret key": testAccSecretKey, "session token": token}
	signatures := 0
	for _, r := range srv.Requests() {
		if _, sig, ok := strings.Cut(r.Authorization, "Signature="); ok {
			secrets[fmt.Sprintf("signature of %s request %d", r.Operation, signatures)] = sig
			signatures++
		}
	}
	if signatures < 2 {
		t.Fatalf("want at least 2 signed requests (STS and ECR), got %d", signatures)
	}
	for what, secret := range secrets {
		if strings.Contains(log, secret) {
			t.Errorf("the trace log contains the %s", what)
		}
	}
	t.Logf("%d bytes of trace log checked for %d secrets (%d signatures)", len(log), len(secrets), signatures)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("timed out waiting for the condition")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestAccExamples_validate runs `validate` on every configuration under
// examples/ with the CLI under test. Examples for the docs leave out the
// terraform block, so one naming this provider's source is added beside them.
func TestAccExamples_validate(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir("../../examples", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".tf") && !slices.Contains(dirs, filepath.Dir(path)) {
			dirs = append(dirs, filepath.Dir(path))
		}
		return err
	})
	if err != nil || len(dirs) < 3 {
		t.Fatalf("examples: %v (%d directories)", err, len(dirs))
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			var config strings.Builder
			files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				config.Write(b)
				config.WriteString("\n")
			}
			if !strings.Contains(config.String(), "required_providers") {
				config.WriteString(`terraform {
  required_providers {
    ecr = { source = "ecrlabs/ecr" }
  }
}
`)
			}
			out, err := cliCommand(t, config.String(), nil, "validate", "-no-color").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "The configuration is valid") {
				t.Fatalf("validate %s: %v\n%s", dir, err, out)
			}
		})
	}
}

// TestAccCLI_traceLogHasNoAssumedCredentials runs apply at TF_LOG=trace with
// credentials that are themselves exchanged for others: a profile's keys
// (not of the AKIA form, which log maskers often key on) used to assume a
// role, and a web identity token file. It then looks through the whole log
// for every credential the endpoint saw or issued: source keys, assumed keys
// and session tokens, the web identity token, and every request signature.
func TestAccCLI_traceLogHasNoAssumedCredentials(t *testing.T) {
	const (
		profileKey    = "ECRPROFILEKEY0000001"
		profileSecret = "ecr-profile-secret-that-must-not-be-logged"
		identityToken = "eyJhbGciOiJSUzI1NiJ9.web-identity-token-that-must-not-be-logged.c2ln"
		roleARN       = "arn:aws:iam::123456789012:role/pusher"
	)
	for _, tc := range []struct {
		name     string
		provider func(dir string) string
		env      func(dir string) []string
	}{
		{name: "profile keys and assume_role", provider: func(dir string) string {
			return fmt.Sprintf("profile = \"source\"\nshared_credentials_files = [%q]\nassume_role {\n  role_arn = %q\n  session_name = \"ci\"\n}",
				filepath.Join(dir, "credentials"), roleARN)
		}},
		{name: "web identity token file", provider: func(string) string { return "" }, env: func(dir string) []string {
			return []string{"AWS_WEB_IDENTITY_TOKEN_FILE=" + filepath.Join(dir, "token"), "AWS_ROLE_ARN=" + roleARN,
				"AWS_ROLE_SESSION_NAME=ci"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := acctest.Endpoint(t, ecrlocal.Options{AccessKeyID: profileKey, SecretAccessKey: profileSecret})
			srv.CreateRepository(testAccRegion, "", "team/app")
			files := t.TempDir()
			writeFile(t, filepath.Join(files, "credentials"),
				fmt.Sprintf("[source]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profileKey, profileSecret))
			writeFile(t, filepath.Join(files, "token"), identityToken)
			// The provider block carries no keys: they come from the
			// profile or the web identity exchange.
			config := strings.Replace(cliConfig(srv, tc.provider(files)), fmt.Sprintf("  access_key = %q\n  secret_key = %q\n",
				testAccAccessKey, testAccSecretKey), "", 1)
			var env []string
			if tc.env != nil {
				env = tc.env(files)
			}
			logFile := filepath.Join(t.TempDir(), "trace.log")
			cmd := cliCommand(t, config, append(env, "TF_LOG=trace", "TF_LOG_PATH="+logFile), "apply", "-auto-approve", "-no-color")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
			raw, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			log := string(raw)
			issued := srv.IssuedCredentials()
			if len(issued) == 0 {
				t.Fatal("the endpoint issued no temporary credentials: the run assumed no role, so the check proves nothing")
			}
			secrets := map[string]string{"profile secret key": profileSecret, "web identity token": identityToken}
			if tc.env == nil {
				secrets["profile access key"] = profileKey
			}
			for i, c := range issued {
				secrets[fmt.Sprintf("assumed access key %d", i)] = c.AccessKeyID
				secrets[fmt.Sprintf("assumed secret key %d", i)] = c.SecretAccessKey
				secrets[fmt.Sprintf("assumed session token %d", i)] = c.SessionToken
			}
			usedAssumed := false
			for i, r := range srv.Requests() {
				if _, sig, ok := strings.Cut(r.Authorization, "Signature="); ok {
					secrets[fmt.Sprintf("signature of %s request %d", r.Operation, i)] = sig
				}
				usedAssumed = usedAssumed || (r.Operation == "InitiateLayerUpload" && strings.HasPrefix(r.AccessKeyID, "ASIA"))
			}
			if !usedAssumed {
				t.Fatal("no InitiateLayerUpload was signed with assumed credentials")
			}
			if !strings.Contains(log, "aws_operation=InitiateLayerUpload") {
				t.Fatalf("the log has no AWS call lines; the check would prove nothing (%d bytes)", len(log))
			}
			for what, secret := range secrets {
				if strings.Contains(log, secret) {
					t.Errorf("the trace log contains the %s", what)
				}
			}
			t.Logf("%d bytes of trace log checked for %d credentials and signatures", len(log), len(secrets))
		})
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
