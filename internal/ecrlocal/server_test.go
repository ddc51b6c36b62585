// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
)

const (
	testAccessKey = "AKIAECRLOCALTEST0001"
	testSecretKey = "ecrlocal-test-secret-key-0000000000000001"
	testRegion    = "eu-west-1"
)

func startServer(t *testing.T) *Server {
	t.Helper()
	srv, err := Start("127.0.0.1:0", Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// sdkClient is the AWS SDK's own ECR client pointed at the endpoint: a client
// nobody in this project wrote.
func sdkClient(srv *Server, accessKey, secretKey string) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(srv.URL()),
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RetryMaxAttempts: 1,
	})
}

func errorCode(t *testing.T, err error) string {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want an AWS API error, got %v", err)
	}
	return apiErr.ErrorCode()
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestPushSequenceWithSDKClient(t *testing.T) {
	srv := startServer(t)
	client := sdkClient(srv, testAccessKey, testSecretKey)
	ctx := context.Background()
	repo := aws.String("team/app")
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}

	layer := bytes.Repeat([]byte("0123456789abcdef"), (minPartSize+1000)/16)
	digest := digestOf(layer)
	check, err := client.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: repo, LayerDigests: []string{digest}})
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Failures) != 1 || check.Failures[0].FailureCode != types.LayerFailureCodeMissingLayerDigest {
		t.Fatalf("before upload: want MissingLayerDigest, got %+v", check.Failures)
	}

	started, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: repo})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(started.PartSize) != DefaultPartSize {
		t.Fatalf("part size: want %d, got %d", DefaultPartSize, aws.ToInt64(started.PartSize))
	}
	parts := [][]byte{layer[:minPartSize], layer[minPartSize:]}
	var first int64
	for _, part := range parts {
		out, err := client.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{
			RepositoryName: repo, UploadId: started.UploadId, LayerPartBlob: part,
			PartFirstByte: aws.Int64(first), PartLastByte: aws.Int64(first + int64(len(part)) - 1)})
		if err != nil {
			t.Fatal(err)
		}
		first += int64(len(part))
		if aws.ToInt64(out.LastByteReceived) != first-1 {
			t.Fatalf("lastByteReceived: want %d, got %d", first-1, aws.ToInt64(out.LastByteReceived))
		}
	}
	done, err := client.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{
		RepositoryName: repo, UploadId: started.UploadId, LayerDigests: []string{digest}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(done.LayerDigest) != digest {
		t.Fatalf("digest: want %s, got %s", digest, aws.ToString(done.LayerDigest))
	}
	check, err = client.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: repo, LayerDigests: []string{digest}})
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Layers) != 1 || aws.ToInt64(check.Layers[0].LayerSize) != int64(len(layer)) {
		t.Fatalf("after upload: want the layer available with its size, got %+v", check.Layers)
	}
}

func TestUploadSemantics(t *testing.T) {
	srv := startServer(t)
	client := sdkClient(srv, testAccessKey, testSecretKey)
	ctx := context.Background()
	repo := aws.String("semantics")
	srv.CreateRepository(testRegion, "", *repo)
	initiate := func() *string {
		out, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: repo})
		if err != nil {
			t.Fatal(err)
		}
		return out.UploadId
	}
	put := func(id *string, first int64, blob []byte) error {
		_, err := client.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: repo, UploadId: id,
			LayerPartBlob: blob, PartFirstByte: aws.Int64(first), PartLastByte: aws.Int64(first + int64(len(blob)) - 1)})
		return err
	}
	complete := func(id *string, digest string) error {
		_, err := client.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: repo, UploadId: id,
			LayerDigests: []string{digest}})
		return err
	}

	t.Run("a part out of order carries lastValidByteReceived", func(t *testing.T) {
		id := initiate()
		if err := put(id, 0, []byte("abc")); err != nil {
			t.Fatal(err)
		}
		err := put(id, 10, []byte("def"))
		var invalid *types.InvalidLayerPartException
		if !errors.As(err, &invalid) || aws.ToInt64(invalid.LastValidByteReceived) != 2 {
			t.Fatalf("want InvalidLayerPartException with lastValidByteReceived 2, got %v", err)
		}
	})
	t.Run("a small part before the last is refused at completion", func(t *testing.T) {
		id := initiate()
		if err := put(id, 0, []byte("abc")); err != nil {
			t.Fatal(err)
		}
		if err := put(id, 3, []byte("def")); err != nil {
			t.Fatal(err)
		}
		if code := errorCode(t, complete(id, digestOf([]byte("abcdef")))); code != "LayerPartTooSmallException" {
			t.Fatalf("got %s", code)
		}
	})
	t.Run("a wrong digest is refused", func(t *testing.T) {
		id := initiate()
		if err := put(id, 0, []byte("abc")); err != nil {
			t.Fatal(err)
		}
		if code := errorCode(t, complete(id, digestOf([]byte("xyz")))); code != "InvalidLayerException" {
			t.Fatalf("got %s", code)
		}
	})
	t.Run("an empty upload is refused", func(t *testing.T) {
		if code := errorCode(t, complete(initiate(), digestOf(nil))); code != "EmptyUploadException" {
			t.Fatalf("got %s", code)
		}
	})
	t.Run("a completed upload is gone and the layer exists", func(t *testing.T) {
		for i, want := range []string{"", "LayerAlreadyExistsException"} {
			id := initiate()
			if err := put(id, 0, []byte("once")); err != nil {
				t.Fatal(err)
			}
			err := complete(id, digestOf([]byte("once")))
			if (want == "" && err != nil) || (want != "" && errorCode(t, err) != want) {
				t.Fatalf("round %d: want %q, got %v", i, want, err)
			}
			if code := errorCode(t, put(id, 4, []byte("more"))); code != "UploadNotFoundException" {
				t.Fatalf("after completion: got %s", code)
			}
		}
	})
	t.Run("an unknown repository", func(t *testing.T) {
		_, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("nope")})
		if code := errorCode(t, err); code != "RepositoryNotFoundException" {
			t.Fatalf("got %s", code)
		}
	})
	t.Run("the part size answered is the one chosen", func(t *testing.T) {
		srv.SetPartSize(6 << 20)
		out, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: repo})
		if err != nil || aws.ToInt64(out.PartSize) != 6<<20 {
			t.Fatalf("want 6 MiB, got %v (%v)", out, err)
		}
	})
}

func TestRepositoriesAreRegionalAndPerRegistry(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	srv.CreateRepository("us-east-2", "210987654321", "shared/base")
	client := sdkClient(srv, testAccessKey, testSecretKey)
	for _, tc := range []struct {
		region, registry string
		want             string
	}{
		{"us-east-2", "210987654321", ""},
		{"us-east-2", "", "RepositoryNotFoundException"},
		{testRegion, "210987654321", "RepositoryNotFoundException"},
	} {
		in := &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("shared/base")}
		if tc.registry != "" {
			in.RegistryId = aws.String(tc.registry)
		}
		_, err := client.InitiateLayerUpload(ctx, in, func(o *ecr.Options) { o.Region = tc.region })
		if tc.want == "" && err != nil {
			t.Errorf("%+v: %v", tc, err)
		}
		if tc.want != "" && (err == nil || errorCode(t, err) != tc.want) {
			t.Errorf("%+v: want %s, got %v", tc, tc.want, err)
		}
	}
}

func TestSignatureIsChecked(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "signed")
	ctx := context.Background()
	in := &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("signed")}
	for name, tc := range map[string]struct{ key, secret, want string }{
		"wrong secret":      {testAccessKey, "not-the-secret", "InvalidSignatureException"},
		"unknown key":       {"AKIAUNKNOWNKEY000000", testSecretKey, "UnrecognizedClientException"},
		"right credentials": {testAccessKey, testSecretKey, ""},
	} {
		_, err := sdkClient(srv, tc.key, tc.secret).InitiateLayerUpload(ctx, in)
		if tc.want == "" && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if tc.want != "" && (err == nil || errorCode(t, err) != tc.want) {
			t.Errorf("%s: want %s, got %v", name, tc.want, err)
		}
	}
	anonymous := ecr.New(ecr.Options{Region: testRegion, BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: aws.AnonymousCredentials{}})
	if _, err := anonymous.InitiateLayerUpload(ctx, in); err == nil || errorCode(t, err) != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: want MissingAuthenticationTokenException, got %v", err)
	}
}

func TestInjectedErrorsAreServedInOrder(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "faulty")
	srv.InjectFault("InitiateLayerUpload", Fault{Code: "KmsException", Extra: map[string]any{"kmsError": "KMSDisabled"}})
	client := sdkClient(srv, testAccessKey, testSecretKey)
	_, err := client.InitiateLayerUpload(context.Background(), &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("faulty")})
	var kms *types.KmsException
	if !errors.As(err, &kms) || aws.ToString(kms.KmsError) != "KMSDisabled" {
		t.Fatalf("want KmsException with kmsError, got %v", err)
	}
	if _, err := client.InitiateLayerUpload(context.Background(), &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("faulty")}); err != nil {
		t.Fatalf("the fault should be used up: %v", err)
	}
	if got := len(srv.RequestsFor("InitiateLayerUpload")); got != 2 {
		t.Fatalf("want 2 requests recorded, got %d", got)
	}
}

func TestGarbageGetsAnAWSErrorShape(t *testing.T) {
	for _, body := range []string{"not json", "[]", `{"repositoryName": 5}`, `{} {}`} {
		_, apiErr := decodeInput([]byte(body))
		if apiErr == nil {
			apiErr = validateInput("InitiateLayerUpload", mustDecode(t, body))
		}
		if apiErr == nil || !strings.HasSuffix(apiErr.Code, "Exception") {
			t.Errorf("%q: want an AWS error, got %v", body, apiErr)
		}
	}
}

func mustDecode(t *testing.T, body string) map[string]any {
	t.Helper()
	m, apiErr := decodeInput([]byte(body))
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	return m
}
