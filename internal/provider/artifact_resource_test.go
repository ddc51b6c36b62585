// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// testAccArtifactConfig is the provider, an ecr_image of source (when not
// empty) and an ecr_artifact with arguments.
func testAccArtifactConfig(srv *ecrlocal.Server, source, arguments string) string {
	config := testAccProviderConfig(srv, "")
	if source != "" {
		config += fmt.Sprintf("resource \"ecr_image\" \"test\" {\n  repository_name = %q\n  source = %q\n}\n", testAccImageRepo, source)
	}
	return config + fmt.Sprintf("resource \"ecr_artifact\" \"test\" {\n  repository_name = %q\n  %s\n}\n", testAccImageRepo, arguments)
}

// wantArtifact is the manifest the test expects the provider to write, by
// the engine's own builder, for one file.
func wantArtifact(t *testing.T, artifactType, file, mediaType string, subject *ecrpush.Descriptor, annotations map[string]string) ecrpush.Manifest {
	t.Helper()
	b := mustT(os.ReadFile(file))
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	digest := h.String()
	return mustT(ecrpush.ArtifactManifest(ecrpush.Artifact{ArtifactType: artifactType, Subject: subject, Annotations: annotations,
		Files: []ecrpush.ArtifactFile{{Title: filepath.Base(file), MediaType: mediaType, Digest: digest, Size: int64(len(b))}}}))
}

// artifactReadBack reads the artifact back through the registry API with
// go-containerregistry: its manifest is the one wanted, byte for byte, its
// file blob is the file's bytes, and, with a subject, the subject's
// referrers list it with its artifactType.
func artifactReadBack(t *testing.T, srv *ecrlocal.Server, want *ecrpush.Manifest, file string, subject *string) stateCheckFunc {
	return func() error {
		host := strings.TrimPrefix(srv.URL(), "http://")
		repo := mustT(name.NewRepository(host+"/"+testAccImageRepo, name.Insecure))
		auth := remote.WithAuth(registryAuth(t, srv))
		desc, err := remote.Get(repo.Digest(want.Digest), auth)
		if err != nil {
			return fmt.Errorf("reading back %s: %w", want.Digest, err)
		}
		if !bytes.Equal(desc.Manifest, want.Raw) {
			return fmt.Errorf("the manifest read back:\n%s\nthe one planned:\n%s", desc.Manifest, want.Raw)
		}
		m := mustT(v1.ParseManifest(bytes.NewReader(desc.Manifest)))
		layer, err := remote.Layer(repo.Digest(m.Layers[0].Digest.String()), auth)
		if err != nil {
			return err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return err
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, mustT(os.ReadFile(file))) {
			return fmt.Errorf("the file read back differs (%v)", err)
		}
		if subject == nil {
			return nil
		}
		index, err := remote.Referrers(repo.Digest(*subject), auth)
		if err != nil {
			return fmt.Errorf("referrers of %s: %w", *subject, err)
		}
		for _, d := range mustT(index.IndexManifest()).Manifests {
			if d.Digest.String() == want.Digest && d.ArtifactType == m.ArtifactType {
				return nil
			}
		}
		return fmt.Errorf("the referrers of %s do not list %s: %+v", *subject, want.Digest, mustT(index.IndexManifest()).Manifests)
	}
}

// TestAccArtifact_sbom: an SBOM whose subject an ecr_image of the same
// configuration pushes. Its digest is known at plan (the subject's
// descriptor comes from the planned image), the manifest read back is the
// one planned, the subject's referrers list it, and import reads it back.
func TestAccArtifact_sbom(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	dir := t.TempDir()
	img := testAccRandomImage(t)
	source, imageDigest := testAccImageSource(t, "oci-layout", dir, img)
	sbom := filepath.Join(dir, "sbom.spdx.json")
	writeFile(t, sbom, `{"spdxVersion":"SPDX-2.3","name":"app"}`)
	annotations := map[string]string{"org.opencontainers.image.created": "2026-11-30T00:00:00Z"}
	subject := &ecrpush.Descriptor{MediaType: string(mustT(img.MediaType())), Digest: imageDigest, Size: int64(len(mustT(img.RawManifest())))}
	want := wantArtifact(t, "application/spdx+json", sbom, "application/spdx+json", subject, annotations)
	config := testAccArtifactConfig(srv, source, fmt.Sprintf(`subject_digest = ecr_image.test.image_digest
  artifact_type = "application/spdx+json"
  files = [{ path = %q, media_type = "application/spdx+json" }]
  annotations = { "org.opencontainers.image.created" = "2026-11-30T00:00:00Z" }`, sbom))
	covers := iamCovers{srv, []string{"ecr_image", "ecr_artifact"}}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if images := srv.Images(testAccRegion, "", testAccImageRepo); len(images) != 0 {
				return fmt.Errorf("images after destroy: %v", images)
			}
			return covers.CheckDestroy(s)
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("ecr_artifact.test", tfjsonpath.New("digest"), knownvalue.StringExact(want.Digest)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("ecr_artifact.test", tfjsonpath.New("id"),
						knownvalue.StringRegexp(regexp.MustCompile(`^[0-9]{12}/team/app@`+want.Digest+`$`))),
					artifactReadBack(t, srv, &want, sbom, &imageDigest),
					covers,
				},
			},
			{
				ResourceName:            "ecr_artifact.test",
				ImportState:             true,
				ImportStateIdFunc:       func(*terraform.State) (string, error) { return testAccImageRepo + "@" + want.Digest, nil },
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"files"},
			},
		},
	})
}

// TestAccArtifact_update: an artifact without a subject, tagged. A new file
// content is an in-place update with the new digest known at plan: the tag
// moves to the new artifact and the old one is removed; destroy removes it.
func TestAccArtifact_update(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	file := filepath.Join(t.TempDir(), "policy.tar.gz")
	writeFile(t, file, "bundle one")
	const kind, layerType = "application/vnd.cncf.openpolicyagent.bundle", "application/vnd.oci.image.layer.v1.tar+gzip"
	first := wantArtifact(t, kind, file, layerType, nil, nil)
	var second ecrpush.Manifest
	config := testAccArtifactConfig(srv, "", fmt.Sprintf("artifact_type = %q\n  files = [{ path = %q, media_type = %q }]\n  tags = [\"v1\"]",
		kind, file, layerType))
	tagIs := func(want *ecrpush.Manifest) stateCheckFunc {
		return func() error {
			if got := srv.ImageTags(testAccRegion, "", testAccImageRepo)["v1"]; got != want.Digest {
				return fmt.Errorf("v1 names %s, want %s", got, want.Digest)
			}
			if images := srv.Images(testAccRegion, "", testAccImageRepo); !slices.Equal(images, []string{want.Digest}) {
				return fmt.Errorf("the repository holds %v, want only %s", images, want.Digest)
			}
			return nil
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if images := srv.Images(testAccRegion, "", testAccImageRepo); len(images) != 0 {
				return fmt.Errorf("images after destroy: %v", images)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("ecr_artifact.test", tfjsonpath.New("digest"), knownvalue.StringExact(first.Digest)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{tagIs(&first), artifactReadBack(t, srv, &first, file, nil),
					iamCovers{srv, []string{"ecr_artifact"}}},
			},
			{
				PreConfig: func() {
					writeFile(t, file, "bundle two, longer")
					second = wantArtifact(t, kind, file, layerType, nil, nil)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_artifact.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("ecr_artifact.test", tfjsonpath.New("digest"),
						knownvalue.StringFunc(func(v string) error {
							if v != second.Digest {
								return fmt.Errorf("planned %s, want %s", v, second.Digest)
							}
							return nil
						})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{tagIs(&second), artifactReadBack(t, srv, &second, file, nil)},
			},
		},
	})
}

// TestAccArtifact_subjectUnknownAtPlan: a subject ECR does not have and no
// ecr_image plans leaves the digest unknown at plan, and the apply fails
// naming subject_digest before anything is put.
func TestAccArtifact_subjectUnknownAtPlan(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	file := filepath.Join(t.TempDir(), "sig.json")
	writeFile(t, file, `{"sig":1}`)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccArtifactConfig(srv, "", fmt.Sprintf("subject_digest = %q\n  artifact_type = \"application/json\"\n"+
				"  files = [{ path = %q, media_type = \"application/json\" }]", "sha256:"+strings.Repeat("e", 64), file)),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectUnknownValue("ecr_artifact.test", tfjsonpath.New("digest")),
			}},
			ExpectError: regexp.MustCompile(`(?s)Subject Not Found.*subject_digest.*` + strings.Repeat("e", 64)),
		}},
	})
	if n := len(srv.RequestsFor("PutImage")); n != 0 {
		t.Errorf("%d PutImage requests", n)
	}
}

// TestAccArtifact_badInputs: each mistake is refused at validate or plan, on
// its attribute, before any ECR call.
func TestAccArtifact_badInputs(t *testing.T) {
	testAccLayerCacheDir()
	dir := t.TempDir()
	good := filepath.Join(dir, "a.json")
	writeFile(t, good, "{}\n")
	other := filepath.Join(dir, "sub", "a.json")
	_ = os.MkdirAll(filepath.Dir(other), 0o700)
	writeFile(t, other, "[]\n")
	file := func(p string) string { return fmt.Sprintf("{ path = %q, media_type = \"application/json\" }", p) }
	for _, tc := range []struct{ name, args, want string }{
		{"artifact_type_not_media_type", fmt.Sprintf("artifact_type = \"spdx\"\n  files = [%s]", file(good)),
			`(?s)artifact_type.*must be a media type`},
		{"media_type_not_media_type", fmt.Sprintf("artifact_type = \"application/json\"\n  files = [{ path = %q, media_type = \"json\" }]", good),
			`(?s)files\[0\]\.media_type.*must be a media type`},
		{"no_files", "artifact_type = \"application/json\"\n  files = []", `(?s)files.*at least 1`},
		{"file_missing", fmt.Sprintf("artifact_type = \"application/json\"\n  files = [%s]", file(filepath.Join(dir, "nothing"))),
			`(?s)Cannot Use the Artifact File.*files\[0\]\.path.*nothing.*no such file`},
		{"file_is_directory", fmt.Sprintf("artifact_type = \"application/json\"\n  files = [%s, %s]", file(good), file(dir)),
			`(?s)Cannot Use the Artifact File.*files\[1\]\.path.*not a regular file`},
		{"duplicate_names", fmt.Sprintf("artifact_type = \"application/json\"\n  files = [%s, %s]", file(good), file(other)),
			`(?s)Duplicate File Name.*files\[1\]\.path.*"a\.json"`},
		{"subject_not_digest", fmt.Sprintf("subject_digest = \"sha256:abc\"\n  artifact_type = \"application/json\"\n  files = [%s]", file(good)),
			`(?s)subject_digest.*must be a digest`},
		{"annotation_key_empty", fmt.Sprintf("artifact_type = \"application/json\"\n  files = [%s]\n  annotations = { \"\" = \"x\" }", file(good)),
			`(?s)annotations.*length must be at least 1`},
		{"tag_bad", fmt.Sprintf("artifact_type = \"application/json\"\n  files = [%s]\n  tags = [\".v1\"]", file(good)),
			`(?s)must start with a letter, digit or '_'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", testAccImageRepo)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:   testAccArtifactConfig(srv, "", tc.args),
					PlanOnly: true,
					// Any space may be a line break: the CLI wraps details.
					ExpectError: regexp.MustCompile(strings.ReplaceAll(tc.want, " ", `\s+`)),
				}},
			})
			for _, r := range srv.Requests() {
				if !strings.HasPrefix(r.Operation, "sts:") {
					t.Errorf("%s reached the endpoint", r.Operation)
				}
			}
		})
	}
}
