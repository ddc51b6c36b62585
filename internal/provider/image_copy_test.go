// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// blobGets returns the blob digests fetched with GET since the from-th
// request, and the Range headers they had.
func (s *sourceRegistry) blobGets(from int) (digests, ranges []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.requests[from:] {
		if i := strings.LastIndex(r.path, "/blobs/"); i >= 0 && r.method == http.MethodGet {
			digests = append(digests, r.path[i+len("/blobs/"):])
			ranges = append(ranges, r.rangeHeader)
		}
	}
	return digests, ranges
}

func (s *sourceRegistry) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *sourceRegistry) setCorrupt(digest string) {
	s.mu.Lock()
	s.corrupt = digest
	s.mu.Unlock()
}

// copyConfig is an ecr_image copying ref with the given credentials.
func copyConfig(srv *ecrlocal.Server, ref, user, password, more string) string {
	creds := ""
	if user != "" {
		creds = fmt.Sprintf("source_username = %q\n  source_password_wo = %q\n", user, password)
	}
	return testAccImageConfig(srv, fmt.Sprintf("source_image = %q\n  %s  %s", ref, creds, more))
}

// TestAccImage_copy copies an image from a registry with Basic auth: the
// digest is planned, the copy reads back byte for byte, the password is in
// neither the plan nor the state; a tag moved upstream is an in-place
// update that fetches only the blobs ECR lacks; a plan with nothing new
// fetches no blob.
func TestAccImage_copy(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	const user, password = "puller", "pa55-source-secret-Zq81"
	src := newSourceRegistry(t, user, password)
	img1 := testAccRandomImage(t)
	digest1 := src.push(t, "mirror/app", "1.0", img1)
	extra := mustT(random.Layer(4096, "application/vnd.oci.image.layer.v1.tar+gzip"))
	img2 := mustT(mutate.AppendLayers(img1, extra))
	digest2 := mustT(img2.Digest()).String()
	ref := src.host + "/mirror/app:1.0"
	config := copyConfig(srv, ref, user, password, `tags = ["1.0"]`)
	want := digest1
	var before int
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_digest"), knownvalue.StringExact(digest1)),
					noSecretIn(password),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					readBack{t, srv, &want, func() []byte { return mustT(img1.RawManifest()) }},
					statecheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("source_password_wo"), knownvalue.Null()),
					stateHasNo(password),
				},
			},
			{
				PreConfig: func() {
					src.push(t, "mirror/app", "1.0", img2)
					want, before = digest2, src.count()
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_image.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_digest"), knownvalue.StringExact(digest2)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					readBack{t, srv, &want, func() []byte { return mustT(img2.RawManifest()) }},
					stateCheckFunc(func() error {
						got, _ := src.blobGets(before)
						wantGets := []string{mustT(img2.ConfigName()).String(), mustT(extra.Digest()).String()}
						if !sameSet(got, wantGets) {
							return fmt.Errorf("the update fetched blobs %v; only the new config and layer, %v, are not in ECR", got, wantGets)
						}
						if tags := srv.ImageTags(testAccRegion, "", testAccImageRepo); tags["1.0"] != digest2 {
							return fmt.Errorf("tag 1.0 names %s", tags["1.0"])
						}
						return nil
					}),
				},
			},
			{
				PreConfig: func() { before = src.count() },
				Config:    config,
				ConfigStateChecks: []statecheck.StateCheck{
					stateCheckFunc(func() error {
						if got, _ := src.blobGets(before); len(got) != 0 {
							return fmt.Errorf("a plan and apply with nothing new fetched blobs %v", got)
						}
						return nil
					}),
				},
			},
		},
	})
}

// TestAccImage_copyFromECR copies from another account's registry in
// another region, which the provider reads with its own AWS credentials.
func TestAccImage_copyFromECR(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	const otherAccount, otherRegion = "210987654321", "eu-central-1"
	srv.CreateRepository(otherRegion, otherAccount, "vendor/agent")
	img := testAccRandomImage(t)
	digest := pushExternallyTo(t, srv, ecrpush.Target{Repository: "vendor/agent", RegistryID: otherAccount, Region: otherRegion}, img, "v7")
	ref := otherAccount + ".dkr.ecr." + otherRegion + ".amazonaws.com/vendor/agent:v7"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: copyConfig(srv, ref, "", "", `tags = ["agent-v7"]`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_digest"), knownvalue.StringExact(digest)),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				readBack{t, srv, &digest, func() []byte { return mustT(img.RawManifest()) }},
				iamCovers{srv: srv, types: []string{"ecr_image"}},
				stateCheckFunc(func() error {
					for _, tok := range srv.IssuedAuthorizationTokens() {
						if tok.RegistryID == otherAccount && tok.Region == otherRegion {
							return nil
						}
					}
					return fmt.Errorf("no registry token was asked for %s in %s", otherAccount, otherRegion)
				}),
			},
		}},
	})
}

// TestAccImage_copyResumes: a copy interrupted by ECR failing part 2 goes
// on, at the next apply, from the byte ECR holds, reading the source from
// there with a range request, or reading and discarding up to it where the
// registry has no range support.
func TestAccImage_copyResumes(t *testing.T) {
	for _, noRange := range []bool{false, true} {
		t.Run(fmt.Sprintf("noRange=%v", noRange), func(t *testing.T) {
			testAccLayerCacheDir()
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", testAccImageRepo)
			srv.SetPartSize(5 << 20)
			src := newSourceRegistry(t, "", "")
			src.set(func(s *sourceRegistry) { s.noRange = noRange })
			layer := mustT(random.Layer(11<<20, "application/vnd.oci.image.layer.v1.tar"))
			img := mustT(mutate.AppendLayers(mustT(random.Image(0, 0)), layer))
			digest := src.push(t, "big/app", "1", img)
			layerDigest := mustT(layer.Digest()).String()
			// ECR has the config already, so the layer is the only blob sent:
			// its second part is the second UploadLayerPart.
			raw := mustT(img.RawConfigFile())
			if _, err := (&ecrpush.Pusher{API: testAccECRClient(srv)}).Push(context.Background(),
				ecrpush.Target{Repository: testAccImageRepo, Region: testAccRegion},
				[]ecrpush.Blob{{Name: "config", Digest: mustT(img.ConfigName()).String(), Size: int64(len(raw)),
					Content: bytes.NewReader(raw)}}); err != nil {
				t.Fatal(err)
			}
			config := copyConfig(srv, src.host+"/big/app:1", "", "", "")
			var before int
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{
					{
						// Not retried, the fault is used up by this apply.
						PreConfig: func() {
							srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Code: "InvalidParameterException",
								Message: "injected", After: 1, Times: 1})
						},
						Config:      config,
						ExpectError: regexp.MustCompile(`UploadLayerPart`),
					},
					{
						PreConfig: func() { before = src.count() },
						Config:    config,
						ConfigStateChecks: []statecheck.StateCheck{
							readBack{t, srv, &digest, func() []byte { return mustT(img.RawManifest()) }},
							stateCheckFunc(func() error {
								gets, ranges := src.blobGets(before)
								for i, d := range gets {
									if d != layerDigest {
										continue
									}
									// Asked for from where ECR stands; the registry
									// without range support sent it all, and the
									// provider skipped to there.
									if want := fmt.Sprintf("bytes=%d-%d", 5<<20, mustT(layer.Size())-1); ranges[i] != want {
										return fmt.Errorf("the layer was fetched with Range %q, want %q", ranges[i], want)
									}
									return nil
								}
								return fmt.Errorf("the layer was not fetched again (gets %v)", gets)
							}),
							stateCheckFunc(func() error {
								// The config's part and the layer's first: byte 0 of
								// the layer was not sent again.
								zero := 0
								for _, r := range srv.RequestsFor("UploadLayerPart") {
									if fmt.Sprint(r.Input["partFirstByte"]) == "0" && r.ErrorCode == "" {
										zero++
									}
								}
								if zero != 2 {
									return fmt.Errorf("%d parts from byte 0 were sent, want 2 (the config's, the layer's once)", zero)
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

// TestAccImage_copyFailures: each failure a user meets names itself, at
// plan where it can, and puts nothing in ECR.
func TestAccImage_copyFailures(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	const password = "right-password-Hx2"
	src := newSourceRegistry(t, "u", password)
	img := testAccRandomImage(t)
	src.push(t, "app", "1", img)
	layer := mustT(img.Layers())[0]
	ref := src.host + "/app:1"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: copyConfig(srv, "Not A Reference!", "", "", ""), PlanOnly: true,
				ExpectError: regexp.MustCompile(`Invalid Image Reference`)},
			{Config: copyConfig(srv, ref, "", "", `source = "."`), PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Combination.*source`)},
			{Config: copyConfig(srv, ref, "", "", `ref = "x"`), PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Combination.*ref`)},
			{Config: copyConfig(srv, ref, "u", "wrong-password-Qp7", ""), PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Registry Refused the Credentials.*source_username`)},
			{Config: copyConfig(srv, ref, "", "", ""), PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Registry Refused the Credentials.*anonymous`)},
			{Config: copyConfig(srv, src.host+"/app:nope", "u", password, ""), PlanOnly: true,
				ExpectError: regexp.MustCompile(`Image Not Found in the Source Registry`)},
			{
				PreConfig:   func() { src.setCorrupt(mustT(layer.Digest()).String()) },
				Config:      copyConfig(srv, ref, "u", password, ""),
				ExpectError: regexp.MustCompile(`(?s)(Served Other Bytes|Image Corrupted)`),
			},
			{
				PreConfig: func() {
					if n := len(srv.RequestsFor("PutImage")); n != 0 {
						t.Fatalf("%d PutImage calls after a corrupted blob", n)
					}
					src.setCorrupt("")
				},
				Config: copyConfig(srv, ref, "u", password, ""),
			},
		},
	})
}

// pushExternallyTo pushes img to target as another tool would, tagged tag.
func pushExternallyTo(t *testing.T, srv *ecrlocal.Server, target ecrpush.Target, img v1.Image, tag string) string {
	t.Helper()
	api := testAccECRClient(srv)
	config := mustT(img.RawConfigFile())
	blobs := []ecrpush.Blob{{Name: "config", Digest: mustT(img.ConfigName()).String(), Size: int64(len(config)), Content: bytes.NewReader(config)}}
	for _, l := range mustT(img.Layers()) {
		rc := mustT(l.Compressed())
		b := mustT(io.ReadAll(rc))
		_ = rc.Close()
		blobs = append(blobs, ecrpush.Blob{Name: "layer", Digest: mustT(l.Digest()).String(), Size: int64(len(b)), Content: bytes.NewReader(b)})
	}
	ctx := context.Background()
	if _, err := (&ecrpush.Pusher{API: api}).Push(ctx, target, blobs); err != nil {
		t.Fatal(err)
	}
	digest := mustT(img.Digest()).String()
	m := ecrpush.Manifest{Digest: digest, MediaType: string(mustT(img.MediaType())), Raw: mustT(img.RawManifest())}
	if _, err := ecrpush.PutImage(ctx, api, target, []ecrpush.Manifest{m}, []string{tag}); err != nil {
		t.Fatal(err)
	}
	return digest
}

// testAccECRClient is an ECR client of the test's own, as another tool.
func testAccECRClient(srv *ecrlocal.Server) *ecr.Client {
	return ecr.New(ecr.Options{Region: testAccRegion, BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(testAccAccessKey, testAccSecretKey, "")})
}

func sameSet(a, b []string) bool {
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// noSecretIn fails when secret appears in what the plan plans: its
// values, changes and prior state. (Its configuration section repeats the
// configuration's literals, this test's password among them.)
func noSecretIn(secret string) planCheckFunc {
	return func(p *tfjson.Plan) error {
		raw, err := json.Marshal([]any{p.PlannedValues, p.ResourceChanges, p.PriorState, p.OutputChanges})
		if err != nil {
			return err
		}
		if i := bytes.Index(raw, []byte(secret)); i >= 0 {
			return fmt.Errorf("the plan holds the secret: ...%s", raw[max(0, i-300):i])
		}
		return nil
	}
}

// stateHasNo fails when secret appears anywhere in the state.
type stateHasNo string

func (s stateHasNo) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	raw, err := json.Marshal(req.State)
	if err == nil && bytes.Contains(raw, []byte(s)) {
		err = fmt.Errorf("the state holds the secret")
	}
	resp.Error = err
}

// TestAccImage_copyPinned: a digest reference is not resolved again; once
// the image is in ECR, plans and applies ask the source registry nothing.
func TestAccImage_copyPinned(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	src := newSourceRegistry(t, "", "")
	img := testAccRandomImage(t)
	digest := src.push(t, "app", "1", img)
	config := copyConfig(srv, src.host+"/app:1@"+digest, "", "", "")
	var before int
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{readBack{t, srv, &digest, func() []byte { return mustT(img.RawManifest()) }}}},
			{
				PreConfig: func() {
					src.push(t, "app", "1", testAccRandomImage(t)) // the tag moves: no matter
					before = src.count()
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{stateCheckFunc(func() error {
					if n := src.count() - before; n != 0 {
						return fmt.Errorf("%d requests to the source registry for a pinned copy ECR has", n)
					}
					return nil
				})},
			},
		},
	})
}

// TestAccImage_copyThroughChallenges copies through what real registries
// put in the way: a bearer-token challenge answered anonymously (Docker
// Hub's, GHCR's and Quay's public images) and with source_username; blob
// reads redirected to storage on another host, which must get no
// credentials; 429 with Retry-After, waited out; and 429 asking to wait
// longer than the provider waits, which names the limit.
func TestAccImage_copyThroughChallenges(t *testing.T) {
	const user, password = "robot", "bearer-secret-Kd03"
	for _, tc := range []struct {
		name    string
		user    string
		setup   func(*sourceRegistry)
		check   func(*sourceRegistry) error
		wantErr *regexp.Regexp
	}{
		{name: "bearer_anonymous", setup: func(s *sourceRegistry) { s.bearer = true }},
		{name: "bearer_with_credentials", user: user, setup: func(s *sourceRegistry) { s.bearer = true }},
		{name: "redirect_to_storage", user: user, setup: func(s *sourceRegistry) { s.redirect = true },
			check: func(s *sourceRegistry) error {
				auth := s.storageAuth // the caller holds s.mu
				if len(auth) == 0 {
					return fmt.Errorf("no blob was read from the storage host")
				}
				for _, a := range auth {
					if a != "" {
						return fmt.Errorf("the storage host got the registry's credentials: %q", a)
					}
				}
				return nil
			}},
		{name: "rate_limited_then_served", setup: func(s *sourceRegistry) { s.tooMany = 2 },
			check: func(s *sourceRegistry) error {
				if s.tooMany != 0 {
					return fmt.Errorf("%d 429 answers were not reached", s.tooMany)
				}
				return nil
			}},
		{name: "rate_limited_past_the_budget", setup: func(s *sourceRegistry) { s.tooMany, s.retryAfter = 1000, "7200" },
			wantErr: regexp.MustCompile(`(?s)Source Registry Rate Limit Reached.*100\s+pulls\s+per\s+6h0m0s.*accepts\s+requests\s+again\s+at`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testAccLayerCacheDir()
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", testAccImageRepo)
			src := newSourceRegistry(t, tc.user, password)
			img := testAccRandomImage(t)
			digest := src.push(t, "org/app", "2.0", img)
			src.set(tc.setup)
			pw := ""
			if tc.user != "" {
				pw = password
			}
			step := resource.TestStep{Config: copyConfig(srv, src.host+"/org/app:2.0", tc.user, pw, "")}
			if tc.wantErr != nil {
				step.ExpectError, step.PlanOnly = tc.wantErr, true
			} else {
				step.ConfigStateChecks = []statecheck.StateCheck{
					readBack{t, srv, &digest, func() []byte { return mustT(img.RawManifest()) }},
					stateHasNo(password),
					stateCheckFunc(func() error {
						if tc.check == nil {
							return nil
						}
						src.mu.Lock()
						defer src.mu.Unlock()
						return tc.check(src)
					}),
				}
			}
			resource.ParallelTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{step}})
		})
	}
}
