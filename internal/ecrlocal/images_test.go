// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// testImage is an OCI image manifest over blobs pushed to a repository.
type testImage struct {
	manifest, digest string
}

// ociImage pushes a config and layers and returns a manifest over them,
// without the mediaType field (as many OCI tools write it).
func ociImage(t *testing.T, p pusher, name string, layers ...string) testImage {
	t.Helper()
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","name":%q}`, name)
	descs := make([]string, 0, len(layers))
	for _, l := range layers {
		p.pushIfMissing([]byte(l))
		descs = append(descs, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}`, digestOf([]byte(l)), len(l)))
	}
	p.pushIfMissing([]byte(config))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		digestOf([]byte(config)), len(config), strings.Join(descs, ","))
	return testImage{manifest: manifest, digest: digestOf([]byte(manifest))}
}

func ociIndexOf(children ...testImage) testImage {
	descs := make([]string, 0, len(children))
	for i, c := range children {
		descs = append(descs, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"arch%d"}}`,
			ociManifest, c.digest, len(c.manifest), i))
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[%s]}`, ociIndex, strings.Join(descs, ","))
	return testImage{manifest: manifest, digest: digestOf([]byte(manifest))}
}

func (p pusher) pushIfMissing(blob []byte) {
	p.t.Helper()
	out, err := p.client.BatchCheckLayerAvailability(context.Background(), &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: aws.String(p.repo), LayerDigests: []string{digestOf(blob)}})
	if err != nil {
		p.t.Fatal(err)
	}
	if len(out.Layers) == 0 {
		p.push(blob)
	}
}

func (p pusher) putImage(img testImage, mediaType, tag string) error {
	in := &ecr.PutImageInput{RepositoryName: aws.String(p.repo), ImageManifest: aws.String(img.manifest)}
	if mediaType != "" {
		in.ImageManifestMediaType = aws.String(mediaType)
	}
	if tag != "" {
		in.ImageTag = aws.String(tag)
	}
	out, err := p.client.PutImage(context.Background(), in)
	if err == nil && aws.ToString(out.Image.ImageId.ImageDigest) != img.digest {
		return fmt.Errorf("PutImage answered digest %s, want %s", aws.ToString(out.Image.ImageId.ImageDigest), img.digest)
	}
	return err
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("%s: want %s, got success", what, code)
	}
	if got := errorCode(t, err); got != code {
		t.Fatalf("%s: want %s, got %s (%v)", what, code, got, err)
	}
}

func TestPutImageSemantics(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "images/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "images/app"}
	img := ociImage(t, p, "one", "layer a", "layer b")

	wantCode(t, "no media type anywhere", p.putImage(img, "", "v1"), "InvalidParameterException")
	wantCode(t, "a media type that is not the manifest's", p.putImage(ociIndexOf(img), ociManifest, ""), "InvalidParameterException")
	wantCode(t, "a media type ECR does not take", p.putImage(img, "application/json", ""), "InvalidParameterException")
	wantCode(t, "a tag ECR refuses", p.putImage(img, ociManifest, "-bad:tag"), "InvalidParameterException")
	_, err := p.client.PutImage(context.Background(), &ecr.PutImageInput{RepositoryName: aws.String(p.repo),
		ImageManifest: aws.String(img.manifest), ImageManifestMediaType: aws.String(ociManifest), ImageDigest: aws.String(digestOf([]byte("other")))})
	wantCode(t, "imageDigest not the manifest's", err, "ImageDigestDoesNotMatchException")

	missing := testImage{manifest: strings.Replace(img.manifest, digestOf([]byte("layer b")), digestOf([]byte("never pushed")), 1)}
	missing.digest = digestOf([]byte(missing.manifest))
	err = p.putImage(missing, ociManifest, "")
	wantCode(t, "a layer not pushed", err, "LayersNotFoundException")
	if !strings.Contains(err.Error(), digestOf([]byte("never pushed"))) {
		t.Errorf("LayersNotFoundException should name the missing layer: %v", err)
	}

	wantCode(t, "the image", p.putImage(img, ociManifest, "v1"), "")
	wantCode(t, "the same image and tag again", p.putImage(img, ociManifest, "v1"), "ImageAlreadyExistsException")
	wantCode(t, "the same image untagged", p.putImage(img, ociManifest, ""), "ImageAlreadyExistsException")
	wantCode(t, "a second tag", p.putImage(img, ociManifest, "latest"), "")

	// An index needs its children in the repository first.
	other := ociImage(t, p, "two", "layer c")
	index := ociIndexOf(img, other)
	wantCode(t, "an index before its child", p.putImage(index, "", "multi"), "ReferencedImagesNotFoundException")
	wantCode(t, "the child", p.putImage(other, ociManifest, ""), "")
	wantCode(t, "the index", p.putImage(index, "", "multi"), "")

	// A mutable tag moves; the image it leaves stays, untagged.
	wantCode(t, "moving latest", p.putImage(other, ociManifest, "latest"), "")
	if tags := srv.ImageTags(testRegion, "", "images/app"); tags["latest"] != other.digest || tags["v1"] != img.digest {
		t.Fatalf("tags after the move: %v", tags)
	}
}

func TestImmutableTags(t *testing.T) {
	srv := startServer(t)
	client := sdkClient(srv, testAccessKey, testSecretKey)
	ctx := context.Background()
	_, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("immutable/app"),
		ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{
			{FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("dev-*")}}})
	if err != nil {
		t.Fatal(err)
	}
	p := pusher{t, client, "immutable/app"}
	first, second := ociImage(t, p, "first", "a"), ociImage(t, p, "second", "b")
	for _, tag := range []string{"v1", "dev-x"} {
		wantCode(t, tag, p.putImage(first, ociManifest, tag), "")
	}
	err = p.putImage(second, ociManifest, "v1")
	wantCode(t, "moving an immutable tag", err, "ImageTagAlreadyExistsException")
	if !strings.Contains(err.Error(), "'v1'") || !strings.Contains(err.Error(), "IMMUTABLE_WITH_EXCLUSION") {
		t.Errorf("the message should name the tag and the setting: %v", err)
	}
	wantCode(t, "moving an excluded tag", p.putImage(second, ociManifest, "dev-x"), "")

	_, err = client.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("immutable/app"),
		ImageTagMutability: types.ImageTagMutabilityMutable})
	wantCode(t, "PutImageTagMutability", err, "")
	wantCode(t, "moving v1 once mutable", p.putImage(second, ociManifest, "v1"), "")
	described, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"immutable/app"}})
	if err != nil || described.Repositories[0].ImageTagMutability != types.ImageTagMutabilityMutable {
		t.Fatalf("DescribeRepositories: %+v %v", described, err)
	}
	_, err = client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("no/filters"),
		ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion})
	wantCode(t, "WITH_EXCLUSION without filters", err, "InvalidParameterException")
}

func TestReadAndDeleteImages(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "read/app")
	client := sdkClient(srv, testAccessKey, testSecretKey)
	ctx := context.Background()
	p := pusher{t, client, "read/app"}
	img, other := ociImage(t, p, "one", "layer a", "layer bb"), ociImage(t, p, "two", "layer c")
	wantCode(t, "img", p.putImage(img, ociManifest, "v1"), "")
	wantCode(t, "other", p.putImage(other, ociManifest, ""), "")
	index := ociIndexOf(img, other)
	wantCode(t, "index", p.putImage(index, "", "multi"), "")

	got, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("read/app"), ImageIds: []types.ImageIdentifier{
		{ImageTag: aws.String("v1")}, {ImageDigest: aws.String(other.digest)}, {ImageTag: aws.String("nope")},
		{ImageTag: aws.String("v1"), ImageDigest: aws.String(other.digest)}, {}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Images) != 2 || aws.ToString(got.Images[0].ImageManifest) != img.manifest ||
		aws.ToString(got.Images[0].ImageId.ImageDigest) != img.digest || aws.ToString(got.Images[0].ImageManifestMediaType) != ociManifest ||
		aws.ToString(got.Images[1].ImageManifest) != other.manifest {
		t.Fatalf("BatchGetImage images: %+v", got.Images)
	}
	var codes []string
	for _, f := range got.Failures {
		codes = append(codes, string(f.FailureCode))
	}
	if strings.Join(codes, ",") != "ImageNotFound,ImageTagDoesNotMatchDigest,MissingDigestAndTag" {
		t.Fatalf("BatchGetImage failures: %v", codes)
	}

	details, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("read/app"),
		Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged}})
	if err != nil {
		t.Fatal(err)
	}
	if len(details.ImageDetails) != 2 || aws.ToString(details.ImageDetails[0].ImageDigest) != img.digest ||
		aws.ToInt64(details.ImageDetails[0].ImageSizeInBytes) != int64(len("layer a")+len("layer bb")) ||
		details.ImageDetails[0].ImageTags[0] != "v1" {
		t.Fatalf("DescribeImages: %+v", details.ImageDetails)
	}
	_, err = client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("read/app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("gone")}}})
	wantCode(t, "DescribeImages of an unknown tag", err, "ImageNotFoundException")

	// A child of an index cannot go while the index lists it.
	deleted, err := client.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("read/app"),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(other.digest)}}})
	if err != nil || len(deleted.Failures) != 1 || deleted.Failures[0].FailureCode != types.ImageFailureCodeImageReferencedByManifestList {
		t.Fatalf("deleting a child: %+v %v", deleted, err)
	}
	// Removing an image's last tag removes the image.
	deleted, err = client.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("read/app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("multi")}}})
	if err != nil || len(deleted.ImageIds) != 1 || aws.ToString(deleted.ImageIds[0].ImageDigest) != index.digest {
		t.Fatalf("deleting the index by its tag: %+v %v", deleted, err)
	}
	if images := srv.Images(testRegion, "", "read/app"); len(images) != 2 {
		t.Fatalf("after deleting the index: %v", images)
	}
	_, err = client.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("read/app")})
	wantCode(t, "deleting a repository with images", err, "RepositoryNotEmptyException")
	_, err = client.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("read/app"), Force: true})
	wantCode(t, "deleting it with force", err, "")
}

func TestErrorsAreTheSDKsTypes(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "typed/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "typed/app"}
	img := ociImage(t, p, "x", "l")
	wantCode(t, "img", p.putImage(img, ociManifest, "v1"), "")
	var exists *types.ImageAlreadyExistsException
	if err := p.putImage(img, ociManifest, "v1"); !errors.As(err, &exists) {
		t.Fatalf("want *types.ImageAlreadyExistsException, got %T %v", err, err)
	}
}
