// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Artifact types of the referrers the tests attach.
const (
	typeSPDX = "application/spdx+json"
	typeSig  = "application/vnd.dev.cosign.artifact.sig.v1+json"
)

// rawArtifact is an OCI 1.1 artifact as `oras attach` writes it: an
// artifactType, the empty config and one layer, with a subject.
// go-containerregistry v0.22.1 has no mutate.ArtifactType, so the manifest
// is built here; partial makes it a v1.Image that layout and remote write.
type rawArtifact struct {
	manifest []byte
	layer    v1.Layer
}

func (a *rawArtifact) RawConfigFile() ([]byte, error)      { return []byte(emptyConfig), nil }
func (a *rawArtifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *rawArtifact) RawManifest() ([]byte, error)        { return a.manifest, nil }

func (a *rawArtifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == must(a.layer.Digest()) {
		return a.layer, nil
	}
	return nil, fmt.Errorf("no layer %s", h)
}

// artifact is an artifact of artifactType holding content, whose subject
// is the manifest of subject (an image or an index).
func artifact(t *testing.T, artifactType, content string, subject partial.Describable) v1.Image {
	t.Helper()
	layer := static.NewLayer([]byte(content), types.MediaType(artifactType))
	sub := must(partial.Descriptor(subject))
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Config: v1.Descriptor{MediaType: emptyConfigMediaType, Digest: must(v1.NewHash(emptyConfigDigest)),
			Size: int64(len(emptyConfig)), Data: []byte(emptyConfig)},
		Layers: []v1.Descriptor{{MediaType: types.MediaType(artifactType), Digest: must(layer.Digest()),
			Size: must(layer.Size())}},
		Subject: &v1.Descriptor{MediaType: sub.MediaType, Digest: sub.Digest, Size: sub.Size},
	}
	return must(partial.CompressedToImage(&rawArtifact{manifest: must(json.Marshal(m)), layer: layer}))
}

// configTyped is a referrer of subject typed by its config's media type,
// as attestations were before artifactType.
func configTyped(t *testing.T, subject v1.Image) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(must(mutate.AppendLayers(empty.Image, must(random.Layer(64, types.OCILayer)))),
		types.OCIManifestSchema1), "application/vnd.in-toto+json")
	img, ok := mutate.Subject(img, *must(partial.Descriptor(subject))).(v1.Image)
	if !ok {
		t.Fatal("mutate.Subject of an image is not an image")
	}
	return img
}

const emptyConfigMediaType = "application/vnd.oci.empty.v1+json"

// digests lists the digests of ms.
func digests(ms []Manifest) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Digest)
	}
	return out
}

// checkReferrers checks that s's referrers are want, in order, each with
// its subject and artifact type, and each after its subject; and that
// every blob of theirs is in s.Blobs once.
func checkReferrers(t *testing.T, s *Source, want ...v1.Image) {
	t.Helper()
	got := s.Referrers()
	wantDigests := make([]string, 0, len(want))
	for _, w := range want {
		wantDigests = append(wantDigests, mustDigest(t, w))
	}
	if !slices.Equal(digests(got), wantDigests) {
		t.Fatalf("referrers %v, want %v", digests(got), wantDigests)
	}
	pushed := digests(s.Manifests())
	blobs := map[string]int{}
	for _, b := range s.Blobs() {
		blobs[b.Digest]++
	}
	for i, r := range got {
		m := must(want[i].Manifest())
		if r.Subject != m.Subject.Digest.String() || !slices.Contains(pushed, r.Subject) {
			t.Errorf("referrer %s: subject %q, want %s pushed before it", r.Digest, r.Subject, m.Subject.Digest)
		}
		wantType := m.ArtifactType
		if wantType == "" {
			wantType = string(m.Config.MediaType)
		}
		if r.ArtifactType != wantType {
			t.Errorf("referrer %s: artifact type %q, want %q", r.Digest, r.ArtifactType, wantType)
		}
		if string(r.Raw) != string(must(want[i].RawManifest())) || r.MediaType != string(types.OCIManifestSchema1) {
			t.Errorf("referrer %s: not its manifest's bytes, or media type %q", r.Digest, r.MediaType)
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if blobs[b.Digest.String()] != 1 {
				t.Errorf("referrer %s: blob %s is in Blobs %d times, want once", r.Digest, b.Digest, blobs[b.Digest.String()])
			}
		}
		pushed = append(pushed, r.Digest)
	}
}
