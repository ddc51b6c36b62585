// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"strings"
	"testing"
)

func TestParseRegistryHost(t *testing.T) {
	for host, want := range map[string]string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com":          "123456789012 us-east-1",
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com": "123456789012 us-gov-west-1",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn":      "123456789012 cn-north-1",
		"123456789012.dkr-ecr.eu-west-1.on.aws":                 "123456789012 eu-west-1",
		"123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM":          "123456789012 us-east-1",
		"public.ecr.aws": "",
		"12345678901.dkr.ecr.us-east-1.amazonaws.com":           "",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com": "",
		"evil.com/123456789012.dkr.ecr.us-east-1.amazonaws.com": "",
		"ghcr.io": "",
	} {
		id, region, ok := ParseRegistryHost(host)
		got := ""
		if ok {
			got = id + " " + region
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", host, got, want)
		}
	}
}

// TestLoginToRegistry reads the token the local endpoint hands out for
// another account's registry in another region.
func TestLoginToRegistry(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	login, err := LoginToRegistry(context.Background(), client(srv, 1), Target{RegistryID: "210987654321", Region: "eu-central-1"})
	if err != nil {
		t.Fatal(err)
	}
	if login.Username != "AWS" || login.Password == "" || login.Endpoint == "" {
		t.Fatalf("login %v", login)
	}
	if strings.Contains(login.String(), login.Password) {
		t.Fatal("String() shows the password")
	}
	var found bool
	for _, tok := range srv.IssuedAuthorizationTokens() {
		if tok.Password == login.Password {
			found = tok.RegistryID == "210987654321" && tok.Region == "eu-central-1"
		}
	}
	if !found {
		t.Fatal("the endpoint issued no token for that registry and region")
	}
}
