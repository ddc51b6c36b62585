// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Listing a registry's referrers. This is go-containerregistry's
// remote.Referrers logic (the OCI referrers API, else the tag scheme),
// through the session's client so that the credentials and the checks of
// its transport (plain HTTP, 429 waits) apply as for the image.

// referrers lists the referrers of the manifest subject: GET
// /v2/<name>/referrers/<digest>, or where the registry lacks that API (any
// answer but an OCI index), the index tagged sha256-<hex> that cosign and
// oras keep instead. They are sorted by digest: the API gives no order, and
// the plan must be the same from run to run.
func (s *remoteSession) referrers(ctx context.Context, subject string, f ReferrerFilter) ([]v1.Descriptor, error) {
	var raw []byte
	if !s.noReferrersAPI {
		u := s.url("referrers", subject)
		if len(f.ArtifactTypes) == 1 {
			// A hint: the registry may ignore it, and takeReferrer filters
			// anyway.
			u += "?artifactType=" + url.QueryEscape(f.ArtifactTypes[0])
		}
		body, isIndex, err := s.getIndex(ctx, u, "the referrers of "+subject)
		if err != nil {
			return nil, err
		}
		if isIndex {
			raw = body
		} else {
			// Asked once: a registry without the API lacks it for every
			// subject.
			s.noReferrersAPI = true
		}
	}
	if raw == nil {
		body, isIndex, err := s.getIndex(ctx, s.url("manifests", strings.Replace(subject, ":", "-", 1)),
			"the referrers tag of "+subject)
		if err != nil || !isIndex {
			return nil, err // no tag (or not an index): no referrers
		}
		raw = body
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("the referrers of %s in %s: %w", subject, s.blobName(subject), err)
	}
	ds := idx.Manifests
	slices.SortStableFunc(ds, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	return ds, nil
}

// getIndex GETs an OCI index at u, at most maxManifestSize bytes. isIndex
// is false, with no error, when the registry answers 404 (or 400, 405 or
// 406, which registries without the referrers API give too) or something
// other than an OCI index.
func (s *remoteSession) getIndex(ctx context.Context, u, what string) (raw []byte, isIndex bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, false, s.remoteError(err, what)
	}
	defer func() { _ = resp.Body.Close() }()
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotAcceptable:
		return nil, false, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, false, s.remoteError(err, what)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != string(types.OCIImageIndex) {
		return nil, false, nil
	}
	raw, err = io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, false, s.remoteError(err, what)
	}
	if len(raw) > maxManifestSize {
		return nil, false, &UnsupportedError{Path: s.ref, What: fmt.Sprintf("%s is more than %d bytes", what, maxManifestSize)}
	}
	return raw, true, nil
}
