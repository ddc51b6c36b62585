// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// ecr_image and ecr_artifact own a manifest and tags on it the same way, so
// they refresh and destroy it with the same rules: these helpers.

// refreshOwned describes the image with digest that a resource (id, for
// logs) owns, and returns the tags of stateTags still on it: a tag it set
// that now points elsewhere drops out (the plan puts it back); tags others
// set are not its business. Null stateTags (after import) adopt every tag.
// found is false when the image or its repository is gone: the caller
// removes the resource from the state.
func refreshOwned(ctx context.Context, c *client, target ecrpush.Target, digest, id string,
	stateTags types.Set) (info ecrpush.ImageInfo, tags types.Set, found bool, diags diag.Diagnostics) {
	callCtx, done := c.requestContext(ctx)
	defer done()
	info, found, err := ecrpush.DescribeImage(callCtx, c.ecr, target, digest)
	if f, ok := ecrpush.FactsOf(err); ok && f.Kind == ecrpush.KindRepositoryNotFound {
		tflog.Info(ctx, "The image's repository is gone; removing the image from the state", map[string]any{"id": id})
		return info, stateTags, false, diags
	}
	if err != nil {
		diags.AddError(explainECRFailure(err, c.accountID))
		return info, stateTags, true, diags
	}
	if !found {
		tflog.Info(ctx, "ECR no longer has the image; removing it from the state so the next apply pushes it again",
			map[string]any{"id": id})
		return info, stateTags, false, diags
	}
	if stateTags.IsNull() || stateTags.IsUnknown() {
		return info, tagSet(info.Tags), true, diags
	}
	mine, d := tagList(ctx, stateTags)
	diags.Append(d...)
	var still []string
	for _, t := range mine {
		if slices.Contains(info.Tags, t) {
			still = append(still, t)
		}
	}
	if len(still) != len(mine) {
		tflog.Info(ctx, "Tags of the image have moved to other images or were removed", map[string]any{
			"id": id, "tags_in_state": mine, "tags_on_image": info.Tags})
	}
	return info, tagSet(still), true, diags
}

// ownedDelete is Delete of a resource that owns an image in ECR (ecr_image,
// ecr_artifact): with keep_remotely it only forgets it (what names the
// thing in the log: "image", "artifact"); else destroyOwned.
type ownedDelete struct {
	what, id     string
	keep         bool
	where        targetModel
	digest       string
	tags         types.Set
	providerData *client
}

func (d ownedDelete) run(ctx context.Context) diag.Diagnostics {
	var diags diag.Diagnostics
	if d.providerData == nil {
		return diags
	}
	if d.keep {
		tflog.Info(ctx, fmt.Sprintf("keep_remotely is set: the %s stays in ECR and is only removed from the state", d.what),
			map[string]any{"id": d.id})
		return diags
	}
	target, td := d.where.target(d.providerData)
	diags.Append(td...)
	mine, td := tagList(ctx, d.tags)
	diags.Append(td...)
	if diags.HasError() {
		return diags
	}
	return append(diags, destroyOwned(ctx, d.providerData, target, ecrpush.Owned{Digest: d.digest, Tags: mine})...)
}

// destroyOwned removes the tags a resource set, and the image when no other
// tag points at it (ecrpush.Destroy), warning of what it leaves.
func destroyOwned(ctx context.Context, c *client, target ecrpush.Target, owned ecrpush.Owned) diag.Diagnostics {
	var diags diag.Diagnostics
	callCtx, done := c.requestContext(ctx)
	defer done()
	res, err := ecrpush.Destroy(callCtx, c.ecr, target, owned, false)
	diags.Append(leftoverWarnings(target, res.Leftovers)...)
	if err != nil {
		diags.AddError(explainImageFailure(err, c.accountID))
	}
	return diags
}

// tagsValidators check tags as ECR does, at validate.
func tagsValidators() []validator.Set {
	return []validator.Set{setvalidator.ValueStringsAre(
		stringvalidator.LengthBetween(ecrpush.ImageTagMinLen, ecrpush.ImageTagMaxLen),
		stringvalidator.RegexMatches(ecrpush.ImageTagRegexp, "must start with a letter, digit or '_' and hold "+
			"only letters, digits, '_', '.' and '-'"),
	)}
}

// importImageID reads the import ID of ecr_image and ecr_artifact:
// [[<region>/]<registry_id>/]<repository_name>@<digest>, or :<tag> in place
// of @<digest>, resolved to the digest the tag names now. ok is false after
// an error.
func importImageID(ctx context.Context, c *client, id string, diags *diag.Diagnostics) (region, registry, repository, digest string, ok bool) {
	region, registry, repository, digest, tag, err := parseImageID(id)
	if err != nil {
		diags.AddError("Invalid Import ID", fmt.Sprintf("The import ID %q %s. It must be "+
			"<repository_name>@<digest>, such as team/app@sha256:<64 hex digits>, or <repository_name>:<tag>, such "+
			"as team/app:v1; either preceded by <registry_id>/ for another registry, and by "+
			"<region>/<registry_id>/ for another region as well.", id, err))
		return "", "", "", "", false
	}
	if tag != "" {
		if digest = (&imageResource{client: c}).resolveTag(ctx, id, region, registry, repository, tag, diags); digest == "" {
			return "", "", "", "", false
		}
	}
	if region == "" && c != nil {
		region = c.region
	}
	return region, registry, repository, digest, true
}
