// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const testRoleARN = "arn:aws:iam::123456789012:role/ci/pusher"

// stsClient is the AWS SDK's own STS client pointed at the endpoint.
func stsClient(srv *Server, creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(srv.URL()), Credentials: creds, RetryMaxAttempts: 1})
}

func staticCreds(key, secret, token string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, token)
}

// TestAssumedRoleCredentialsAreAcceptedForECR follows what a provider with
// assume_role does: stscreds assumes the role with the static key, then ECR
// and STS calls are signed with the temporary credentials it got.
func TestAssumedRoleCredentialsAreAcceptedForECR(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "assumed/app")
	ctx := context.Background()
	base := stsClient(srv, staticCreds(testAccessKey, testSecretKey, ""))
	provider := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(base, testRoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "tf-run"
		o.ExternalID = aws.String("ext-42")
		o.Duration = 20 * time.Minute
	}))

	client := ecr.New(ecr.Options{Region: testRegion, BaseEndpoint: aws.String(srv.URL()), Credentials: provider, RetryMaxAttempts: 1})
	if _, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("assumed/app")}); err != nil {
		t.Fatalf("ECR with assumed credentials: %v", err)
	}
	identity, err := stsClient(srv, provider).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("STS with assumed credentials: %v", err)
	}
	if want := "arn:aws:sts::123456789012:assumed-role/pusher/tf-run"; aws.ToString(identity.Arn) != want {
		t.Errorf("caller ARN: want %s, got %s", want, aws.ToString(identity.Arn))
	}
	if !strings.HasSuffix(aws.ToString(identity.UserId), ":tf-run") || !strings.HasPrefix(aws.ToString(identity.UserId), "AROA") {
		t.Errorf("user ID: want AROA...:tf-run, got %s", aws.ToString(identity.UserId))
	}

	issued := srv.IssuedCredentials()
	if len(issued) != 1 {
		t.Fatalf("want one issued credential, got %d", len(issued))
	}
	got := issued[0]
	if !strings.HasPrefix(got.AccessKeyID, "ASIA") || len(got.AccessKeyID) != 20 || got.SecretAccessKey == "" || got.SessionToken == "" {
		t.Errorf("issued credentials look wrong: %+v", got)
	}
	if got.SourceAccessKeyID != testAccessKey {
		t.Errorf("source key: want %s, got %s", testAccessKey, got.SourceAccessKeyID)
	}
	if left := time.Until(got.Expiration); left < 19*time.Minute || left > 21*time.Minute {
		t.Errorf("expiration: want about 20 minutes ahead, got %s", left)
	}
	for _, r := range srv.RequestsFor("InitiateLayerUpload") {
		if r.AccessKeyID != got.AccessKeyID || r.CallerARN != "arn:aws:sts::123456789012:assumed-role/pusher/tf-run" {
			t.Errorf("the ECR call was recorded as signed by %s (%s)", r.AccessKeyID, r.CallerARN)
		}
	}
	assume := srv.RequestsFor(stsAssumeRole)
	if len(assume) != 1 || assume[0].Input["ExternalId"] != "ext-42" || assume[0].Input["DurationSeconds"] != "1200" {
		t.Errorf("AssumeRole as recorded: %+v", assume)
	}
}

// TestIssuedCredentialsNeedTheirSessionToken: temporary credentials are only
// accepted with the session token issued with them, and not after expiry.
func TestIssuedCredentialsNeedTheirSessionToken(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "tokens")
	ctx := context.Background()
	out, err := stsClient(srv, staticCreds(testAccessKey, testSecretKey, "")).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(testRoleARN), RoleSessionName: aws.String("tokens")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	in := &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("tokens")}
	call := func(token string) error {
		client := ecr.New(ecr.Options{Region: testRegion, BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
			Credentials: staticCreds(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), token)})
		_, err := client.InitiateLayerUpload(ctx, in)
		return err
	}
	if err := call(aws.ToString(c.SessionToken)); err != nil {
		t.Fatalf("with its token: %v", err)
	}
	for name, token := range map[string]string{"no token": "", "another token": aws.ToString(c.SessionToken) + "x"} {
		if code := errorCode(t, call(token)); code != "UnrecognizedClientException" {
			t.Errorf("%s: want UnrecognizedClientException, got %s", name, code)
		}
	}
	if !srv.ExpireCredentials(aws.ToString(c.AccessKeyId)) {
		t.Fatal("ExpireCredentials does not know the issued key")
	}
	if code := errorCode(t, call(aws.ToString(c.SessionToken))); code != "ExpiredTokenException" {
		t.Errorf("expired: want ExpiredTokenException, got %s", code)
	}
	_, err = stsClient(srv, staticCreds(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code := errorCode(t, err); code != "ExpiredToken" {
		t.Errorf("expired, on STS: want ExpiredToken, got %s", code)
	}
}

func TestAssumeRoleErrorsInSTSShape(t *testing.T) {
	srv, err := Start("127.0.0.1:0", Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey,
		Roles: []Role{{ARN: testRoleARN, ExternalID: "ext-42", MaxSessionDuration: 2 * time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	client := stsClient(srv, staticCreds(testAccessKey, testSecretKey, ""))
	ok := sts.AssumeRoleInput{RoleArn: aws.String(testRoleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-42")}
	for name, tc := range map[string]struct {
		mutate      func(*sts.AssumeRoleInput)
		creds       aws.CredentialsProvider
		code, words string
	}{
		"valid":                {mutate: func(*sts.AssumeRoleInput) {}},
		"two hours is allowed": {mutate: func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(7200) }},
		"past the role's max": {mutate: func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(7201) },
			code: "ValidationError", words: "MaxSessionDuration"},
		"below STS's minimum": {mutate: func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(899) },
			code: "ValidationError", words: "at 'durationSeconds'"},
		"short session name": {mutate: func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String("s") },
			code: "ValidationError", words: "at 'roleSessionName'"},
		"bad session name": {mutate: func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String("has space") },
			code: "ValidationError", words: "regular expression pattern"},
		"wrong external ID": {mutate: func(in *sts.AssumeRoleInput) { in.ExternalId = aws.String("ext-43") },
			code: "AccessDenied", words: "not authorized to perform: sts:AssumeRole"},
		"unknown role": {mutate: func(in *sts.AssumeRoleInput) { in.RoleArn = aws.String("arn:aws:iam::123456789012:role/other") },
			code: "AccessDenied", words: "role/other"},
		"not a role ARN": {mutate: func(in *sts.AssumeRoleInput) { in.RoleArn = aws.String("arn:aws:iam::123456789012:user/someone") },
			code: "ValidationError", words: "is invalid"},
		"policy that is not JSON": {mutate: func(in *sts.AssumeRoleInput) { in.Policy = aws.String("{not json") },
			code: "MalformedPolicyDocument"},
		"wrong secret": {mutate: func(*sts.AssumeRoleInput) {}, creds: staticCreds(testAccessKey, "wrong", ""),
			code: "SignatureDoesNotMatch"},
		"unknown key": {mutate: func(*sts.AssumeRoleInput) {}, creds: staticCreds("AKIAUNKNOWN000000000", testSecretKey, ""),
			code: "InvalidClientTokenId"},
	} {
		in := ok
		tc.mutate(&in)
		c := client
		if tc.creds != nil {
			c = stsClient(srv, tc.creds)
		}
		_, err := c.AssumeRole(ctx, &in)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code || !strings.Contains(apiErr.ErrorMessage(), tc.words) {
			t.Errorf("%s: want %s mentioning %q, got %v", name, tc.code, tc.words, err)
		}
	}
}

// TestRoleChainingIsLimitedToAnHour: a role assumed with assumed credentials
// gets at most one hour, and its own assumed-role ARN.
func TestRoleChaining(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	first := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient(srv, staticCreds(testAccessKey, testSecretKey, "")), testRoleARN))
	chained := stsClient(srv, first)
	_, err := chained.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::210987654321:role/second"),
		RoleSessionName: aws.String("hop"), DurationSeconds: aws.Int32(3601)})
	if code := errorCode(t, err); code != "ValidationError" {
		t.Fatalf("chained past an hour: want ValidationError, got %s", code)
	}
	out, err := chained.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::210987654321:role/second"),
		RoleSessionName: aws.String("hop")})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:sts::210987654321:assumed-role/second/hop"; aws.ToString(out.AssumedRoleUser.Arn) != want {
		t.Errorf("want %s, got %s", want, aws.ToString(out.AssumedRoleUser.Arn))
	}
	issued := srv.IssuedCredentials()
	if len(issued) != 2 || issued[1].SourceAccessKeyID != issued[0].AccessKeyID || issued[1].AccountID != "210987654321" {
		t.Errorf("issued: %+v", issued)
	}
}

func TestAssumeRoleWithWebIdentity(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "oidc/app")
	ctx := context.Background()
	anonymous := stsClient(srv, aws.AnonymousCredentials{})
	provider := aws.NewCredentialsCache(stscreds.NewWebIdentityRoleProvider(anonymous, testRoleARN,
		stscreds.IdentityTokenFile("/dev/null"), func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "gha" }))
	// The token file is empty: STS refuses it, as AWS does a token that is too short.
	if _, err := provider.Retrieve(ctx); err == nil {
		t.Fatal("an empty web identity token was accepted")
	}
	tokenFile := t.TempDir() + "/token"
	writeFile(t, tokenFile, "eyJhbGciOiJSUzI1NiJ9.test-token.signature")
	provider = aws.NewCredentialsCache(stscreds.NewWebIdentityRoleProvider(anonymous, testRoleARN,
		stscreds.IdentityTokenFile(tokenFile), func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "gha" }))
	client := ecr.New(ecr.Options{Region: testRegion, BaseEndpoint: aws.String(srv.URL()), Credentials: provider, RetryMaxAttempts: 1})
	if _, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("oidc/app")}); err != nil {
		t.Fatal(err)
	}
	reqs := srv.RequestsFor(stsAssumeRoleWithWebIdentity)
	if len(reqs) != 2 || reqs[1].ErrorCode != "" || reqs[1].Authorization != "" {
		t.Errorf("web identity requests: %+v", reqs)
	}
	if issued := srv.IssuedCredentials(); len(issued) != 1 || issued[0].ARN != "arn:aws:sts::123456789012:assumed-role/pusher/gha" {
		t.Errorf("issued: %+v", issued)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
