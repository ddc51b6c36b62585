// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
	"github.com/ecrlabs/terraform-provider-ecr/internal/imagesource"
)

// Referrers (SBOMs, signatures, attestations: manifests whose subject is the
// image) travel with ecr_image: which ones, and what the plan says of them.

// artifactTypeRegexp is the form of a media type (RFC 6838): type/subtype.
var artifactTypeRegexp = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

func imageReferrerAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"referrers": schema.ListAttribute{
			ElementType: types.StringType,
			Optional:    true,
			MarkdownDescription: "Which referrers travel with the image: manifests whose `subject` is the image or one " +
				"of its platforms' images (SBOMs, signatures, attestations), and, in turn, theirs (a signature of an " +
				"SBOM). Left out: all of them. `[]`: none. A list of artifact types, such as " +
				"`[\"application/spdx+json\", \"application/vnd.dev.sigstore.bundle.v0.3+json\"]`: only those. From " +
				"`source`, the referrers its `index.json` lists (such manifests are never candidates for `ref`); from " +
				"`source_image`, those the registry lists through the OCI referrers API, or, where it lacks one, the " +
				"`sha256-<hex>` tag cosign and oras fall back to. They are put after the image and before any tag " +
				"names it, untagged; the provider never deletes a referrer.",
			Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.RegexMatches(artifactTypeRegexp,
				"must be a media type, type/subtype, such as application/spdx+json"))},
		},
		"referrer_digests": schema.ListAttribute{
			ElementType: types.StringType,
			Computed:    true,
			MarkdownDescription: "Digests of the referrers pushed with the image, in the order they were put (each " +
				"after its subject); null when there are none. Known at plan for `source`, so a new SBOM or signature " +
				"in the layout plans an in-place update that pushes only it. For `source_image`, read when the image " +
				"is copied: a referrer added upstream to an image already copied is copied when the image changes.",
		},
	}
}

// referrerFilter is the referrers attribute as imagesource takes it. The
// list holds strings (the schema says so), so reading it cannot fail.
func (m imageResourceModel) referrerFilter(ctx context.Context) imagesource.ReferrerFilter {
	if m.Referrers.IsNull() || m.Referrers.IsUnknown() {
		return imagesource.ReferrerFilter{}
	}
	var artifactTypes []string
	_ = m.Referrers.ElementsAs(ctx, &artifactTypes, false)
	return imagesource.ReferrerFilter{None: len(artifactTypes) == 0, ArtifactTypes: artifactTypes}
}

// referrerDigests is the referrer_digests value for a source's referrers:
// null when there are none, so that images without referrers plan no change.
func referrerDigests(src *imagesource.Source) types.List {
	refs := src.Referrers()
	if len(refs) == 0 {
		return types.ListNull(types.StringType)
	}
	values := make([]attr.Value, len(refs))
	for i, m := range refs {
		values[i] = types.StringValue(m.Digest)
	}
	return types.ListValueMust(types.StringType, values)
}

// pushReferrers maps a source's referrers onto the engine's manifests.
func pushReferrers(src *imagesource.Source) []ecrpush.Manifest {
	var out []ecrpush.Manifest
	for _, m := range src.Referrers() {
		out = append(out, ecrpush.Manifest{Digest: m.Digest, MediaType: m.MediaType, Raw: m.Raw})
	}
	return out
}
