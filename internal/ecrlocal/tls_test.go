// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// TestStartTLS: the HTTPS endpoint answers clients that trust its CA, and
// only them.
func TestStartTLS(t *testing.T) {
	srv, caPEM, err := StartTLS("127.0.0.1:0", Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if !strings.HasPrefix(srv.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL: %s", srv.URL())
	}
	srv.CreateRepository(testRegion, "", "tls/app")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("the CA is not PEM")
	}
	for name, roots := range map[string]*x509.CertPool{"trusting the CA": pool, "trusting the system": nil} {
		client := sdkClient(srv, testAccessKey, testSecretKey)
		httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
		_, err := client.InitiateLayerUpload(context.Background(), &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("tls/app")},
			func(o *ecr.Options) { o.HTTPClient = httpClient })
		if (roots != nil) != (err == nil) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
