// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal_test

// These tests read images back from the endpoint with go-containerregistry
// (the library behind crane), a client nobody here wrote, to show that what
// was pushed through ECR's API is served byte for byte by its registry API.

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

const (
	accessKey = "AKIACRANECHECK000001"
	secretKey = "cranecheck-secret-key-000000000000000001"
	region    = "eu-west-1"
	repo      = "crane/app"
)

type endpoint struct {
	t      *testing.T
	srv    *ecrlocal.Server
	client *ecr.Client
	auth   authn.Authenticator
}

func start(t *testing.T) endpoint {
	t.Helper()
	srv, err := ecrlocal.Start("127.0.0.1:0", ecrlocal.Options{AccessKeyID: accessKey, SecretAccessKey: secretKey, PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.CreateRepository(region, "", repo)
	client := ecr.New(ecr.Options{Region: region, BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")})
	out, err := client.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, password, _ := strings.Cut(string(decoded), ":")
	return endpoint{t: t, srv: srv, client: client, auth: &authn.Basic{Username: user, Password: password}}
}

// pushBlob sends a blob through ECR's layer API, part by part.
func (e endpoint) pushBlob(digest v1.Hash, content []byte) {
	e.t.Helper()
	ctx := context.Background()
	check, err := e.client.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: aws.String(repo), LayerDigests: []string{digest.String()}})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(check.Layers) > 0 {
		return
	}
	started, err := e.client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(repo)})
	if err != nil {
		e.t.Fatal(err)
	}
	size := int(aws.ToInt64(started.PartSize))
	for first := 0; first < len(content); first += size {
		part := content[first:min(first+size, len(content))]
		if _, err := e.client.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo),
			UploadId: started.UploadId, LayerPartBlob: part, PartFirstByte: aws.Int64(int64(first)),
			PartLastByte: aws.Int64(int64(first + len(part) - 1))}); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.client.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo),
		UploadId: started.UploadId, LayerDigests: []string{digest.String()}}); err != nil {
		e.t.Fatal(err)
	}
}

func (e endpoint) putManifest(raw []byte, mediaType, tag string) {
	e.t.Helper()
	in := &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(raw)),
		ImageManifestMediaType: aws.String(mediaType)}
	if tag != "" {
		in.ImageTag = aws.String(tag)
	}
	if _, err := e.client.PutImage(context.Background(), in); err != nil {
		e.t.Fatal(err)
	}
}

// pushImage pushes an image's config and layers, then its manifest.
func (e endpoint) pushImage(img v1.Image, tag string) {
	e.t.Helper()
	layers, err := img.Layers()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range layers {
		digest, _ := l.Digest()
		e.pushBlob(digest, readAll(e.t, l.Compressed))
	}
	config, _ := img.RawConfigFile()
	configName, _ := img.ConfigName()
	e.pushBlob(configName, config)
	raw, _ := img.RawManifest()
	mediaType, _ := img.MediaType()
	e.putManifest(raw, string(mediaType), tag)
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e endpoint) ref(tagOrDigest string) name.Reference {
	e.t.Helper()
	host := strings.TrimPrefix(e.srv.URL(), "http://")
	sep := ":"
	if strings.HasPrefix(tagOrDigest, "sha256:") {
		sep = "@"
	}
	ref, err := name.ParseReference(host+"/"+repo+sep+tagOrDigest, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return ref
}

// TestImageReadsBackByteForByte pushes a three-layer image through ECR's
// API and reads it back through the registry API with go-containerregistry:
// the same manifest bytes and digest, the same layer bytes, and a valid
// image by go-containerregistry's own checks (what crane validate runs).
func TestImageReadsBackByteForByte(t *testing.T) {
	e := start(t)
	img, err := random.Image(6<<20, 3) // the first layers go in two parts
	if err != nil {
		t.Fatal(err)
	}
	e.pushImage(img, "v1")
	want, _ := img.Digest()
	wantRaw, _ := img.RawManifest()

	for _, r := range []string{"v1", want.String()} {
		got, err := remote.Image(e.ref(r), remote.WithAuth(e.auth))
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("%s: digest %s, want %s", r, d, want)
		}
		if raw, _ := got.RawManifest(); !bytes.Equal(raw, wantRaw) {
			t.Fatalf("%s: the manifest differs", r)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("%s: go-containerregistry finds the image invalid: %v", r, err)
		}
		gotLayers, _ := got.Layers()
		wantLayers, _ := img.Layers()
		for i := range wantLayers {
			if !bytes.Equal(readAll(t, gotLayers[i].Compressed), readAll(t, wantLayers[i].Compressed)) {
				t.Fatalf("%s: layer %d differs", r, i)
			}
		}
	}
	digest, err := crane.Digest(e.ref("v1").String(), crane.WithAuth(e.auth), crane.Insecure)
	if err != nil || digest != want.String() {
		t.Fatalf("crane.Digest: %s %v, want %s", digest, err, want)
	}
	if _, err := crane.Digest(e.ref("v2").String(), crane.WithAuth(e.auth), crane.Insecure); err == nil {
		t.Fatal("crane.Digest found a tag that was never pushed")
	}
	if _, err := remote.Image(e.ref("v1"), remote.WithAuth(&authn.Basic{Username: "AWS", Password: "wrong"})); err == nil {
		t.Fatal("a wrong password read the image")
	}
}

// TestIndexReadsBack pushes a two-platform index child by child, then the
// index, and reads it back whole with go-containerregistry.
func TestIndexReadsBack(t *testing.T) {
	e := start(t)
	index, err := random.Index(1024, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	manifest, _ := index.IndexManifest()
	for _, desc := range manifest.Manifests {
		child, err := index.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		e.pushImage(child, "")
	}
	raw, _ := index.RawManifest()
	mediaType, _ := index.MediaType()
	e.putManifest(raw, string(mediaType), "multi")

	got, err := remote.Index(e.ref("multi"), remote.WithAuth(e.auth))
	if err != nil {
		t.Fatal(err)
	}
	if gotRaw, _ := got.RawManifest(); !bytes.Equal(gotRaw, raw) {
		t.Fatal("the index manifest differs")
	}
	if err := validate.Index(got); err != nil {
		t.Fatalf("go-containerregistry finds the index invalid: %v", err)
	}
}
