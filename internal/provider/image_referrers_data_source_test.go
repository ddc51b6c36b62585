// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/acctest"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// A test's fixtures (the images and referrers it pushes as another tool
// would) are signed with a key of their own, so that iamCovers checks only
// the calls the provider made.
const (
	fixtureAccessKey = "AKIAECRFIXTURE000001"
	fixtureSecretKey = "ecr-acceptance-fixture-secret-key-000001"
)

// iamActionFor is the IAM action ECR authorizes an operation as: the
// operation's own name but for ListImageReferrers, which ECR_API.md says
// needs ecr:BatchGetImage (there is no ecr:ListImageReferrers action).
func iamActionFor(operation string) string {
	if operation == "ListImageReferrers" {
		return "ecr:BatchGetImage"
	}
	return "ecr:" + operation
}

const (
	sbomType      = "application/spdx+json"
	signatureType = "application/vnd.dev.cosign.artifact.sig.v1+json"
	referrersRepo = "team/app"
)

// referrersEndpoint is testAccEndpoint that also accepts the fixtures' key.
func referrersEndpoint(t *testing.T) *ecrlocal.Server {
	srv := acctest.Endpoint(t, ecrlocal.Options{ExtraCredentials: []ecrlocal.Credentials{
		{AccessKeyID: fixtureAccessKey, SecretAccessKey: fixtureSecretKey}}})
	srv.CreateRepository(testAccRegion, "", referrersRepo)
	return srv
}

// fixtures pushes images and referrers to the test's repository with the
// fixtures' key.
type fixtures struct {
	t   *testing.T
	api *ecr.Client
}

func newFixtures(t *testing.T, srv *ecrlocal.Server) fixtures {
	return fixtures{t, ecr.New(ecr.Options{Region: testAccRegion, BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(fixtureAccessKey, fixtureSecretKey, "")})}
}

var referrersTarget = ecrpush.Target{Repository: referrersRepo, Region: testAccRegion}

func (f fixtures) push(blobs []ecrpush.Blob, m ecrpush.Manifest) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := (&ecrpush.Pusher{API: f.api}).Push(ctx, referrersTarget, blobs); err != nil {
		f.t.Fatal(err)
	}
	if _, err := ecrpush.PutImage(ctx, f.api, referrersTarget, []ecrpush.Manifest{m}, nil); err != nil {
		f.t.Fatal(err)
	}
}

// image pushes a random image and returns its manifest.
func (f fixtures) image() ecrpush.Manifest {
	f.t.Helper()
	img := testAccRandomImage(f.t)
	config := mustT(img.RawConfigFile())
	blobs := []ecrpush.Blob{{Name: "config", Digest: mustT(img.ConfigName()).String(), Size: int64(len(config)), Content: bytes.NewReader(config)}}
	for _, l := range mustT(img.Layers()) {
		b := mustT(l.Compressed())
		raw := new(bytes.Buffer)
		mustT(raw.ReadFrom(b))
		_ = b.Close()
		blobs = append(blobs, ecrpush.Blob{Name: "layer", Digest: mustT(l.Digest()).String(), Size: int64(raw.Len()), Content: bytes.NewReader(raw.Bytes())})
	}
	m := ecrpush.Manifest{Digest: mustT(img.Digest()).String(), MediaType: string(mustT(img.MediaType())), Raw: mustT(img.RawManifest())}
	f.push(blobs, m)
	return m
}

// referrer pushes an OCI 1.1 artifact whose subject is subject: its config
// is the empty descriptor, whose blob ECR must have first.
func (f fixtures) referrer(subject ecrpush.Manifest, artifactType string, annotations map[string]string) ecrpush.Manifest {
	f.t.Helper()
	empty := []byte("{}")
	sum := sha256.Sum256(empty)
	emptyDigest := "sha256:" + hex.EncodeToString(sum[:])
	desc := map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": emptyDigest, "size": len(empty)}
	doc := map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"artifactType": artifactType, "config": desc, "layers": []any{desc},
		"subject": map[string]any{"mediaType": subject.MediaType, "digest": subject.Digest, "size": len(subject.Raw)}}
	if len(annotations) > 0 {
		doc["annotations"] = annotations
	}
	raw := mustT(json.Marshal(doc))
	sum = sha256.Sum256(raw)
	m := ecrpush.Manifest{Digest: "sha256:" + hex.EncodeToString(sum[:]), MediaType: "application/vnd.oci.image.manifest.v1+json", Raw: raw}
	f.push([]ecrpush.Blob{{Name: "config", Digest: emptyDigest, Size: int64(len(empty)), Content: bytes.NewReader(empty)}}, m)
	return m
}

// referrerCheck is the knownvalue check of one element of referrers.
func referrerCheck(m ecrpush.Manifest, artifactType string, annotations map[string]string) knownvalue.Check {
	ann := map[string]knownvalue.Check{}
	for k, v := range annotations {
		ann[k] = knownvalue.StringExact(v)
	}
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"digest":        knownvalue.StringExact(m.Digest),
		"artifact_type": knownvalue.StringExact(artifactType),
		"media_type":    knownvalue.StringExact(m.MediaType),
		"size":          knownvalue.Int64Exact(int64(len(m.Raw))),
		"annotations":   knownvalue.MapExact(ann),
	})
}

// TestAccImageReferrers_basic: every referrer with its fields, sorted by
// artifact type then digest; the filter; an empty list for an image with
// none; a precondition requiring an SBOM that holds; only the IAM action
// the policy lists.
func TestAccImageReferrers_basic(t *testing.T) {
	srv := referrersEndpoint(t)
	fx := newFixtures(t, srv)
	subject, bare := fx.image(), fx.image()
	sig := fx.referrer(subject, signatureType, nil)
	sbomAnn := []map[string]string{{"org.example.tool": "syft"}, {"org.example.tool": "trivy", "org.example.format": "2.3"}}
	sbom1, sbom2 := fx.referrer(subject, sbomType, sbomAnn[0]), fx.referrer(subject, sbomType, sbomAnn[1])
	sboms := []knownvalue.Check{referrerCheck(sbom1, sbomType, sbomAnn[0]), referrerCheck(sbom2, sbomType, sbomAnn[1])}
	if sbom2.Digest < sbom1.Digest {
		sboms[0], sboms[1] = sboms[1], sboms[0]
	}
	// application/spdx+json sorts before application/vnd.dev.cosign...
	all := append(slices.Clone(sboms), referrerCheck(sig, signatureType, nil))
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccProviderConfig(srv, "") + fmt.Sprintf(`
data "ecr_image_referrers" "all" {
  repository_name = %[1]q
  subject_digest  = %[2]q
}

data "ecr_image_referrers" "sbom" {
  repository_name = %[1]q
  subject_digest  = %[2]q
  artifact_types  = [%[4]q]
}

data "ecr_image_referrers" "sbom_one" {
  repository_name = %[1]q
  subject_digest  = %[2]q
  artifact_type   = %[4]q
}

data "ecr_image_referrers" "none" {
  repository_name = %[1]q
  subject_digest  = %[3]q
}

resource "terraform_data" "deploy" {
  input = %[2]q
  lifecycle {
    precondition {
      condition     = length(data.ecr_image_referrers.sbom.referrers) > 0
      error_message = "The image has no SBOM."
    }
  }
}
`, referrersRepo, subject.Digest, bare.Digest, sbomType),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.ecr_image_referrers.all", tfjsonpath.New("referrers"), knownvalue.ListExact(all)),
				statecheck.ExpectKnownValue("data.ecr_image_referrers.sbom", tfjsonpath.New("referrers"), knownvalue.ListExact(sboms)),
				statecheck.ExpectKnownValue("data.ecr_image_referrers.sbom_one", tfjsonpath.New("referrers"), knownvalue.ListExact(sboms)),
				statecheck.ExpectKnownValue("data.ecr_image_referrers.none", tfjsonpath.New("referrers"), knownvalue.ListSizeExact(0)),
				statecheck.ExpectKnownValue("data.ecr_image_referrers.all", tfjsonpath.New("region"), knownvalue.StringExact(testAccRegion)),
				statecheck.ExpectKnownValue("data.ecr_image_referrers.all", tfjsonpath.New("id"),
					knownvalue.StringRegexp(regexp.MustCompile(`^`+testAccRegion+`/([0-9]{12}/)?`+referrersRepo+`@`+subject.Digest+`$`))),
				iamCovers{srv, []string{"ecr_image_referrers"}},
				requestsCheck{Server: srv, Check: func(reqs []ecrlocal.Request) error {
					for _, r := range reqs {
						if r.Operation != "ListImageReferrers" || r.AccessKeyID == fixtureAccessKey {
							continue
						}
						filter, _ := r.Input["filter"].(map[string]any)
						if types := fmt.Sprint(filter["artifactTypes"]); filter != nil && types != "["+sbomType+"]" {
							return fmt.Errorf("a ListImageReferrers call filtered by %s", types)
						}
					}
					return nil
				}},
			},
		}},
	})
}

// TestAccImageReferrers_noSBOM: a precondition requiring an SBOM stops
// the apply, with its message, for an image that has only a signature.
func TestAccImageReferrers_noSBOM(t *testing.T) {
	srv := referrersEndpoint(t)
	fx := newFixtures(t, srv)
	subject := fx.image()
	fx.referrer(subject, signatureType, nil)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccProviderConfig(srv, "") + fmt.Sprintf(`
data "ecr_image_referrers" "sbom" {
  repository_name = %q
  subject_digest  = %q
  artifact_types  = [%q]
}

resource "terraform_data" "deploy" {
  input = data.ecr_image_referrers.sbom.subject_digest
  lifecycle {
    precondition {
      condition     = length(data.ecr_image_referrers.sbom.referrers) > 0
      error_message = "Image ${data.ecr_image_referrers.sbom.subject_digest} has no SPDX SBOM: refusing to deploy it."
    }
  }
}
`, referrersRepo, subject.Digest, sbomType),
			ExpectError: regexp.MustCompile(`Resource precondition failed[\s\S]*has\s+no\s+SPDX\s+SBOM:\s+refusing\s+to\s+deploy\s+it`),
		}},
	})
}

// TestAccImageReferrers_pages: 120 referrers take three calls of 50, and
// all of them are listed, sorted by digest (one artifact type).
func TestAccImageReferrers_pages(t *testing.T) {
	srv := referrersEndpoint(t)
	fx := newFixtures(t, srv)
	subject := fx.image()
	var digests []string
	for i := range 120 {
		digests = append(digests, fx.referrer(subject, signatureType, map[string]string{"n": fmt.Sprint(i)}).Digest)
	}
	slices.Sort(digests)
	want := make([]knownvalue.Check, len(digests))
	for i, d := range digests {
		want[i] = knownvalue.StringExact(d)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccProviderConfig(srv, "") + fmt.Sprintf(`
data "ecr_image_referrers" "test" {
  repository_name = %q
  subject_digest  = %q
}

output "digests" {
  value = data.ecr_image_referrers.test.referrers[*].digest
}
`, referrersRepo, subject.Digest),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("digests", knownvalue.ListExact(want)),
				requestsCheck{Server: srv, Check: func(reqs []ecrlocal.Request) error {
					var sizes []string
					for _, r := range reqs {
						if r.Operation == "ListImageReferrers" {
							sizes = append(sizes, fmt.Sprint(r.Input["maxResults"], "/", r.Output["nextToken"] != nil))
						}
					}
					// One read at plan, one at apply (or only the plan's): each three pages of 50.
					if s := strings.Join(sizes, " "); !strings.HasPrefix(s, "50/true 50/true 50/false") {
						return fmt.Errorf("ListImageReferrers calls (maxResults/more to come): %s", s)
					}
					return nil
				}},
			},
		}},
	})
}

// TestAccImageReferrers_errors: a repository that does not exist is an
// error naming it; a subject digest that is not one is refused at
// validation, before any call.
func TestAccImageReferrers_errors(t *testing.T) {
	srv := referrersEndpoint(t)
	config := func(repo, digest string) string {
		return testAccProviderConfig(srv, "") + fmt.Sprintf(`
data "ecr_image_referrers" "test" {
  repository_name = %q
  subject_digest  = %q
}
`, repo, digest)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config("team/gone", "sha256:"+strings.Repeat("a", 64)),
				ExpectError: regexp.MustCompile(`ECR Repository Not Found[\s\S]*There\s+is\s+no\s+repository\s+"team/gone"`),
			},
			{
				Config:      config(referrersRepo, "sha256:ABC"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Attribute\s+subject_digest\s+must\s+be\s+a\s+digest\s+of\s+the\s+form\s+sha256:<64\s+lowercase\s+hex\s+digits>`),
			},
		},
	})
}
