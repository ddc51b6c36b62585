// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// ecr_image's Create, Update and Delete map Terraform's plan onto
// ecrpush.Deploy and ecrpush.Destroy, which order the ECR calls; this file
// opens the source for them and words what they report.

// deployRequest is one apply of ecr_image: what the state holds (nil on
// create) and what the plan wants.
type deployRequest struct {
	plan      imageResourceModel
	state     *imageResourceModel
	operation string // "create" or "update", for the timeouts block
	limit     time.Duration
	// password is source_password_wo, which only the configuration holds.
	password string
}

// deployImage runs the deployment and returns the state to record: nil when
// the resource owns nothing afterwards. Diagnostics carry errors and
// warnings.
func (r *imageResource) deployImage(ctx context.Context, req deployRequest) (*imageResourceModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	plan := req.plan
	target, d := plan.target(r.client)
	diags.Append(d...)
	tags, d := tagList(ctx, plan.Tags)
	diags.Append(d...)
	if diags.HasError() {
		return req.state, diags
	}
	dep := ecrpush.Deployment{Target: target, Want: ecrpush.Owned{Digest: plan.ImageDigest.ValueString(), Tags: tags},
		KeepPrevious: plan.KeepRemotely.ValueBool()}
	if req.state != nil {
		have, d := tagList(ctx, req.state.Tags)
		diags.Append(d...)
		dep.Current = &ecrpush.Owned{Digest: req.state.ImageDigest.ValueString(), Tags: have}
		// keep_remotely applies as the state had it when the image was
		// pushed, and as planned now: either keeps the old image.
		dep.KeepPrevious = dep.KeepPrevious || req.state.KeepRemotely.ValueBool()
	}
	source := plan.sourceName()
	newImage := dep.Current == nil || dep.Current.Digest != dep.Want.Digest
	newReferrers := req.state != nil && !plan.ReferrerDigests.Equal(req.state.ReferrerDigests)
	referrers := plan.ReferrerDigests
	if newImage || newReferrers {
		src, d := r.openSource(ctx, plan, req.password)
		diags.Append(d...)
		if diags.HasError() {
			return req.state, diags
		}
		defer func() { _ = src.Close() }()
		if known(plan.ImageDigest) && plan.ImageDigest.ValueString() != src.Digest() {
			diags.AddAttributeError(sourceAttribute(plan), "Image Changed Since Plan", imageChangedDetail(source,
				src.Digest(), plan.ImageDigest.ValueString()))
			return req.state, diags
		}
		referrers = referrerDigests(src)
		if known(plan.ReferrerDigests) && !plan.ReferrerDigests.Equal(referrers) {
			diags.AddAttributeError(sourceAttribute(plan), "Image Changed Since Plan", fmt.Sprintf("The referrers "+
				"of %s (SBOMs, signatures) are not those planned: %s now, %s planned. Nothing was pushed; run plan "+
				"again.", source, referrers, plan.ReferrerDigests))
			return req.state, diags
		}
		dep.Want.Digest = src.Digest()
		if newImage {
			dep.Manifests = pushManifests(src)
		}
		dep.Referrers = pushReferrers(src)
		for _, b := range src.Blobs() {
			dep.Blobs = append(dep.Blobs, ecrpush.Blob{Name: b.Name, Digest: b.Digest, Size: b.Size, Content: b.Content,
				Open: b.Open})
		}
		dep.Pusher = r.client.pusher(ctx, imageProgressLogger(ctx, source))
	}

	callCtx, done := r.client.limitedRequestContext(ctx, req.limit)
	defer done()
	res, err := ecrpush.Deploy(callCtx, r.client.ecr, dep)
	logDeployment(ctx, source, res)
	diags.Append(recordWarnings(res.Blobs)...)
	diags.Append(leftoverWarnings(target, res.Leftovers)...)
	if err != nil {
		if pastLimit(callCtx) {
			summary, detail := explainTimeout("Image", source, req.operation, req.limit, err)
			diags.AddError(summary, detail+undoneNote(res))
		} else if known(plan.SourceImage) && isRemoteFailure(err) {
			_, summary, detail := explainRemoteFailure(plan, err)
			diags.AddError(summary, detail+undoneNote(res))
		} else {
			summary, detail := explainImageFailure(err, r.client.accountID)
			diags.AddError(summary, detail+undoneNote(res))
		}
	}
	if res.Owned == nil {
		return nil, diags
	}
	out := plan
	if req.state != nil && res.Owned.Digest == req.state.ImageDigest.ValueString() && err != nil {
		// Still the old image: keep what the state said of its source.
		out = *req.state
	}
	out.Region = types.StringValue(target.Region)
	if !known(out.RegistryID) {
		// Unknown only where the provider skipped the account look-up and
		// ECR named no registry either: the state may not hold an unknown.
		out.RegistryID = types.StringValue(res.RegistryID)
	}
	out.ImageDigest = types.StringValue(res.Owned.Digest)
	out.Tags = tagSet(res.Owned.Tags)
	if out.ImageDigest.Equal(plan.ImageDigest) && (err == nil || !res.Undone) {
		// The referrers went in before the tags moved to the image.
		out.ReferrerDigests = referrers
	}
	out.setComputed()
	return &out, diags
}

func logDeployment(ctx context.Context, source string, res ecrpush.DeployResult) {
	var sent int64
	skipped := 0
	for _, b := range res.Blobs {
		sent += b.BytesSent
		if b.Skipped {
			skipped++
		}
	}
	fields := map[string]any{"source": source, "blobs": len(res.Blobs), "blobs_skipped": skipped, "bytes_sent": sent,
		"manifest_puts": res.Put.Calls, "manifests_existing": res.Put.Existed, "undone": res.Undone}
	if res.Owned != nil {
		fields["image_digest"], fields["tags"] = res.Owned.Digest, res.Owned.Tags
	}
	tflog.Info(ctx, "Image deployed", fields)
}

func imageChangedDetail(source, now, planned string) string {
	return fmt.Sprintf("The image at %q is now %s, not %s, the digest planned. It was rewritten between plan and "+
		"apply. Nothing was pushed and no tag changed; run plan again once it is written.", source, now, planned)
}

// undoneNote says what a failed deployment left, for the error's detail.
func undoneNote(res ecrpush.DeployResult) string {
	if res.Undone {
		return "\n\nNo tag changed: ECR's tags are as they were before this apply, and the state is unchanged."
	}
	return ""
}

// explainImageFailure words a deployment's errors: the engine's own for
// undo and put-back, a blob ECR cannot take, then explainImagePushFailure.
func explainImageFailure(err error, accountID string) (summary, detail string) {
	var (
		undo    *ecrpush.UndoError
		putBack *ecrpush.PutBackError
		empty   *ecrpush.EmptyBlobError
	)
	switch {
	case errors.As(err, &undo):
		summary, detail = explainImageFailure(undo.Cause, accountID)
		return summary, fmt.Sprintf("%s\n\nThe tags already moved to the new image could not all be put back: %s still "+
			"name %s (%v). The state still holds the image this resource had, with its other tags; the next apply "+
			"finds those tags on the new image and goes on from there.", detail, quoted(undo.Stuck), undo.Digest, undo.Err)
	case errors.As(err, &putBack):
		return "Image Deleted by ECR With Its Last Tag", fmt.Sprintf("ECR deletes an image when its last tag is "+
			"removed, so the provider removed the tag and put the image %s back, untagged; putting it back failed. "+
			"The repository %q no longer has the image: the next refresh notices, and the next apply pushes it again "+
			"from source.\n\n%v", putBack.Digest, putBack.Target.Repository, putBack.Err)
	case errors.As(err, &empty):
		return "Image Has an Empty Blob", fmt.Sprintf("A blob of the image (%s) is empty, and the repository does not "+
			"have it. ECR's layer upload API cannot upload zero bytes, so this image cannot be pushed through it until "+
			"the repository has that blob (pushed by a client using the registry API, such as docker or crane). "+
			"Nothing was put and no tag changed.\n\n%v", empty.Digest, err)
	}
	return explainImagePushFailure(err, accountID)
}

// leftoverWarnings names what a deployment or destroy left in ECR that no
// resource owns now, and how to remove it.
func leftoverWarnings(target ecrpush.Target, leftovers []ecrpush.Leftover) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, lo := range leftovers {
		registry := ""
		if target.RegistryID != "" {
			registry = " --registry-id " + target.RegistryID
		}
		remove := fmt.Sprintf("aws ecr batch-delete-image --region %s%s --repository-name %s --image-ids imageDigest=%s",
			target.Region, registry, target.Repository, lo.Digest)
		tags := "untagged"
		if len(lo.Tags) > 0 {
			tags = "with tags " + quoted(lo.Tags)
		}
		switch {
		case lo.ListedBy != "":
			diags.AddWarning("Image Kept in ECR: an Index Lists It", fmt.Sprintf("The image %s stays in repository %q, %s, "+
				"and no resource owns it now: an index (a multi-platform image) in the repository lists it, and ECR "+
				"neither deletes such an image nor removes its last tag (%s). It goes only after that index is deleted; "+
				"then remove it with:\n\n  %s", lo.Digest, target.Repository, tags, lo.ListedBy, remove))
		case lo.Err != nil:
			diags.AddWarning("Old Image Left in ECR", fmt.Sprintf("The new image and its tags are in place, but removing "+
				"the previous image %s (%s) from repository %q failed, so it stays, owned by no resource. Remove it "+
				"with:\n\n  %s\n\n%v", lo.Digest, tags, target.Repository, remove, lo.Err))
		default:
			diags.AddWarning("Tags Left on the Kept Image", fmt.Sprintf("keep_remotely keeps the previous image %s in "+
				"repository %q, and with it the tags %s that this resource no longer sets: no resource owns them now. "+
				"Remove them with:\n\n  aws ecr batch-delete-image --region %s%s --repository-name %s --image-ids %s",
				lo.Digest, target.Repository, quoted(lo.Tags), target.Region, registry, target.Repository, tagIDs(lo.Tags)))
		}
	}
	return diags
}

func tagIDs(tags []string) string {
	ids := make([]string, len(tags))
	for i, t := range tags {
		ids[i] = "imageTag=" + t
	}
	return strings.Join(ids, " ")
}

// recordWarnings tells the user, not only TF_LOG, when a resume record could
// not be kept: a push cut off later would start over.
func recordWarnings(results []ecrpush.BlobResult) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, res := range results {
		if res.RecordError != nil {
			diags.AddWarning("Upload Progress Not Recorded", fmt.Sprintf("The record of how far the upload of %s got "+
				"could not be written, so a push of it cut off later starts over instead of resuming. Check that the "+
				"cache directory (TF_ECR_CACHE_DIR, or ~/.cache/terraform-provider-ecr) is writable.\n\n%v",
				res.Digest, res.RecordError))
			break
		}
	}
	return diags
}
