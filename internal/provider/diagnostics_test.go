// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// TestEveryModelErrorIsExplained words each error code the official model
// lists for InitiateLayerUpload, plus the ones AWS's front end adds: the
// summary, and a detail that names the repository, region and registry,
// the operation, the AWS request ID and what to do.
func TestEveryModelErrorIsExplained(t *testing.T) {
	want := map[string]string{
		"ServerException":             "ECR Server Error",
		"InvalidParameterException":   "ECR Rejected a Parameter",
		"RepositoryNotFoundException": "ECR Repository Not Found",
		"KmsException":                "ECR Could Not Use the Repository's KMS Key",
		"AccessDeniedException":       "Access Denied by ECR",
		"ThrottlingException":         "ECR Throttled the Request",
		"UnrecognizedClientException": "Invalid AWS Credentials",
		"ValidationException":         "ECR InitiateLayerUpload Failed",
	}
	for _, code := range ecrlocal.OperationErrors("InitiateLayerUpload") {
		if _, ok := want[code]; !ok {
			t.Errorf("the model lists %s for InitiateLayerUpload but this test does not cover it", code)
		}
	}
	for code, summary := range want {
		t.Run(code, func(t *testing.T) {
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", "team/app")
			srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Code: code, Times: 3, Message: "injected for the test",
				Extra: map[string]any{"kmsError": "KMSInvalidStateException"}})
			api := ecrpush.NewClient(aws.Config{
				Region:      testAccRegion,
				Credentials: credentials.NewStaticCredentialsProvider(testAccAccessKey, testAccSecretKey, ""),
				Retryer: func() aws.Retryer {
					return retry.NewStandard(func(o *retry.StandardOptions) {
						o.MaxAttempts = 3
						o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
					})
				},
			}, ecrpush.ClientOptions{Endpoint: srv.URL()})
			_, err := ecrpush.InitiateLayerUpload(context.Background(), api, ecrpush.Target{Repository: "team/app", Region: testAccRegion})
			if err == nil {
				t.Fatal("want an error")
			}
			gotSummary, detail := explainECRFailure(err, "123456789012")
			if gotSummary != summary {
				t.Fatalf("summary: want %q, got %q\n%s", summary, gotSummary, detail)
			}
			for _, fact := range []string{"Operation: InitiateLayerUpload", "AWS request ID: ", `"team/app"`, `"eu-west-1"`, "123456789012"} {
				if !strings.Contains(detail, fact) {
					t.Errorf("detail lacks %q:\n%s", fact, detail)
				}
			}
			switch code {
			case "KmsException":
				if !strings.Contains(detail, "KMSInvalidStateException") {
					t.Errorf("detail lacks the kmsError:\n%s", detail)
				}
			case "AccessDeniedException":
				if !strings.Contains(detail, "ecr:InitiateLayerUpload") {
					t.Errorf("detail lacks the IAM action:\n%s", detail)
				}
			case "ThrottlingException", "ServerException":
				if !strings.Contains(detail, "Attempts made: 3") {
					t.Errorf("detail lacks the attempts made:\n%s", detail)
				}
			}
		})
	}
}
