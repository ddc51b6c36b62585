// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// An artifact is files pushed as an OCI 1.1 image manifest, as `oras push`
// writes one: its artifactType says what it is, its config is the empty
// descriptor, each file is a layer titled with its name, and a subject makes
// it a referrer of another manifest (an SBOM or signature of an image).

// OCI media types and the empty descriptor of the image spec 1.1.
const (
	OCIManifestMediaType = "application/vnd.oci.image.manifest.v1+json"
	EmptyMediaType       = "application/vnd.oci.empty.v1+json"
	EmptyDigest          = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	// TitleAnnotation names a layer's file, as oras reads it back on pull.
	TitleAnnotation = "org.opencontainers.image.title"
)

// EmptyJSON is the content of the empty descriptor: an artifact's config.
func EmptyJSON() []byte { return []byte("{}") }

// MediaTypeRegexp is the media type grammar of the OCI image spec (RFC 6838
// type/subtype, without parameters).
var MediaTypeRegexp = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

// ArtifactFile is one file of an artifact: its title (the file's base name),
// media type, digest and size.
type ArtifactFile struct {
	Title     string
	MediaType string
	Digest    string
	Size      int64
}

// Artifact is what an artifact manifest says.
type Artifact struct {
	ArtifactType string
	Files        []ArtifactFile
	// Subject, when set, is the manifest the artifact refers to.
	Subject *Descriptor
	// Annotations are the manifest's; none is written as no field.
	Annotations map[string]string
}

// The manifest's fields, in the order they are written: encoding/json
// writes struct fields in declaration order and map keys sorted, so the same
// Artifact is the same bytes, and its digest can be planned.
type artifactManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        Descriptor        `json:"config"`
	Layers        []layerDescriptor `json:"layers"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type layerDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

// ArtifactManifest writes a's manifest: deterministic bytes, with their
// digest and the OCI manifest media type.
func ArtifactManifest(a Artifact) (Manifest, error) {
	if !MediaTypeRegexp.MatchString(a.ArtifactType) {
		return Manifest{}, fmt.Errorf("artifact type %q is not a media type (type/subtype)", a.ArtifactType)
	}
	if len(a.Files) == 0 {
		return Manifest{}, errors.New("an artifact needs at least one file")
	}
	m := artifactManifest{SchemaVersion: 2, MediaType: OCIManifestMediaType, ArtifactType: a.ArtifactType,
		Config:  Descriptor{MediaType: EmptyMediaType, Digest: EmptyDigest, Size: int64(len(EmptyJSON()))},
		Subject: a.Subject}
	if len(a.Annotations) > 0 {
		m.Annotations = a.Annotations
	}
	for _, f := range a.Files {
		if !MediaTypeRegexp.MatchString(f.MediaType) {
			return Manifest{}, fmt.Errorf("file %q: media type %q is not a media type (type/subtype)", f.Title, f.MediaType)
		}
		if msg := checkDigest(f.Digest); msg != "" {
			return Manifest{}, fmt.Errorf("file %q: %s", f.Title, msg)
		}
		m.Layers = append(m.Layers, layerDescriptor{MediaType: f.MediaType, Digest: f.Digest, Size: f.Size,
			Annotations: map[string]string{TitleAnnotation: f.Title}})
	}
	if s := a.Subject; s != nil {
		if msg := checkDigest(s.Digest); msg != "" || s.MediaType == "" || s.Size <= 0 {
			return Manifest{}, fmt.Errorf("subject %+v is not a manifest descriptor", *s)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Titles and annotations stay as written, as other tools write them.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return Manifest{}, err
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	sum := sha256.Sum256(raw)
	return Manifest{Digest: "sha256:" + hex.EncodeToString(sum[:]), MediaType: OCIManifestMediaType, Raw: raw}, nil
}
