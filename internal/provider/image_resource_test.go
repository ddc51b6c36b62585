// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

const testAccImageRepo = "team/app"

// mustT returns v, or panics (failing the test) on an error building a
// fixture.
func mustT[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// testAccRandomImage is a small random image (a few KiB) with an OCI
// manifest, for linux/amd64 unless told.
func testAccRandomImage(t *testing.T, platform ...v1.Platform) v1.Image {
	t.Helper()
	img := mutate.MediaType(mustT(random.Image(2048, 2)), types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	if len(platform) > 0 {
		p = platform[0]
	}
	cfg := mustT(img.ConfigFile()).DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	return mustT(mutate.ConfigFile(img, cfg))
}

// writeLayout writes an OCI layout holding img at dir (replacing what was
// there) and returns the image's digest.
func writeLayout(t *testing.T, dir string, img v1.Image) string {
	t.Helper()
	_ = os.RemoveAll(dir)
	p := mustT(layout.Write(dir, empty.Index))
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return mustT(img.Digest()).String()
}

// tarDir writes a tarball of the directory dir to file.
func tarDir(t *testing.T, dir, file string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel := filepath.ToSlash(mustT(filepath.Rel(dir, p)))
		info := mustT(d.Info())
		hdr := mustT(tar.FileInfoHeader(info, ""))
		hdr.Name = rel
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.IsDir() {
			_, err = tw.Write(mustT(os.ReadFile(p)))
		}
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = os.WriteFile(file, buf.Bytes(), 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// testAccImageSource writes img in the given form ("oci-layout",
// "oci-archive", "docker-archive") under dir and returns the source path and
// the digest ECR must report.
func testAccImageSource(t *testing.T, kind, dir string, img v1.Image) (string, string) {
	t.Helper()
	switch kind {
	case "oci-layout":
		p := filepath.Join(dir, "layout")
		return p, writeLayout(t, p, img)
	case "oci-archive":
		layoutDir, p := filepath.Join(dir, "layout-for-tar"), filepath.Join(dir, "image.oci.tar")
		digest := writeLayout(t, layoutDir, img)
		tarDir(t, layoutDir, p)
		return p, digest
	case "docker-archive":
		p := filepath.Join(dir, "image.docker.tar")
		tag := mustT(name.NewTag("example.com/app:latest"))
		if err := tarball.WriteToFile(p, tag, img); err != nil {
			t.Fatal(err)
		}
		// A docker save tarball has no manifest: the one pushed is the
		// Docker schema 2 manifest go-containerregistry makes of it.
		docker := mutate.ConfigMediaType(mutate.MediaType(img, types.DockerManifestSchema2), types.DockerConfigJSON)
		return p, mustT(docker.Digest()).String()
	}
	t.Fatalf("unknown kind %s", kind)
	return "", ""
}

func testAccImageConfig(srv *ecrlocal.Server, arguments string) string {
	return testAccProviderConfig(srv, "") + fmt.Sprintf(`
resource "ecr_image" "test" {
  repository_name = %q
  %s
}
`, testAccImageRepo, arguments)
}

// registryAuth is the Basic authenticator GetAuthorizationToken hands out.
func registryAuth(t *testing.T, srv *ecrlocal.Server) authn.Authenticator {
	t.Helper()
	c := ecr.New(ecr.Options{Region: testAccRegion, BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(testAccAccessKey, testAccSecretKey, "")})
	out := mustT(c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{}))
	decoded := mustT(base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken)))
	user, password, _ := strings.Cut(string(decoded), ":")
	return &authn.Basic{Username: user, Password: password}
}

// readBack checks, through the endpoint's registry API with
// go-containerregistry's client, that the image the state records is there
// byte for byte: its manifest is the source's and crane reports its digest.
type readBack struct {
	t       *testing.T
	srv     *ecrlocal.Server
	want    *string // the source's digest
	rawWant func() []byte
}

func (c readBack) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = c.check(req)
}

func (c readBack) check(req statecheck.CheckStateRequest) error {
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address != "ecr_image.test" {
			continue
		}
		digest, _ := r.AttributeValues["image_digest"].(string)
		if digest != *c.want {
			return fmt.Errorf("image_digest %s, the source's is %s", digest, *c.want)
		}
		host := strings.TrimPrefix(c.srv.URL(), "http://")
		ref, err := name.ParseReference(host+"/"+testAccImageRepo+"@"+digest, name.Insecure)
		if err != nil {
			return err
		}
		auth := registryAuth(c.t, c.srv)
		desc, err := remote.Get(ref, remote.WithAuth(auth))
		if err != nil {
			return fmt.Errorf("reading back %s: %w", ref, err)
		}
		if desc.Digest.String() != digest {
			return fmt.Errorf("the registry serves %s for %s", desc.Digest, digest)
		}
		if want := c.rawWant(); want != nil && !bytes.Equal(desc.Manifest, want) {
			return fmt.Errorf("the manifest read back differs from the source's:\n%s\n%s", desc.Manifest, want)
		}
		craneDigest, err := crane.Digest(ref.String(), crane.WithAuth(auth), crane.Insecure)
		if err != nil || craneDigest != digest {
			return fmt.Errorf("crane digest %s, %v", craneDigest, err)
		}
		// Every blob is readable too (crane validates layers when pulling).
		if desc.MediaType.IsImage() {
			img, err := desc.Image()
			if err != nil {
				return err
			}
			layers, err := img.Layers()
			if err != nil {
				return err
			}
			for _, l := range layers {
				rc, err := l.Compressed()
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, rc)
				_ = rc.Close()
				if err != nil {
					return fmt.Errorf("reading a layer back: %w", err)
				}
			}
		}
		uri, _ := r.AttributeValues["image_uri"].(string)
		if !regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.eu-west-1\.amazonaws\.com/team/app@` + regexp.QuoteMeta(digest) + `$`).MatchString(uri) {
			return fmt.Errorf("image_uri %q", uri)
		}
		return nil
	}
	return fmt.Errorf("ecr_image.test is not in the state")
}

// rawManifest returns the source's top-level manifest bytes.
func rawManifest(img v1.Image, kind string) func() []byte {
	return func() []byte {
		if kind == "docker-archive" {
			img = mutate.ConfigMediaType(mutate.MediaType(img, types.DockerManifestSchema2), types.DockerConfigJSON)
		}
		return mustT(img.RawManifest())
	}
}

// partsSince counts UploadLayerPart requests after the first n.
func partsSince(srv *ecrlocal.Server, n *int) error {
	if got := len(srv.RequestsFor("UploadLayerPart")); got != *n {
		return fmt.Errorf("%d UploadLayerPart requests were sent, none expected", got-*n)
	}
	return nil
}

// TestAccImage_sources: for each source form, create, an empty re-plan, a
// read-back with go-containerregistry, a tag-only in-place update that sends
// no layer, a new image updated in place (no image deleted before every tag
// moved), and import.
func TestAccImage_sources(t *testing.T) {
	for _, kind := range []string{"oci-layout", "oci-archive", "docker-archive"} {
		t.Run(kind, func(t *testing.T) {
			testAccLayerCacheDir()
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", testAccImageRepo)
			dir := t.TempDir()
			img := testAccRandomImage(t)
			source, digest := testAccImageSource(t, kind, dir, img)
			var parts, requestsBefore int
			withTags := func(tags string) string {
				return testAccImageConfig(srv, fmt.Sprintf("source = %q\n  tags = %s", source, tags))
			}
			img2 := testAccRandomImage(t)
			var digest2 string
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				CheckDestroy:             iamCovers{srv, []string{"ecr_image"}}.CheckDestroy,
				Steps: []resource.TestStep{
					{
						Config: withTags(`["v1"]`),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction("ecr_image.test", plancheck.ResourceActionCreate),
							plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_digest"), knownvalue.StringExact(digest)),
							plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_uri"),
								knownvalue.StringRegexp(regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.eu-west-1\.amazonaws\.com/team/app@sha256:`))),
						}},
						ConfigStateChecks: []statecheck.StateCheck{
							readBack{t, srv, &digest, rawManifest(img, kind)},
							statecheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("tags"),
								knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("v1")})),
							stateCheckFunc(func() error {
								if got := srv.ImageTags(testAccRegion, "", testAccImageRepo)["v1"]; got != digest {
									return fmt.Errorf("tag v1 points at %q", got)
								}
								parts = len(srv.RequestsFor("UploadLayerPart"))
								return nil
							}),
						},
					},
					{
						Config:           withTags(`["v1"]`),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
					},
					{
						Config: withTags(`["v2", "latest"]`),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction("ecr_image.test", plancheck.ResourceActionUpdate),
						}},
						ConfigStateChecks: []statecheck.StateCheck{
							stateCheckFunc(func() error {
								tags := srv.ImageTags(testAccRegion, "", testAccImageRepo)
								if len(tags) != 2 || tags["v2"] != digest || tags["latest"] != digest {
									return fmt.Errorf("tags %v", tags)
								}
								return partsSince(srv, &parts)
							}),
						},
					},
					{
						PreConfig: func() {
							_ = os.RemoveAll(source)
							source, digest2 = testAccImageSource(t, kind, dir, img2)
						},
						Config: withTags(`["v2", "latest"]`),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction("ecr_image.test", plancheck.ResourceActionUpdate),
							plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_digest"), lazyString{&digest2}),
							planCheckFunc(func(*tfjson.Plan) error { requestsBefore = len(srv.Requests()); return nil }),
						}},
						ConfigStateChecks: []statecheck.StateCheck{
							readBack{t, srv, &digest2, rawManifest(img2, kind)},
							tagsNeverNameNothing{srv, &requestsBefore},
							stateCheckFunc(func() error {
								tags := srv.ImageTags(testAccRegion, "", testAccImageRepo)
								if tags["v2"] != digest2 || tags["latest"] != digest2 {
									return fmt.Errorf("tags %v", tags)
								}
								// The old image lost its tags to the new one and was deleted.
								if imgs := srv.Images(testAccRegion, "", testAccImageRepo); len(imgs) != 1 {
									return fmt.Errorf("images left: %v", imgs)
								}
								return nil
							}),
						},
					},
					{
						ResourceName:            "ecr_image.test",
						ImportState:             true,
						ImportStateIdFunc:       func(*terraform.State) (string, error) { return testAccImageRepo + "@" + digest2, nil },
						ImportStateVerify:       true,
						ImportStateVerifyIgnore: []string{"source"},
					},
				},
			})
		})
	}
}

// pushExternally pushes img to the repository with tag, as another tool
// would, behind Terraform's back.
func pushExternally(t *testing.T, srv *ecrlocal.Server, img v1.Image, tag string) string {
	t.Helper()
	return pushExternallyTo(t, srv, ecrpush.Target{Repository: testAccImageRepo, Region: testAccRegion}, img, tag)
}

// TestAccImage_drift: an image deleted outside Terraform is pushed again;
// a tag moved to another image is moved back.
func TestAccImage_drift(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	img := testAccRandomImage(t)
	source, digest := testAccImageSource(t, "oci-layout", t.TempDir(), img)
	config := testAccImageConfig(srv, fmt.Sprintf("source = %q\n  tags = [\"v1\", \"stable\"]\n  timeouts {\n    create = \"10m\"\n    update = \"5m\"\n  }", source))
	tagsAre := func(want map[string]string) stateCheckFunc {
		return func() error {
			got := srv.ImageTags(testAccRegion, "", testAccImageRepo)
			for tag, d := range want {
				if got[tag] != d {
					return fmt.Errorf("tag %s points at %q, want %s (all: %v)", tag, got[tag], d, got)
				}
			}
			return nil
		}
	}
	var other string
	var parts int
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{
				readBack{t, srv, &digest, rawManifest(img, "oci-layout")},
				stateCheckFunc(func() error { parts = len(srv.RequestsFor("UploadLayerPart")); return nil }),
			}},
			{
				PreConfig: func() {
					if !srv.DeleteImage(testAccRegion, "", testAccImageRepo, digest) {
						t.Fatal("the endpoint did not have the image")
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_image.test", plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					readBack{t, srv, &digest, rawManifest(img, "oci-layout")},
					tagsAre(map[string]string{"v1": digest, "stable": digest}),
					// The layers are there still: pushing the image again sends none.
					stateCheckFunc(func() error { return partsSince(srv, &parts) }),
				},
			},
			{
				PreConfig: func() { other = pushExternally(t, srv, testAccRandomImage(t), "stable") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_image.test", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					tagsAre(map[string]string{"v1": digest, "stable": digest}),
					stateCheckFunc(func() error {
						if other == "" || other == digest {
							return fmt.Errorf("the tag was not moved away first")
						}
						return nil
					}),
				},
			},
		},
	})
}

// TestAccImage_destroy: destroy deletes the image when only its own tags
// point at it, keeps it (without them) when another tag does, and with
// keep_remotely only forgets it.
func TestAccImage_destroy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		keep      bool
		otherTag  bool
		wantImage bool
		wantTags  []string
	}{
		{name: "deleted", wantImage: false},
		{name: "other_tag_keeps_it", otherTag: true, wantImage: true, wantTags: []string{"other"}},
		{name: "keep_remotely", keep: true, wantImage: true, wantTags: []string{"v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testAccLayerCacheDir()
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", testAccImageRepo)
			img := testAccRandomImage(t)
			source, digest := testAccImageSource(t, "oci-layout", t.TempDir(), img)
			config := testAccImageConfig(srv, fmt.Sprintf("source = %q\n  tags = [\"v1\"]\n  keep_remotely = %v", source, tc.keep))
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{
					{Config: config, ConfigStateChecks: []statecheck.StateCheck{
						stateCheckFunc(func() error {
							if tc.otherTag {
								m := ecrpush.Manifest{Digest: digest, MediaType: string(mustT(img.MediaType())), Raw: mustT(img.RawManifest())}
								api := ecr.New(ecr.Options{Region: testAccRegion, BaseEndpoint: aws.String(srv.URL()),
									Credentials: credentials.NewStaticCredentialsProvider(testAccAccessKey, testAccSecretKey, "")})
								return ecrpush.TagImage(context.Background(), api,
									ecrpush.Target{Repository: testAccImageRepo, Region: testAccRegion}, m, "other")
							}
							return nil
						}),
					}},
				},
				CheckDestroy: func(*terraform.State) error {
					images := srv.Images(testAccRegion, "", testAccImageRepo)
					if has := len(images) == 1 && images[0] == digest; has != tc.wantImage || len(images) > 1 {
						return fmt.Errorf("images after destroy: %v", images)
					}
					var tags []string
					for tag := range srv.ImageTags(testAccRegion, "", testAccImageRepo) {
						tags = append(tags, tag)
					}
					if fmt.Sprint(tags) != fmt.Sprint(tc.wantTags) && (len(tags) != 0 || len(tc.wantTags) != 0) {
						return fmt.Errorf("tags after destroy: %v, want %v", tags, tc.wantTags)
					}
					return nil
				},
			})
		})
	}
}

// TestAccImage_immutable: a tag an immutable repository holds for another
// image is refused with the tag, the image it points at and the setting.
func TestAccImage_immutable(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	current := pushExternally(t, srv, testAccRandomImage(t), "v1")
	srv.SetTagMutability(testAccRegion, "", testAccImageRepo, "IMMUTABLE")
	source, _ := testAccImageSource(t, "oci-layout", t.TempDir(), testAccRandomImage(t))
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccImageConfig(srv, fmt.Sprintf("source = %q\n  tags = [\"v1\"]", source)),
			ExpectError: regexp.MustCompile(`(?s)Image Tag Already Exists.*"v1".*` + regexp.QuoteMeta(current) +
				`.*imageTagMutability\s+is\s+IMMUTABLE`),
		}},
	})
	if got := srv.ImageTags(testAccRegion, "", testAccImageRepo)["v1"]; got != current {
		t.Fatalf("v1 points at %s", got)
	}
}

// testAccIndexLayout writes an OCI layout whose index.json lists one
// multi-platform index (linux/amd64, linux/arm64) and returns it.
func testAccIndexLayout(t *testing.T, dir string) (v1.ImageIndex, v1.Image, v1.Image) {
	t.Helper()
	amd := testAccRandomImage(t)
	arm := testAccRandomImage(t, v1.Platform{OS: "linux", Architecture: "arm64"})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	p := mustT(layout.Write(dir, empty.Index))
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	return idx, amd, arm
}

// TestAccImage_index: a multi-platform index pushed whole (children first),
// and one platform of it alone.
func TestAccImage_index(t *testing.T) {
	for _, platform := range []string{"", "linux/arm64"} {
		t.Run("platform="+platform, func(t *testing.T) {
			testAccLayerCacheDir()
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", testAccImageRepo)
			source := filepath.Join(t.TempDir(), "layout")
			idx, amd, arm := testAccIndexLayout(t, source)
			want, raw := mustT(idx.Digest()).String(), mustT(idx.RawManifest())
			wantImages := []string{mustT(amd.Digest()).String(), mustT(arm.Digest()).String(), want}
			args := fmt.Sprintf("source = %q\n  tags = [\"multi\"]", source)
			if platform != "" {
				want, raw = mustT(arm.Digest()).String(), mustT(arm.RawManifest())
				wantImages = []string{want}
				args += fmt.Sprintf("\n  platform = %q", platform)
			}
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{
					{
						Config: testAccImageConfig(srv, args),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_digest"), knownvalue.StringExact(want)),
						}},
						ConfigStateChecks: []statecheck.StateCheck{
							readBack{t, srv, &want, func() []byte { return raw }},
							stateCheckFunc(func() error {
								images := srv.Images(testAccRegion, "", testAccImageRepo)
								if fmt.Sprint(sorted(images)) != fmt.Sprint(sorted(wantImages)) {
									return fmt.Errorf("images %v, want %v", images, wantImages)
								}
								if tags := srv.ImageTags(testAccRegion, "", testAccImageRepo); len(tags) != 1 || tags["multi"] != want {
									return fmt.Errorf("tags %v", tags)
								}
								return nil
							}),
						},
					},
				},
			})
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// TestAccImage_badInputs: each bad input is refused at plan, on the argument
// to fix, before any request; a corrupted blob is refused at apply before
// any manifest is put.
func TestAccImage_badInputs(t *testing.T) {
	testAccLayerCacheDir()
	dir := t.TempDir()
	good, _ := testAccImageSource(t, "oci-layout", dir, testAccRandomImage(t))
	notImage := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notImage, []byte("not an image\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	several := filepath.Join(dir, "several")
	p := mustT(layout.Write(several, empty.Index))
	for _, ref := range []string{"one", "two"} {
		if err := p.AppendImage(testAccRandomImage(t), layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
			t.Fatal(err)
		}
	}
	index := filepath.Join(dir, "index")
	testAccIndexLayout(t, index)
	// An extracted docker save directory whose manifest.json names its layer
	// ../outside/secret.gz, a valid layer of the image: only confinement
	// refuses it.
	secret, secretDiffID := testAccGzipLayer(t)
	testAccWriteFiles(t, filepath.Join(dir, "outside"), map[string][]byte{"secret.gz": secret})
	escape := filepath.Join(dir, "escape")
	testAccWriteFiles(t, escape, testAccDockerSaveFiles("../outside/secret.gz", secretDiffID))
	// A legacy docker save tarball whose gzip layer has a byte changed
	// halfway through: only decompressing it against its diff_id shows it.
	corrupted := filepath.Join(dir, "corrupted.tar")
	layer, diffID := testAccGzipLayer(t)
	layer[len(layer)/2] ^= 0xff
	files := testAccDockerSaveFiles("l1/layer.tar.gz", diffID)
	files["l1/layer.tar.gz"] = layer
	testAccWriteFiles(t, filepath.Join(dir, "corrupted"), files)
	tarDir(t, filepath.Join(dir, "corrupted"), corrupted)
	for _, tc := range []struct {
		name, args string
		want       string
	}{
		{"source_missing", fmt.Sprintf("source = %q", filepath.Join(dir, "nothing-here")),
			`(?s)Not an Image.*source\s+=.*nothing-here.*no such file or directory`},
		{"source_not_an_image", fmt.Sprintf("source = %q", notImage), `(?s)Not an Image.*source\s+=.*notes\.txt.*neither an OCI image layout`},
		{"several_images_no_ref", fmt.Sprintf("source = %q", several), `(?s)Choose the Image to Push.*lists 2 images.*"one".*"two"`},
		{"ref_not_there", fmt.Sprintf("source = %q\n  ref = \"three\"", several), `(?s)Choose the Image to Push.*ref\s+=\s+"three".*"one".*"two"`},
		{"platform_not_in_index", fmt.Sprintf("source = %q\n  platform = \"linux/s390x\"", index),
			`(?s)Platform Not in the Image.*platform\s+=\s+"linux/s390x".*linux/amd64.*linux/arm64`},
		{"platform_malformed", fmt.Sprintf("source = %q\n  platform = \"linux\"", index), `(?s)platform\s+=\s+"linux".*must be os/arch or os/arch/variant`},
		{"tag_bad_character", fmt.Sprintf("source = %q\n  tags = [\"v1:latest\"]", good), `(?s)must start with a letter, digit or '_'`},
		{"tag_leading_dot", fmt.Sprintf("source = %q\n  tags = [\".v1\"]", good), `(?s)must start with a letter, digit or '_'`},
		{"tag_too_long", fmt.Sprintf("source = %q\n  tags = [%q]", good, strings.Repeat("a", 301)), `(?s)length must be between 1 and 300`},
		{"tag_empty", fmt.Sprintf("source = %q\n  tags = [\"\"]", good), `(?s)length must be between 1 and 300`},
		{"docker_dir_names_file_outside", fmt.Sprintf("source = %q", escape),
			`(?s)Image Names an Unsafe File.*source\s+=.*escape.*"\.\./outside/secret\.gz".*"\.\."\s+element`},
		{"legacy_gzip_layer_corrupted", fmt.Sprintf("source = %q", corrupted),
			`(?s)Image Corrupted.*source\s+=.*corrupted\.tar.*l1/layer\.tar\.gz.*` + diffID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", testAccImageRepo)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      testAccImageConfig(srv, tc.args),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
			for _, r := range srv.Requests() {
				if !strings.HasPrefix(r.Operation, "sts:") {
					t.Errorf("%s reached the endpoint", r.Operation)
				}
			}
		})
	}

	t.Run("corrupted_blob", func(t *testing.T) {
		srv := testAccEndpoint(t)
		srv.CreateRepository(testAccRegion, "", testAccImageRepo)
		img := testAccRandomImage(t)
		source, _ := testAccImageSource(t, "oci-layout", t.TempDir(), img)
		layer := mustT(img.Layers())[1]
		file := filepath.Join(source, "blobs", "sha256", mustT(layer.Digest()).Hex)
		b := mustT(os.ReadFile(file))
		b[len(b)/2] ^= 0xff // same size: only reading it shows
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:      testAccImageConfig(srv, fmt.Sprintf("source = %q\n  tags = [\"v1\"]", source)),
				ExpectError: regexp.MustCompile(`(?s)Image Corrupted.*` + mustT(layer.Digest()).String()),
			}},
		})
		if n := len(srv.RequestsFor("PutImage")); n != 0 {
			t.Errorf("%d PutImage requests after a corrupted blob", n)
		}
		if tags := srv.ImageTags(testAccRegion, "", testAccImageRepo); len(tags) != 0 {
			t.Errorf("tags %v", tags)
		}
	})
}

// testAccGzipLayer is a gzip layer as crane writes into a legacy docker
// save tarball, and its diff_id.
func testAccGzipLayer(t *testing.T) ([]byte, string) {
	t.Helper()
	layer := mustT(testAccRandomImage(t).Layers())[0]
	rc := mustT(layer.Compressed())
	defer func() { _ = rc.Close() }()
	return mustT(io.ReadAll(rc)), mustT(layer.DiffID()).String()
}

// testAccDockerSaveFiles are the manifest.json and config.json of a legacy
// docker save image of one layer, named layer in manifest.json.
func testAccDockerSaveFiles(layer, diffID string) map[string][]byte {
	return map[string][]byte{
		"config.json":   []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, diffID)),
		"manifest.json": []byte(fmt.Sprintf(`[{"Config":"config.json","RepoTags":["example.com/app:1"],"Layers":[%q]}]`, layer)),
	}
}

// testAccWriteFiles writes files (slash-separated names) under dir.
func testAccWriteFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccImage_createTimeout: an endpoint that stops answering mid-push is
// cut off by timeouts.create, with a message that names the limit; no
// manifest is put.
func TestAccImage_createTimeout(t *testing.T) {
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Kind: ecrlocal.FaultHang, Times: 1})
	source, _ := testAccImageSource(t, "oci-layout", t.TempDir(), testAccRandomImage(t))
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      testAccImageConfig(srv, fmt.Sprintf("source = %q\n  timeouts {\n    create = \"2s\"\n  }", source)),
			ExpectError: regexp.MustCompile(`(?s)Image Push Timed Out.*create\s+timeout\s+\(2s\)`),
		}},
	})
	if n := len(srv.RequestsFor("PutImage")); n != 0 {
		t.Fatalf("%d PutImage requests after the push timed out", n)
	}
}
