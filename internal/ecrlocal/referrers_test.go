// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// emptyConfig is the OCI empty descriptor's blob, the config of an artifact
// with none of its own.
const emptyConfig = "{}"

// artifact is an OCI 1.1 artifact manifest over the empty config, with a
// subject (none when subject is zero) and an artifactType (none when "").
// Its one layer is pushed.
func artifact(t *testing.T, p pusher, subject testImage, artifactType, config, layer string) testImage {
	t.Helper()
	p.pushIfMissing([]byte(layer))
	fields := []string{`"schemaVersion":2`, fmt.Sprintf(`"mediaType":%q`, ociManifest)}
	if artifactType != "" {
		fields = append(fields, fmt.Sprintf(`"artifactType":%q`, artifactType))
	}
	fields = append(fields, config, fmt.Sprintf(`"layers":[{"mediaType":"text/plain","digest":%q,"size":%d}]`, digestOf([]byte(layer)), len(layer)))
	if subject.digest != "" {
		fields = append(fields, fmt.Sprintf(`"subject":{"mediaType":%q,"digest":%q,"size":%d}`, ociManifest, subject.digest, len(subject.manifest)))
	}
	fields = append(fields, fmt.Sprintf(`"annotations":{"org.example.layer":%q}`, layer))
	manifest := "{" + strings.Join(fields, ",") + "}"
	return testImage{manifest: manifest, digest: digestOf([]byte(manifest))}
}

func emptyConfigField() string {
	return fmt.Sprintf(`"config":{"mediaType":%q,"digest":%q,"size":2}`, emptyDescriptorType, digestOf([]byte(emptyConfig)))
}

func listReferrers(t *testing.T, p pusher, in *ecr.ListImageReferrersInput) (*ecr.ListImageReferrersOutput, error) {
	t.Helper()
	if in.RepositoryName == nil {
		in.RepositoryName = aws.String(p.repo)
	}
	return p.client.ListImageReferrers(context.Background(), in)
}

func referrerDigests(refs []types.ImageReferrer) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, aws.ToString(r.Digest))
	}
	return out
}

func TestListImageReferrers(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "refs/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "refs/app"}
	img := ociImage(t, p, "subject", "layer a")
	wantCode(t, "the subject", p.putImage(img, ociManifest, "v1"), "")

	const sbom, sig = "application/vnd.example.sbom+json", "application/vnd.example.sig.config+json"
	first := artifact(t, p, img, sbom, emptyConfigField(), "sbom")
	wantCode(t, "an artifact before the empty config blob is uploaded", p.putImage(first, "", ""), "LayersNotFoundException")
	p.pushIfMissing([]byte(emptyConfig))
	wantCode(t, "an artifact over the empty config", p.putImage(first, "", ""), "")
	// No artifactType: the referrer's is the config's media type.
	sigConfig := `{"signed":true}`
	p.pushIfMissing([]byte(sigConfig))
	second := artifact(t, p, img, "", fmt.Sprintf(`"config":{"mediaType":%q,"digest":%q,"size":%d}`, sig, digestOf([]byte(sigConfig)), len(sigConfig)), "sig")
	wantCode(t, "a referrer without artifactType", p.putImage(second, "", ""), "")
	// Another subject's referrer, and a subject that is not pushed (yet).
	absent := testImage{manifest: `{"not":"pushed"}`, digest: digestOf([]byte(`{"not":"pushed"}`))}
	wantCode(t, "a referrer of an absent subject", p.putImage(artifact(t, p, absent, sbom, emptyConfigField(), "other"), "", ""), "")

	out, err := listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(img.digest)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := referrerDigests(out.Referrers); strings.Join(got, ",") != first.digest+","+second.digest || out.NextToken != nil {
		t.Fatalf("referrers: %v, nextToken %v; want %s, %s", got, aws.ToString(out.NextToken), first.digest, second.digest)
	}
	r := out.Referrers[0]
	if aws.ToString(r.MediaType) != ociManifest || aws.ToInt64(r.Size) != int64(len(first.manifest)) || aws.ToString(r.ArtifactType) != sbom ||
		r.ArtifactStatus != types.ArtifactStatusActive || r.Annotations["org.example.layer"] != "sbom" {
		t.Fatalf("the first referrer: %+v", r)
	}
	if aws.ToString(out.Referrers[1].ArtifactType) != sig {
		t.Fatalf("the artifactType of a referrer without one: %q, want the config's %q", aws.ToString(out.Referrers[1].ArtifactType), sig)
	}

	out, err = listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(img.digest)},
		Filter: &types.ListImageReferrersFilter{ArtifactTypes: []string{sig}}})
	if err != nil || strings.Join(referrerDigests(out.Referrers), ",") != second.digest {
		t.Fatalf("filtered by %s: %v %v", sig, referrerDigests(out.Referrers), err)
	}

	// One at a time through nextToken.
	var paged []string
	var token *string
	for range 3 {
		out, err = listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(img.digest)},
			MaxResults: aws.Int32(1), NextToken: token})
		if err != nil || len(out.Referrers) != 1 {
			t.Fatalf("a page of one: %+v %v", out, err)
		}
		paged, token = append(paged, referrerDigests(out.Referrers)...), out.NextToken
		if token == nil {
			break
		}
	}
	if strings.Join(paged, ",") != first.digest+","+second.digest {
		t.Fatalf("paged: %v", paged)
	}

	// Deleting the subject leaves its referrers listed by its digest.
	deleted, err := p.client.BatchDeleteImage(context.Background(), &ecr.BatchDeleteImageInput{RepositoryName: aws.String(p.repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(img.digest)}}})
	if err != nil || len(deleted.ImageIds) != 1 {
		t.Fatalf("deleting the subject: %+v %v", deleted, err)
	}
	out, err = listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(img.digest)}})
	if err != nil || len(out.Referrers) != 2 {
		t.Fatalf("after deleting the subject: %v %v", referrerDigests(out.Referrers), err)
	}
}

func TestListImageReferrersErrors(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "refs/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "refs/app"}
	subject := &types.SubjectIdentifier{ImageDigest: aws.String(digestOf([]byte("nothing")))}

	out, err := listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: subject})
	if err != nil || len(out.Referrers) != 0 {
		t.Fatalf("a subject nobody refers to: %+v %v", out, err)
	}
	for _, n := range []int32{0, 51} {
		_, err := listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: subject, MaxResults: aws.Int32(n)})
		wantCode(t, fmt.Sprintf("maxResults %d", n), err, "InvalidParameterException")
		if !strings.Contains(err.Error(), "'maxResults'") {
			t.Errorf("maxResults %d: the message should name the member: %v", n, err)
		}
	}
	_, err = listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String("latest")}})
	wantCode(t, "a digest that is not one", err, "InvalidParameterException")
	_, err = listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: subject,
		Filter: &types.ListImageReferrersFilter{ArtifactTypes: []string{"a/b", "c/d", "e/f", "g/h", "i/j", "k/l"}}})
	wantCode(t, "six artifact types", err, "InvalidParameterException")
	_, err = listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: subject, NextToken: aws.String("9")})
	wantCode(t, "a token past the end", err, "InvalidParameterException")
	_, err = listReferrers(t, p, &ecr.ListImageReferrersInput{RepositoryName: aws.String("refs/none"), SubjectId: subject})
	wantCode(t, "a repository that does not exist", err, "RepositoryNotFoundException")
}

// TestPutImageChecksTheSubject: a subject must be a descriptor of a manifest
// ECR could hold.
func TestPutImageChecksTheSubject(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "refs/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "refs/app"}
	p.pushIfMissing([]byte(emptyConfig))
	img := ociImage(t, p, "subject", "layer a")
	good := artifact(t, p, img, "application/vnd.example+json", emptyConfigField(), "x")
	wantSubject := fmt.Sprintf(`"subject":{"mediaType":%q,"digest":%q,"size":%d}`, ociManifest, img.digest, len(img.manifest))
	for what, subject := range map[string]string{
		"a digest that is not sha256": fmt.Sprintf(`"subject":{"mediaType":%q,"digest":"md5:abc","size":3}`, ociManifest),
		"no media type":               fmt.Sprintf(`"subject":{"digest":%q,"size":%d}`, img.digest, len(img.manifest)),
		"no size":                     fmt.Sprintf(`"subject":{"mediaType":%q,"digest":%q}`, ociManifest, img.digest),
	} {
		bad := testImage{manifest: strings.Replace(good.manifest, wantSubject, subject, 1)}
		if bad.manifest == good.manifest {
			t.Fatal("the subject was not replaced")
		}
		bad.digest = digestOf([]byte(bad.manifest))
		wantCode(t, what, p.putImage(bad, "", ""), "InvalidParameterException")
	}
	bad := testImage{manifest: strings.Replace(good.manifest, `"application/vnd.example+json"`, `"not a media type"`, 1)}
	bad.digest = digestOf([]byte(bad.manifest))
	wantCode(t, "an artifactType that is not a media type", p.putImage(bad, "", ""), "InvalidParameterException")
	wantCode(t, "a well-formed referrer", p.putImage(good, "", ""), "")
}

// TestIndexReferrer: an index can refer to a subject too; its artifactType
// is its own (an index has no config to fall back on), and DescribeImages
// names the subject.
func TestIndexReferrer(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "refs/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "refs/app"}
	img, child := ociImage(t, p, "subject", "layer a"), ociImage(t, p, "child", "layer b")
	wantCode(t, "the subject", p.putImage(img, ociManifest, "v1"), "")
	wantCode(t, "the child", p.putImage(child, ociManifest, ""), "")
	const bundle = "application/vnd.example.bundle"
	index := ociIndexOf(child)
	index.manifest = strings.Replace(index.manifest, `"manifests":`, fmt.Sprintf(`"artifactType":%q,"subject":{"mediaType":%q,"digest":%q,"size":%d},"manifests":`,
		bundle, ociManifest, img.digest, len(img.manifest)), 1)
	index.digest = digestOf([]byte(index.manifest))
	wantCode(t, "the index referrer", p.putImage(index, "", ""), "")

	out, err := listReferrers(t, p, &ecr.ListImageReferrersInput{SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(img.digest)}})
	if err != nil || len(out.Referrers) != 1 || aws.ToString(out.Referrers[0].Digest) != index.digest ||
		aws.ToString(out.Referrers[0].MediaType) != ociIndex || aws.ToString(out.Referrers[0].ArtifactType) != bundle ||
		aws.ToInt64(out.Referrers[0].Size) != int64(len(index.manifest)) {
		t.Fatalf("the index referrer: %+v %v", out, err)
	}
	details, err := p.client.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String(p.repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(index.digest)}, {ImageDigest: aws.String(img.digest)}}})
	if err != nil || aws.ToString(details.ImageDetails[0].SubjectManifestDigest) != img.digest || details.ImageDetails[1].SubjectManifestDigest != nil {
		t.Fatalf("DescribeImages: %+v %v", details, err)
	}
}
