// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

const (
	spdxType      = "application/spdx+json"
	sigstoreType  = "application/vnd.dev.sigstore.bundle.v0.3+json"
	emptyConfig   = `{}`
	emptyDigest   = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	emptyMediaTyp = "application/vnd.oci.empty.v1+json"
)

// artifact is an OCI 1.1 artifact manifest: one file, the empty config, a
// subject.
type artifact struct {
	raw     []byte
	desc    v1.Descriptor
	content []byte
}

func newArtifact(subject v1.Descriptor, artifactType string, content []byte) artifact {
	layer := v1.Descriptor{MediaType: types.MediaType(artifactType), Size: int64(len(content)), Digest: sha256Of(content)}
	m := map[string]any{
		"schemaVersion": 2, "mediaType": string(types.OCIManifestSchema1), "artifactType": artifactType,
		"config":  map[string]any{"mediaType": emptyMediaTyp, "digest": emptyDigest, "size": 2},
		"layers":  []v1.Descriptor{layer},
		"subject": map[string]any{"mediaType": subject.MediaType, "digest": subject.Digest.String(), "size": subject.Size},
	}
	raw := mustT(json.Marshal(m))
	return artifact{raw: raw, content: content, desc: v1.Descriptor{MediaType: types.OCIManifestSchema1,
		Size: int64(len(raw)), Digest: sha256Of(raw), ArtifactType: artifactType}}
}

func sha256Of(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

// addToLayout writes the artifact's blobs and manifest into the layout and
// lists it in index.json, as oras attach --oci-layout does.
func (a artifact) addToLayout(t *testing.T, dir string) {
	t.Helper()
	p := layout.Path(dir)
	for _, b := range [][]byte{[]byte(emptyConfig), a.content, a.raw} {
		if err := p.WriteBlob(sha256Of(b), io.NopCloser(bytes.NewReader(b))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AppendDescriptor(a.desc); err != nil {
		t.Fatal(err)
	}
}

// rawArtifact is an artifact as remote.Put takes it.
type rawArtifact struct{ a artifact }

func (r rawArtifact) RawManifest() ([]byte, error)        { return r.a.raw, nil }
func (r rawArtifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (r rawArtifact) Digest() (v1.Hash, error)            { return r.a.desc.Digest, nil }
func (r rawArtifact) Size() (int64, error)                { return r.a.desc.Size, nil }
func (r rawArtifact) ArtifactType() (string, error)       { return r.a.desc.ArtifactType, nil }

// putArtifact writes the artifact (its blobs, then its manifest by digest)
// to the source registry's repository.
func (s *sourceRegistry) putArtifact(t *testing.T, repo string, a artifact) {
	t.Helper()
	r := mustT(name.NewRepository(s.adminHost + "/" + repo))
	for _, b := range [][]byte{[]byte(emptyConfig), a.content} {
		l := staticLayer{b}
		if err := remote.WriteLayer(r, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(r.Digest(a.desc.Digest.String()), rawArtifact{a}); err != nil {
		t.Fatal(err)
	}
}

// referrersInECR lists, with go-containerregistry's client, the referrers
// the endpoint's registry API gives for digest, by artifact type.
func referrersInECR(t *testing.T, srv *ecrlocal.Server, digest string) []string {
	t.Helper()
	host := strings.TrimPrefix(srv.URL(), "http://")
	d := mustT(name.NewDigest(host+"/"+testAccImageRepo+"@"+digest, name.Insecure))
	idx := mustT(remote.Referrers(d, remote.WithAuth(registryAuth(t, srv))))
	var out []string
	for _, m := range mustT(idx.IndexManifest()).Manifests {
		out = append(out, m.ArtifactType+" "+m.Digest.String())
	}
	slices.Sort(out)
	return out
}

// TestAccImage_layoutReferrers: a layout holding an image, its SBOM and a
// signature of the SBOM needs no ref; both referrers are pushed, in order,
// and listed by the endpoint's referrers API; a new SBOM for the same image
// is an in-place update that pushes only it; referrers = [] pushes none.
func TestAccImage_layoutReferrers(t *testing.T) {
	testAccLayerCacheDir()
	srv := testAccEndpoint(t)
	srv.CreateRepository(testAccRegion, "", testAccImageRepo)
	dir := filepath.Join(t.TempDir(), "layout")
	img := testAccRandomImage(t)
	digest := writeLayout(t, dir, img)
	subject := v1.Descriptor{MediaType: mustT(img.MediaType()), Digest: mustT(img.Digest()), Size: mustT(img.Size())}
	sbom := newArtifact(subject, spdxType, []byte(`{"spdxVersion":"SPDX-2.3","name":"app"}`))
	sig := newArtifact(sbom.desc, sigstoreType, []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	sbom.addToLayout(t, dir)
	sig.addToLayout(t, dir)
	vex := newArtifact(subject, "application/vnd.openvex+json", []byte(`{"@context":"https://openvex.dev/ns"}`))
	config := testAccImageConfig(srv, fmt.Sprintf("source = %q\n  tags = [\"v1\"]", dir))
	var parts int
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_digest"), knownvalue.StringExact(digest)),
					plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("referrer_digests"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(sbom.desc.Digest.String()), knownvalue.StringExact(sig.desc.Digest.String())})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					readBack{t, srv, &digest, func() []byte { return mustT(img.RawManifest()) }},
					stateCheckFunc(func() error {
						if got, want := referrersInECR(t, srv, digest), []string{spdxType + " " + sbom.desc.Digest.String()}; !slices.Equal(got, want) {
							return fmt.Errorf("the image's referrers in ECR: %v, want %v", got, want)
						}
						if got, want := referrersInECR(t, srv, sbom.desc.Digest.String()), []string{sigstoreType + " " + sig.desc.Digest.String()}; !slices.Equal(got, want) {
							return fmt.Errorf("the SBOM's referrers in ECR: %v, want %v", got, want)
						}
						parts = len(srv.RequestsFor("UploadLayerPart"))
						return nil
					}),
				},
			},
			{
				PreConfig: func() { vex.addToLayout(t, dir) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("ecr_image.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("ecr_image.test", tfjsonpath.New("image_digest"), knownvalue.StringExact(digest)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					stateCheckFunc(func() error {
						if n := len(srv.RequestsFor("UploadLayerPart")) - parts; n != 1 {
							return fmt.Errorf("%d parts sent for a new referrer of one small file, want 1", n)
						}
						if got := referrersInECR(t, srv, digest); len(got) != 2 {
							return fmt.Errorf("the image's referrers in ECR: %v, want the SBOM and the VEX", got)
						}
						return nil
					}),
				},
			},
		},
	})
}

// TestAccImage_copyReferrers: a copy brings the source's referrers, a
// chain included, through the referrers API and, where the registry has
// none, through the sha256-<hex> fallback tag; a filter takes only the
// artifact types named.
func TestAccImage_copyReferrers(t *testing.T) {
	for _, tc := range []struct {
		name        string
		noReferrers bool
		filter      string
		want        int
	}{
		{name: "referrers_api", want: 2},
		{name: "fallback_tag", noReferrers: true, want: 2},
		{name: "only_sboms", filter: `referrers = ["` + spdxType + `"]`, want: 1},
		{name: "none", filter: `referrers = []`, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testAccLayerCacheDir()
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", testAccImageRepo)
			src := newSourceRegistry(t, "", "")
			src.set(func(s *sourceRegistry) { s.noReferrers = tc.noReferrers })
			img := testAccRandomImage(t)
			digest := src.push(t, "org/app", "1", img)
			subject := v1.Descriptor{MediaType: mustT(img.MediaType()), Digest: mustT(img.Digest()), Size: mustT(img.Size())}
			sbom := newArtifact(subject, spdxType, []byte(`{"spdxVersion":"SPDX-2.3"}`))
			sig := newArtifact(sbom.desc, sigstoreType, []byte(`{"sig":1}`))
			src.putArtifact(t, "org/app", sbom)
			src.putArtifact(t, "org/app", sig)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: copyConfig(srv, src.host+"/org/app:1", "", "", tc.filter),
					ConfigStateChecks: []statecheck.StateCheck{
						readBack{t, srv, &digest, func() []byte { return mustT(img.RawManifest()) }},
						stateCheckFunc(func() error {
							got := len(referrersInECR(t, srv, digest))
							if tc.want == 2 {
								got += len(referrersInECR(t, srv, sbom.desc.Digest.String()))
							}
							if got != tc.want {
								return fmt.Errorf("%d referrers copied, want %d", got, tc.want)
							}
							return nil
						}),
					},
				}},
			})
		})
	}
}

// staticLayer is a blob as remote.WriteLayer takes it.
type staticLayer struct{ b []byte }

func (l staticLayer) Digest() (v1.Hash, error) { return sha256Of(l.b), nil }
func (l staticLayer) DiffID() (v1.Hash, error) { return sha256Of(l.b), nil }
func (l staticLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}
func (l staticLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}
func (l staticLayer) Size() (int64, error)                { return int64(len(l.b)), nil }
func (l staticLayer) MediaType() (types.MediaType, error) { return "application/octet-stream", nil }
