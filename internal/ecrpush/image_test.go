// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

const (
	ociManifestType = "application/vnd.oci.image.manifest.v1+json"
	ociIndexType    = "application/vnd.oci.image.index.v1+json"
)

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// testImage is an image made of a config and one layer, with an OCI manifest
// that has no mediaType field (so ECR needs imageManifestMediaType).
type testImage struct {
	blobs    []Blob
	manifest Manifest
}

func newTestImage(seed string) testImage {
	config := []byte(`{"architecture":"amd64","os":"linux","seed":"` + seed + `"}`)
	layer := bytes.Repeat([]byte(seed), 1000)
	raw := fmt.Sprintf(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		sha(config), len(config), sha(layer), len(layer))
	return testImage{
		blobs: []Blob{
			{Name: "config", Digest: sha(config), Size: int64(len(config)), Content: bytes.NewReader(config)},
			{Name: "layer", Digest: sha(layer), Size: int64(len(layer)), Content: bytes.NewReader(layer)},
		},
		manifest: Manifest{Digest: sha([]byte(raw)), MediaType: ociManifestType, Raw: []byte(raw)},
	}
}

func indexOf(children ...Manifest) Manifest {
	var descs []string
	for _, c := range children {
		descs = append(descs, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}}`,
			c.MediaType, c.Digest, len(c.Raw)))
	}
	raw := `{"schemaVersion":2,"mediaType":"` + ociIndexType + `","manifests":[` + strings.Join(descs, ",") + `]}`
	return Manifest{Digest: sha([]byte(raw)), MediaType: ociIndexType, Raw: []byte(raw)}
}

func pushBlobs(t *testing.T, srv *ecrlocal.Server, target Target, blobs []Blob) {
	t.Helper()
	if _, err := (&Pusher{API: client(srv, 1)}).Push(context.Background(), target, blobs); err != nil {
		t.Fatal(err)
	}
}

var imageTarget = Target{Repository: "team/app", Region: region}

func TestPutImageSendsManifestUnchangedWithMediaTypeDigestAndTags(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	img := newTestImage("a")
	pushBlobs(t, srv, imageTarget, img.blobs)
	res, err := PutImage(context.Background(), client(srv, 1), imageTarget, []Manifest{img.manifest}, []string{"v1", "latest"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != img.manifest.Digest || !RegistryIDRegexp.MatchString(res.RegistryID) || res.Calls != 2 || res.Existed != 0 {
		t.Fatalf("result %+v", res)
	}
	raw, mt, err := srv.Manifest(region, "", "team/app", img.manifest.Digest)
	if err != nil || !bytes.Equal(raw, img.manifest.Raw) || mt != ociManifestType {
		t.Fatalf("stored %q %s %v", raw, mt, err)
	}
	tags := srv.ImageTags(region, "", "team/app")
	if tags["v1"] != img.manifest.Digest || tags["latest"] != img.manifest.Digest {
		t.Fatalf("tags %v", tags)
	}
	for _, r := range srv.RequestsFor("PutImage") {
		if r.Input["imageManifestMediaType"] != ociManifestType || r.Input["imageDigest"] != img.manifest.Digest {
			t.Fatalf("PutImage input %v", r.Input)
		}
	}
}

func TestPutImageAgainIsSuccess(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	img := newTestImage("b")
	pushBlobs(t, srv, imageTarget, img.blobs)
	for range 2 {
		if _, err := PutImage(context.Background(), client(srv, 1), imageTarget, []Manifest{img.manifest}, nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := PutImage(context.Background(), client(srv, 1), imageTarget, []Manifest{img.manifest}, nil)
	if err != nil || res.Existed != 1 || !RegistryIDRegexp.MatchString(res.RegistryID) {
		t.Fatalf("%+v %v", res, err)
	}
	if codes := errorCodes(srv, "PutImage"); !slices.Contains(codes, "ImageAlreadyExistsException") {
		t.Fatalf("the endpoint never answered ImageAlreadyExistsException: %v", codes)
	}
}

func errorCodes(srv *ecrlocal.Server, op string) []string {
	var codes []string
	for _, r := range srv.RequestsFor(op) {
		codes = append(codes, r.ErrorCode)
	}
	return codes
}

func TestPutImageIndexChildrenFirstUntagged(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	a, b := newTestImage("c"), newTestImage("d")
	pushBlobs(t, srv, imageTarget, append(a.blobs, b.blobs...))
	idx := indexOf(a.manifest, b.manifest)
	if _, err := PutImage(context.Background(), client(srv, 1), imageTarget, []Manifest{a.manifest, b.manifest, idx}, []string{"multi"}); err != nil {
		t.Fatal(err)
	}
	reqs := srv.RequestsFor("PutImage")
	if len(reqs) != 3 || reqs[0].Input["imageTag"] != nil || reqs[1].Input["imageTag"] != nil || reqs[2].Input["imageTag"] != "multi" {
		t.Fatalf("requests %+v", reqs)
	}
	if got := srv.ImageTags(region, "", "team/app"); len(got) != 1 || got["multi"] != idx.Digest {
		t.Fatalf("tags %v", got)
	}
}

func TestPutImageWithoutBlobsNamesWhatIsMissing(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	img := newTestImage("e")
	_, err := PutImage(context.Background(), client(srv, 1), imageTarget, []Manifest{img.manifest}, nil)
	var missing *MissingReferencesError
	if !errors.As(err, &missing) || missing.Code != "LayersNotFoundException" || !strings.Contains(missing.Message, img.blobs[1].Digest) {
		t.Fatalf("got %v", err)
	}
}

func TestTagConflictNamesTagCurrentDigestAndMutability(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	a, b := newTestImage("f"), newTestImage("g")
	pushBlobs(t, srv, imageTarget, append(a.blobs, b.blobs...))
	api := client(srv, 1)
	if _, err := PutImage(context.Background(), api, imageTarget, []Manifest{a.manifest}, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	srv.SetTagMutability(region, "", "team/app", "IMMUTABLE")
	_, err := PutImage(context.Background(), api, imageTarget, []Manifest{b.manifest}, []string{"v1"})
	var conflict *TagConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("got %v", err)
	}
	if conflict.Tag != "v1" || conflict.Current != a.manifest.Digest || conflict.Mutability != "IMMUTABLE" ||
		conflict.Digest != b.manifest.Digest || conflict.LookupErr != nil {
		t.Fatalf("got %+v", conflict)
	}
	if _, ok := FactsOf(err); !ok {
		t.Fatal("the refused PutImage is not reachable as an OperationError")
	}
	if srv.ImageTags(region, "", "team/app")["v1"] != a.manifest.Digest {
		t.Fatal("the tag moved")
	}
}

func TestTagUntagDescribeAndDelete(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	img := newTestImage("h")
	pushBlobs(t, srv, imageTarget, img.blobs)
	api, ctx := client(srv, 1), context.Background()
	if _, err := PutImage(ctx, api, imageTarget, []Manifest{img.manifest}, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	bytesBefore, partsBefore := srv.BytesReceived(), len(srv.RequestsFor("UploadLayerPart"))
	if err := TagImage(ctx, api, imageTarget, img.manifest, "b"); err != nil {
		t.Fatal(err)
	}
	if srv.BytesReceived() != bytesBefore || len(srv.RequestsFor("UploadLayerPart")) != partsBefore {
		t.Fatal("tagging sent layer bytes")
	}
	info, found, err := DescribeImage(ctx, api, imageTarget, img.manifest.Digest)
	if err != nil || !found || !slices.Equal(info.Tags, []string{"a", "b"}) || info.MediaType != ociManifestType {
		t.Fatalf("%+v %v %v", info, found, err)
	}
	stored, err := GetImage(ctx, api, imageTarget, img.manifest.Digest)
	if err != nil || !bytes.Equal(stored.Raw, img.manifest.Raw) {
		t.Fatalf("%+v %v", stored, err)
	}

	// A tag that moved to another image is not removed.
	other := newTestImage("i")
	pushBlobs(t, srv, imageTarget, other.blobs)
	if _, err := PutImage(ctx, api, imageTarget, []Manifest{other.manifest}, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	removed, err := UntagImage(ctx, api, imageTarget, img.manifest.Digest, []string{"b", "a"})
	if err != nil || !slices.Equal(removed, []string{"a"}) {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if tags := srv.ImageTags(region, "", "team/app"); tags["b"] != other.manifest.Digest || tags["a"] != "" {
		t.Fatalf("tags %v", tags)
	}
	// Its last tag gone, ECR deleted the image.
	if _, found, err := DescribeImage(ctx, api, imageTarget, img.manifest.Digest); found || err != nil {
		t.Fatalf("found %v, %v", found, err)
	}
	if _, err := GetImage(ctx, api, imageTarget, img.manifest.Digest); !errors.As(err, new(*ImageNotFoundError)) {
		t.Fatalf("got %v", err)
	}

	if err := DeleteImage(ctx, api, imageTarget, other.manifest.Digest); err != nil {
		t.Fatal(err)
	}
	if imgs := srv.Images(region, "", "team/app"); len(imgs) != 0 {
		t.Fatalf("images left: %v", imgs)
	}
	// Deleting what is gone is no error.
	if err := DeleteImage(ctx, api, imageTarget, other.manifest.Digest); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteImageListedByIndexIsReferenced(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	a := newTestImage("j")
	pushBlobs(t, srv, imageTarget, a.blobs)
	api, ctx := client(srv, 1), context.Background()
	idx := indexOf(a.manifest)
	if _, err := PutImage(ctx, api, imageTarget, []Manifest{a.manifest, idx}, nil); err != nil {
		t.Fatal(err)
	}
	var del *DeleteImageError
	if err := DeleteImage(ctx, api, imageTarget, a.manifest.Digest); !errors.As(err, &del) || !del.Referenced() {
		t.Fatalf("got %v", err)
	}
}

func TestDescribeImageMissingRepository(t *testing.T) {
	srv := endpoint(t)
	_, _, err := DescribeImage(context.Background(), client(srv, 1), imageTarget, sha(nil))
	if f, ok := FactsOf(err); !ok || f.Kind != KindRepositoryNotFound || f.Action != "ecr:DescribeImages" {
		t.Fatalf("got %+v %v", f, err)
	}
}

func TestBadImageTagsSendNothing(t *testing.T) {
	srv := endpoint(t)
	img := newTestImage("k")
	for _, tag := range []string{"", strings.Repeat("a", 301), "-lead", ".lead", "has space", "a/b", "tag:x"} {
		if _, err := PutImage(context.Background(), client(srv, 1), imageTarget, []Manifest{img.manifest}, []string{tag}); err == nil {
			t.Errorf("%q accepted", tag)
		}
	}
	for _, tag := range []string{"a", "_x", strings.Repeat("a", 300), "v1.2.3-rc_1", "9"} {
		if err := ValidateImageTag(tag); err != nil {
			t.Errorf("%q: %v", tag, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests reached the endpoint", n)
	}
}

func TestImageTagAgreesWithModel(t *testing.T) {
	c, ok := ecrlocal.StringShape("ImageTag")
	if !ok || c.Min != ImageTagMinLen || c.Max != ImageTagMaxLen {
		t.Fatalf("model ImageTag %+v, ok %v", c, ok)
	}
}
