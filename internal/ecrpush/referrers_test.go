// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

const (
	sbomType      = "application/spdx+json"
	signatureType = "application/vnd.dev.cosign.artifact.sig.v1+json"
)

// emptyBlob is OCI 1.1's empty descriptor's content: the config (and the
// one layer) of an artifact with none of its own.
var emptyBlob = []byte("{}")

// pushReferrer puts an OCI artifact manifest whose subject is subject, with
// the empty config, after uploading that config as ECR requires.
func pushReferrer(t *testing.T, srv *ecrlocal.Server, subject Manifest, artifactType string, annotations map[string]string) Manifest {
	t.Helper()
	pushBlobs(t, srv, imageTarget, []Blob{{Name: "config", Digest: sha(emptyBlob), Size: 2, Content: bytes.NewReader(emptyBlob)}})
	empty := map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(emptyBlob), "size": 2}
	doc := map[string]any{"schemaVersion": 2, "mediaType": ociManifestType, "artifactType": artifactType,
		"config": empty, "layers": []any{empty},
		"subject": map[string]any{"mediaType": subject.MediaType, "digest": subject.Digest, "size": len(subject.Raw)}}
	if len(annotations) > 0 {
		doc["annotations"] = annotations
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{Digest: sha(raw), MediaType: ociManifestType, Raw: raw}
	if _, err := PutImage(context.Background(), client(srv, 1), imageTarget, []Manifest{m}, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

func pushSubject(t *testing.T, srv *ecrlocal.Server, seed string) Manifest {
	t.Helper()
	img := newTestImage(seed)
	pushBlobs(t, srv, imageTarget, img.blobs)
	if _, err := PutImage(context.Background(), client(srv, 1), imageTarget, []Manifest{img.manifest}, nil); err != nil {
		t.Fatal(err)
	}
	return img.manifest
}

// TestListReferrersPagesSortsAndFilters: 53 referrers take two pages of 50
// (the most ECR answers), all of them come back sorted by artifact type then
// digest with their fields, and a filter keeps only the types asked for.
func TestListReferrersPagesSortsAndFilters(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", imageTarget.Repository)
	subject := pushSubject(t, srv, "subject")
	other := pushSubject(t, srv, "other")
	pushReferrer(t, srv, other, sbomType, nil) // another subject's: never listed
	var want []Referrer
	for i := range 53 {
		typ := signatureType
		if i%3 == 0 {
			typ = sbomType
		}
		ann := map[string]string{"n": fmt.Sprint(i)}
		m := pushReferrer(t, srv, subject, typ, ann)
		want = append(want, Referrer{Digest: m.Digest, ArtifactType: typ, MediaType: ociManifestType, Size: int64(len(m.Raw)), Annotations: ann})
	}
	slices.SortFunc(want, func(a, b Referrer) int {
		if c := strings.Compare(a.ArtifactType, b.ArtifactType); c != 0 {
			return c
		}
		return strings.Compare(a.Digest, b.Digest)
	})
	ctx := context.Background()
	from := len(srv.Requests())
	got, err := ListReferrers(ctx, client(srv, 1), imageTarget, subject.Digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !referrersEqual(got, want) {
		t.Fatalf("got %d referrers %+v\nwant %d %+v", len(got), got, len(want), want)
	}
	calls := srv.Requests()[from:]
	if len(calls) != 2 || fmt.Sprint(calls[0].Input["maxResults"]) != "50" || calls[1].Input["nextToken"] == nil {
		t.Fatalf("want two ListImageReferrers calls of 50, the second with the first's nextToken; got %+v", calls)
	}

	got, err = ListReferrers(ctx, client(srv, 1), imageTarget, subject.Digest, []string{sbomType})
	if err != nil {
		t.Fatal(err)
	}
	var sboms []Referrer
	for _, r := range want {
		if r.ArtifactType == sbomType {
			sboms = append(sboms, r)
		}
	}
	if !referrersEqual(got, sboms) {
		t.Fatalf("filtered to %s: got %+v, want %+v", sbomType, got, sboms)
	}
}

func referrersEqual(a, b []Referrer) bool {
	return slices.EqualFunc(a, b, func(x, y Referrer) bool {
		return x.Digest == y.Digest && x.ArtifactType == y.ArtifactType && x.MediaType == y.MediaType &&
			x.Size == y.Size && fmt.Sprint(x.Annotations) == fmt.Sprint(y.Annotations)
	})
}

// TestListReferrersNoneIsEmpty: a subject with no referrers, and a digest
// the repository does not hold, are an empty list, not an error.
func TestListReferrersNoneIsEmpty(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", imageTarget.Repository)
	subject := pushSubject(t, srv, "alone")
	for _, digest := range []string{subject.Digest, sha([]byte("nothing"))} {
		got, err := ListReferrers(context.Background(), client(srv, 1), imageTarget, digest, nil)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("%s: got %#v, %v; want an empty list", digest, got, err)
		}
	}
}

// TestListReferrersMissingRepository: the error names the repository and
// the IAM action ECR checks, ecr:BatchGetImage.
func TestListReferrersMissingRepository(t *testing.T) {
	srv := endpoint(t)
	_, err := ListReferrers(context.Background(), client(srv, 1), imageTarget, sha(nil), nil)
	f, ok := FactsOf(err)
	if !ok || f.Kind != KindRepositoryNotFound || f.Action != "ecr:BatchGetImage" || f.Target.Repository != imageTarget.Repository {
		t.Fatalf("got %+v %v", f, err)
	}
}
