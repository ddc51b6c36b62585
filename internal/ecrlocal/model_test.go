// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// validInputs are requests the model accepts, one per served operation.
var validInputs = map[string]string{
	"CreateRepository":            `{"repositoryName":"team/app"}`,
	"DescribeRepositories":        `{"repositoryNames":["team/app"],"maxResults":10}`,
	"DeleteRepository":            `{"repositoryName":"team/app","force":true}`,
	"InitiateLayerUpload":         `{"repositoryName":"team/app","registryId":"123456789012"}`,
	"UploadLayerPart":             `{"repositoryName":"team/app","uploadId":"0f8fad5b-d9cb-469f-a165-70867728950e","partFirstByte":0,"partLastByte":2,"layerPartBlob":"YWJj"}`,
	"CompleteLayerUpload":         `{"repositoryName":"team/app","uploadId":"0f8fad5b-d9cb-469f-a165-70867728950e","layerDigests":["sha256:ab"]}`,
	"BatchCheckLayerAvailability": `{"repositoryName":"team/app","layerDigests":["sha256:ab"]}`,
	"PutImage":                    `{"repositoryName":"team/app","imageManifest":"{}","imageManifestMediaType":"application/vnd.oci.image.manifest.v1+json","imageTag":"v1","imageDigest":"sha256:ab"}`,
	"BatchGetImage":               `{"repositoryName":"team/app","imageIds":[{"imageTag":"v1"}],"acceptedMediaTypes":["application/vnd.oci.image.manifest.v1+json"]}`,
	"BatchDeleteImage":            `{"repositoryName":"team/app","imageIds":[{"imageDigest":"sha256:ab"}]}`,
	"DescribeImages":              `{"repositoryName":"team/app","filter":{"tagStatus":"TAGGED"},"maxResults":10}`,
	"PutImageTagMutability":       `{"repositoryName":"team/app","imageTagMutability":"IMMUTABLE_WITH_EXCLUSION","imageTagMutabilityExclusionFilters":[{"filterType":"WILDCARD","filter":"latest*"}]}`,
	"GetAuthorizationToken":       `{"registryIds":["123456789012"]}`,
	"ListImageReferrers": `{"repositoryName":"team/app","subjectId":{"imageDigest":"sha256:ab"},` +
		`"filter":{"artifactTypes":["application/vnd.example+json"],"artifactStatus":"ANY"},"maxResults":10,"nextToken":"1"}`,
}

func TestServedOperationsAreInTheModel(t *testing.T) {
	for op := range Handler(Options{}).operations {
		if _, ok := loadModel().Operations[op]; !ok {
			t.Errorf("%s is served but not in the model", op)
		}
		if _, ok := validInputs[op]; !ok {
			t.Errorf("%s has no valid input in this test", op)
		}
	}
}

// TestEveryModelConstraintIsEnforced breaks, one at a time, each constraint
// the model sets on a served operation's top-level input members, and expects
// InvalidParameterException naming that member.
func TestEveryModelConstraintIsEnforced(t *testing.T) {
	m := loadModel()
	checked := 0
	for op, valid := range validInputs {
		if apiErr := validateInput(op, mustDecode(t, valid)); apiErr != nil {
			t.Fatalf("%s: the valid input is refused: %v", op, apiErr)
		}
		in := m.Shapes[m.Operations[op].Input.Shape]
		for _, name := range in.Required {
			input := mustDecode(t, valid)
			delete(input, name)
			expectViolation(t, op, name, input, "not be null")
			checked++
		}
		for name, ref := range in.Members {
			for _, bad := range violations(m.Shapes[ref.Shape]) {
				input := mustDecode(t, valid)
				input[name] = bad.value
				expectViolation(t, op, name, input, bad.constraint)
				checked++
			}
		}
	}
	t.Logf("%d constraints checked", checked)
	if checked < 40 {
		t.Fatalf("only %d constraints checked; the model walk is broken", checked)
	}
}

type violation struct {
	value      any
	constraint string
}

// violations builds values that break each constraint of a shape.
func violations(s *shape) []violation {
	var out []violation
	switch s.Type {
	case "string":
		if s.Min != nil && *s.Min > 0 {
			out = append(out, violation{strings.Repeat("a", int(*s.Min)-1), "have length greater than or equal to"})
		}
		if s.Max != nil {
			out = append(out, violation{strings.Repeat("a", int(*s.Max)+1), "have length less than or equal to"})
		}
		if s.Pattern != "" {
			out = append(out, violation{"INVALID VALUE!", "satisfy regular expression pattern"})
		}
		if len(s.Enum) > 0 {
			out = append(out, violation{"NOT_AN_ENUM_VALUE", "satisfy enum value set"})
		}
	case "blob":
		if s.Max != nil {
			out = append(out, violation{base64.StdEncoding.EncodeToString(make([]byte, int(*s.Max)+1)), "have length less than or equal to"})
		}
	case "integer", "long":
		if s.Min != nil {
			out = append(out, violation{json.Number("-1"), "have value greater than or equal to"})
		}
		if s.Max != nil {
			out = append(out, violation{json.Number("99999999999"), "have value less than or equal to"})
		}
	case "list":
		if s.Min != nil && *s.Min > 0 {
			out = append(out, violation{[]any{}, "have length greater than or equal to"})
		}
		if s.Max != nil {
			items := make([]any, int(*s.Max)+1)
			for i := range items {
				items[i] = nil // the length is what is under test
			}
			out = append(out, violation{items, "have length less than or equal to"})
		}
	}
	return out
}

func expectViolation(t *testing.T, op, member string, input map[string]any, constraint string) {
	t.Helper()
	apiErr := validateInput(op, input)
	if apiErr == nil {
		t.Errorf("%s.%s: accepted a value that should fail %q", op, member, constraint)
		return
	}
	if apiErr.Code != "InvalidParameterException" || !strings.Contains(apiErr.Message, "at '"+member) ||
		!strings.Contains(apiErr.Message, constraint) {
		t.Errorf("%s.%s: want InvalidParameterException naming the member and %q, got %v", op, member, constraint, apiErr)
	}
}

func TestModelValidationReachesTheWire(t *testing.T) {
	srv := startServer(t)
	client := sdkClient(srv, testAccessKey, testSecretKey)
	_, err := client.InitiateLayerUpload(context.Background(), &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("Team/App")})
	if code := errorCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("want InvalidParameterException, got %s", code)
	}
}

// TestAWSCLIAgainstEndpoint drives the endpoint with the AWS CLI (botocore), a
// second client nobody here wrote, when it is installed.
func TestAWSCLIAgainstEndpoint(t *testing.T) {
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed")
	}
	srv := startServer(t)
	run := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", srv.URL(), "--region", testRegion, "--output", "json", "ecr"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecretKey,
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws ecr %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("aws ecr %s printed no JSON: %s", args[0], out)
		}
		return doc
	}
	run("create-repository", "--repository-name", "cli/repo")
	described := run("describe-repositories", "--repository-names", "cli/repo")
	if repos, _ := described["repositories"].([]any); len(repos) != 1 {
		t.Fatalf("describe-repositories: %v", described)
	}
	started := run("initiate-layer-upload", "--repository-name", "cli/repo")
	uploadID, _ := started["uploadId"].(string)
	if uploadID == "" || started["partSize"] != float64(DefaultPartSize) {
		t.Fatalf("initiate-layer-upload: %v", started)
	}
	blob := t.TempDir() + "/part"
	if err := os.WriteFile(blob, []byte("hello layer"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("upload-layer-part", "--repository-name", "cli/repo", "--upload-id", uploadID,
		"--part-first-byte", "0", "--part-last-byte", "10", "--layer-part-blob", "fileb://"+blob)
	done := run("complete-layer-upload", "--repository-name", "cli/repo", "--upload-id", uploadID,
		"--layer-digests", digestOf([]byte("hello layer")))
	if done["layerDigest"] != digestOf([]byte("hello layer")) {
		t.Fatalf("complete-layer-upload: %v", done)
	}
}
