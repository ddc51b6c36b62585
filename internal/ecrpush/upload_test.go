// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

const (
	accessKey = "AKIAECRPUSHTEST00001"
	secretKey = "ecrpush-test-secret"
	region    = "eu-west-1"
)

func startBenchEndpoint() (*ecrlocal.Server, error) {
	return ecrlocal.Start("127.0.0.1:0", ecrlocal.Options{AccessKeyID: accessKey, SecretAccessKey: secretKey})
}

func endpoint(t *testing.T) *ecrlocal.Server {
	t.Helper()
	srv, err := startBenchEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// client is the SDK's ECR client with the standard retryer, and backoff
// shortened so retry tests do not sleep.
func client(srv *ecrlocal.Server, attempts int) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		Retryer: RetryCutShortResponses(retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})),
	})
}

func TestInitiateLayerUploadReturnsWhatECRIssued(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	srv.SetPartSize(7 << 20)
	up, err := InitiateLayerUpload(context.Background(), client(srv, 1), Target{Repository: "team/app", Region: region})
	if err != nil {
		t.Fatal(err)
	}
	if !UploadIDRegexp.MatchString(up.ID) || up.PartSize != 7<<20 {
		t.Fatalf("got %+v", up)
	}
	reqs := srv.RequestsFor("InitiateLayerUpload")
	if len(reqs) != 1 || reqs[0].Input["repositoryName"] != "team/app" || reqs[0].Input["registryId"] != nil {
		t.Fatalf("requests: %+v", reqs)
	}
}

func TestInitiateLayerUploadSendsRegistryAndRegion(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository("ap-southeast-2", "210987654321", "base")
	target := Target{Repository: "base", RegistryID: "210987654321", Region: "ap-southeast-2"}
	if _, err := InitiateLayerUpload(context.Background(), client(srv, 1), target); err != nil {
		t.Fatal(err)
	}
	reqs := srv.RequestsFor("InitiateLayerUpload")
	if len(reqs) != 1 || reqs[0].Region != "ap-southeast-2" || reqs[0].Input["registryId"] != "210987654321" {
		t.Fatalf("requests: %+v", reqs)
	}
}

func TestBadTargetsSendNothing(t *testing.T) {
	srv := endpoint(t)
	for _, target := range []Target{
		{Repository: ""},
		{Repository: "a"},
		{Repository: strings.Repeat("a", 257)},
		{Repository: "Team/App"},
		{Repository: "team//app"},
		{Repository: "team/app/"},
		{Repository: "-team"},
		{Repository: "team/app", RegistryID: "12345"},
		{Repository: "team/app", RegistryID: "12345678901a"},
		{Repository: "team/app", Region: "eu-west"},
		{Repository: "team/app", Region: "EU-WEST-1"},
	} {
		if _, err := InitiateLayerUpload(context.Background(), client(srv, 1), target); err == nil {
			t.Errorf("%+v: accepted", target)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests reached the endpoint", n)
	}
}

func TestModelAgreesWithValidation(t *testing.T) {
	for shape, want := range map[string]ecrlocal.ShapeConstraint{
		"RepositoryName": {Pattern: RepositoryNamePattern, Min: RepositoryNameMinLen, Max: RepositoryNameMaxLen},
		"RegistryId":     {Pattern: RegistryIDPattern},
		"UploadId":       {Pattern: UploadIDPattern},
	} {
		got, ok := ecrlocal.StringShape(shape)
		if !ok || got != want {
			t.Errorf("%s: the model says %+v, this package %+v", shape, got, want)
		}
	}
}

// TestEveryModelErrorIsClassified covers each error code the official model
// lists for InitiateLayerUpload, plus the ones AWS's front end adds.
func TestEveryModelErrorIsClassified(t *testing.T) {
	want := map[string]Kind{
		"ServerException":             KindServerFault,
		"InvalidParameterException":   KindInvalidParameter,
		"RepositoryNotFoundException": KindRepositoryNotFound,
		"KmsException":                KindKMS,
		"AccessDeniedException":       KindAccessDenied,
		"ThrottlingException":         KindThrottled,
		"UnrecognizedClientException": KindCredentials,
		"ValidationException":         KindOther,
	}
	for _, code := range ecrlocal.OperationErrors("InitiateLayerUpload") {
		if _, ok := want[code]; !ok {
			t.Errorf("the model lists %s for InitiateLayerUpload but this test does not cover it", code)
		}
	}
	for code, kind := range want {
		t.Run(code, func(t *testing.T) {
			srv := endpoint(t)
			srv.CreateRepository(region, "", "team/app")
			srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Code: code, Times: 3, Message: "injected for the test",
				Extra: map[string]any{"kmsError": "KMSInvalidStateException"}})
			_, err := InitiateLayerUpload(context.Background(), client(srv, 3), Target{Repository: "team/app", Region: region})
			f, ok := FactsOf(err)
			if !ok {
				t.Fatalf("want a failed call, got %v", err)
			}
			if f.Kind != kind || f.Code != code || f.RequestID == "" || f.Action != "ecr:InitiateLayerUpload" {
				t.Fatalf("want kind %d for %s, got %+v", kind, code, f)
			}
			if code == "KmsException" && f.KMSError != "KMSInvalidStateException" {
				t.Errorf("kmsError: got %q", f.KMSError)
			}
		})
	}
}

func TestThrottlingIsRetriedToSuccess(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Code: "ThrottlingException", Times: 2})
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Code: "ServerException", Times: 1})
	up, err := InitiateLayerUpload(context.Background(), client(srv, 4), Target{Repository: "team/app", Region: region})
	if err != nil {
		t.Fatal(err)
	}
	if up.ID == "" {
		t.Fatal("no upload ID")
	}
	if n := len(srv.RequestsFor("InitiateLayerUpload")); n != 4 {
		t.Fatalf("want 4 attempts, got %d", n)
	}
}
