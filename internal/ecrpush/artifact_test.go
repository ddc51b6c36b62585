// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func testArtifact() Artifact {
	return Artifact{
		ArtifactType: "application/spdx+json",
		Files: []ArtifactFile{
			{Title: "sbom.spdx.json", MediaType: "application/spdx+json", Digest: "sha256:" + strings.Repeat("a", 64), Size: 12},
			{Title: "notes<1>.txt", MediaType: "text/plain", Digest: "sha256:" + strings.Repeat("b", 64), Size: 3},
		},
		Subject: &Descriptor{MediaType: OCIManifestMediaType, Digest: "sha256:" + strings.Repeat("c", 64), Size: 700},
		Annotations: map[string]string{"org.opencontainers.image.created": "2026-11-30T00:00:00Z",
			"com.example.a": "x"},
	}
}

// The bytes are fixed: a change of field order, spacing or escaping changes
// every artifact's digest, which each plan would show as an update.
const goldenArtifact = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
	`"artifactType":"application/spdx+json","config":{"mediaType":"application/vnd.oci.empty.v1+json",` +
	`"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[` +
	`{"mediaType":"application/spdx+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",` +
	`"size":12,"annotations":{"org.opencontainers.image.title":"sbom.spdx.json"}},` +
	`{"mediaType":"text/plain","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",` +
	`"size":3,"annotations":{"org.opencontainers.image.title":"notes<1>.txt"}}],` +
	`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
	`"digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":700},` +
	`"annotations":{"com.example.a":"x","org.opencontainers.image.created":"2026-11-30T00:00:00Z"}}`

func TestArtifactManifest_golden(t *testing.T) {
	for i := 0; i < 20; i++ { // map order varies from run to run; the bytes must not
		m, err := ArtifactManifest(testArtifact())
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Raw) != goldenArtifact {
			t.Fatalf("manifest\n%s\nwant\n%s", m.Raw, goldenArtifact)
		}
		sum := sha256.Sum256(m.Raw)
		if m.Digest != "sha256:"+hex.EncodeToString(sum[:]) || m.MediaType != OCIManifestMediaType {
			t.Fatalf("digest %s, media type %s", m.Digest, m.MediaType)
		}
	}
	sum := sha256.Sum256(EmptyJSON())
	if "sha256:"+hex.EncodeToString(sum[:]) != EmptyDigest {
		t.Fatal("EmptyDigest is not the digest of EmptyJSON")
	}
}

// TestArtifactManifest_parses: go-containerregistry, as an independent
// reader, finds every field where OCI 1.1 puts it.
func TestArtifactManifest_parses(t *testing.T) {
	a := testArtifact()
	m, err := ArtifactManifest(a)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := v1.ParseManifest(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.SchemaVersion != 2 || string(parsed.MediaType) != OCIManifestMediaType ||
		parsed.Config.Digest.String() != EmptyDigest || string(parsed.Config.MediaType) != EmptyMediaType ||
		parsed.Config.Size != 2 {
		t.Fatalf("parsed %+v", parsed)
	}
	if len(parsed.Layers) != 2 || parsed.Layers[1].Annotations[TitleAnnotation] != "notes<1>.txt" ||
		parsed.Layers[0].Digest.String() != a.Files[0].Digest || parsed.Layers[0].Size != 12 {
		t.Fatalf("layers %+v", parsed.Layers)
	}
	if parsed.Subject == nil || parsed.Subject.Digest.String() != a.Subject.Digest || parsed.Subject.Size != 700 {
		t.Fatalf("subject %+v", parsed.Subject)
	}
	if parsed.Annotations["org.opencontainers.image.created"] != "2026-11-30T00:00:00Z" {
		t.Fatalf("annotations %v", parsed.Annotations)
	}

	// Without a subject or annotations, neither field is written.
	a.Subject, a.Annotations = nil, map[string]string{}
	m, err = ArtifactManifest(a)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(m.Raw, []byte(`"subject"`)) || bytes.Contains(m.Raw, []byte(`"annotations":{"com`)) {
		t.Fatalf("manifest %s", m.Raw)
	}
	if parsed, err = v1.ParseManifest(bytes.NewReader(m.Raw)); err != nil || parsed.Subject != nil {
		t.Fatalf("%v %+v", err, parsed)
	}
}

func TestArtifactManifest_refuses(t *testing.T) {
	for name, change := range map[string]func(*Artifact){
		"no files":             func(a *Artifact) { a.Files = nil },
		"bad artifact type":    func(a *Artifact) { a.ArtifactType = "spdx" },
		"bad file media type":  func(a *Artifact) { a.Files[0].MediaType = "text/" },
		"bad file digest":      func(a *Artifact) { a.Files[0].Digest = "sha256:abc" },
		"subject without size": func(a *Artifact) { a.Subject.Size = 0 },
	} {
		a := testArtifact()
		change(&a)
		if _, err := ArtifactManifest(a); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
