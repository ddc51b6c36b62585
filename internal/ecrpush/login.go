// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// GetAuthorizationTokenAPI is the part of the ECR client that hands out
// registry credentials.
type GetAuthorizationTokenAPI interface {
	GetAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput, opts ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
}

// RegistryLogin is a credential for ECR's registry HTTP API: HTTP Basic auth
// with Username "AWS", valid until ExpiresAt, for the registry at Endpoint.
type RegistryLogin struct {
	Username, Password string
	// Endpoint is the proxyEndpoint ECR names for the registry,
	// "https://<account>.dkr.ecr.<region>.amazonaws.com" on AWS.
	Endpoint  string
	ExpiresAt time.Time
}

// LoginToRegistry asks ECR, with the client's credentials, for a token to
// read the registry t names (t.RegistryID in t.Region; the caller's own
// registry when t.RegistryID is empty). Reading another account's registry
// needs that registry's repository policy to allow it.
func LoginToRegistry(ctx context.Context, api GetAuthorizationTokenAPI, t Target) (RegistryLogin, error) {
	in := &ecr.GetAuthorizationTokenInput{}
	if t.RegistryID != "" {
		// Deprecated by ECR (a token reads every registry the caller may
		// read), but it still makes the answer's proxyEndpoint the right one.
		in.RegistryIds = []string{t.RegistryID} //nolint:staticcheck // see above: the proxyEndpoint

	}
	out, err := api.GetAuthorizationToken(ctx, in, t.options)
	if err != nil {
		return RegistryLogin{}, operationError(ctx, "GetAuthorizationToken", t, err)
	}
	if len(out.AuthorizationData) == 0 {
		return RegistryLogin{}, &UnexpectedAnswerError{Operation: "GetAuthorizationToken", What: "the answer has no authorizationData"}
	}
	data := out.AuthorizationData[0]
	decoded, err := base64.StdEncoding.DecodeString(aws.ToString(data.AuthorizationToken))
	user, password, ok := strings.Cut(string(decoded), ":")
	if err != nil || !ok {
		return RegistryLogin{}, &UnexpectedAnswerError{Operation: "GetAuthorizationToken",
			What: "its authorizationToken is not base64 of user:password"}
	}
	return RegistryLogin{Username: user, Password: password, Endpoint: aws.ToString(data.ProxyEndpoint),
		ExpiresAt: aws.ToTime(data.ExpiresAt)}, nil
}

// registryHostRegexp matches the host names of ECR's private registries:
// <account>.dkr.ecr[-fips].<region>.<partition's DNS suffix>, and the
// dual-stack <account>.dkr-ecr[-fips].<region>.on.aws.
var registryHostRegexp = regexp.MustCompile(`^(\d{12})\.dkr[.-]ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.` +
	`(?:amazonaws\.com|amazonaws\.com\.cn|on\.aws|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$`)

// ParseRegistryHost tells whether host (no port) is an ECR private
// registry's, and whose: its account and region.
func ParseRegistryHost(host string) (registryID, region string, ok bool) {
	m := registryHostRegexp.FindStringSubmatch(strings.ToLower(host))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// String names the login without its password.
func (l RegistryLogin) String() string {
	return fmt.Sprintf("ECR registry login for %s (user %s, expires %s)", l.Endpoint, l.Username, l.ExpiresAt.Format(time.RFC3339))
}
