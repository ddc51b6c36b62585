// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// ecr_artifact's Create and Update: the manifest is built again from the
// files, checked against the digest planned, and deployed with
// ecrpush.Deploy exactly as ecr_image's images are, so tags move and old
// artifacts go by the same rules.

// apply runs one create (state nil) or update and records what the resource
// owns afterwards.
func (r *artifactResource) apply(ctx context.Context, getPlan func(context.Context, any) diag.Diagnostics,
	state *artifactResourceModel, operation string, out *tfsdk.State, diags *diag.Diagnostics) {
	var plan artifactResourceModel
	if diags.Append(getPlan(ctx, &plan)...); diags.HasError() {
		return
	}
	if r.client == nil {
		diags.AddError("Provider Not Configured", "ecr_artifact was applied before the provider was configured. This is a bug in the provider.")
		return
	}
	limit, d := plan.Timeouts.Create(ctx, defaultPushTimeout)
	if operation == "update" {
		limit, d = plan.Timeouts.Update(ctx, defaultPushTimeout)
	}
	if diags.Append(d...); diags.HasError() {
		return
	}
	owned, d := r.deploy(ctx, plan, state, operation, limit)
	diags.Append(d...)
	if owned == nil {
		owned = state
	}
	if owned != nil {
		diags.Append(out.Set(ctx, owned)...)
	}
}

// deploy pushes the artifact and moves its tags, returning the state to
// record: nil when the resource owns nothing afterwards.
func (r *artifactResource) deploy(ctx context.Context, plan artifactResourceModel, state *artifactResourceModel,
	operation string, limit time.Duration) (*artifactResourceModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	target, d := plan.target(r.client)
	diags.Append(d...)
	tags, d := tagList(ctx, plan.Tags)
	diags.Append(d...)
	if diags.HasError() {
		return state, diags
	}
	dep := ecrpush.Deployment{Target: target, Want: ecrpush.Owned{Digest: plan.Digest.ValueString(), Tags: tags},
		KeepPrevious: plan.KeepRemotely.ValueBool()}
	if state != nil {
		have, d := tagList(ctx, state.Tags)
		diags.Append(d...)
		dep.Current = &ecrpush.Owned{Digest: state.Digest.ValueString(), Tags: have}
		dep.KeepPrevious = dep.KeepPrevious || state.KeepRemotely.ValueBool()
	}
	name := "artifact " + plan.ArtifactType.ValueString()
	if dep.Current == nil || !known(plan.Digest) || dep.Current.Digest != dep.Want.Digest {
		built, d := r.build(ctx, plan, true)
		if diags.Append(d...); diags.HasError() {
			return state, diags
		}
		if built == nil {
			diags.AddError("Artifact Not Known at Apply", "A value the artifact depends on is still unknown at apply. "+
				"This is a bug in the provider.")
			return state, diags
		}
		if known(plan.Digest) && built.manifest.Digest != plan.Digest.ValueString() {
			diags.AddAttributeError(path.Root("files"), "Artifact Changed Since Plan", fmt.Sprintf("The artifact is "+
				"now %s, not %s, the digest planned: a file was rewritten between plan and apply. Nothing was pushed "+
				"and no tag changed; run plan again once the files are written.", built.manifest.Digest, plan.Digest.ValueString()))
			return state, diags
		}
		blobs, closeAll, err := artifactBlobs(built)
		defer closeAll()
		if err != nil {
			diags.AddAttributeError(path.Root("files"), "Cannot Use the Artifact File", err.Error())
			return state, diags
		}
		dep.Want.Digest = built.manifest.Digest
		dep.Manifests = []ecrpush.Manifest{built.manifest}
		dep.Blobs = blobs
		dep.Pusher = r.client.pusher(ctx, imageProgressLogger(ctx, name))
	}

	callCtx, done := r.client.limitedRequestContext(ctx, limit)
	defer done()
	res, err := ecrpush.Deploy(callCtx, r.client.ecr, dep)
	logDeployment(ctx, name, res)
	diags.Append(recordWarnings(res.Blobs)...)
	diags.Append(leftoverWarnings(target, res.Leftovers)...)
	if err != nil {
		summary, detail := explainImageFailure(err, r.client.accountID)
		if pastLimit(callCtx) {
			summary, detail = explainTimeout("Artifact", name, operation, limit, err)
		}
		diags.AddError(summary, detail+undoneNote(res))
	}
	if res.Owned == nil {
		return nil, diags
	}
	out := plan
	if state != nil && res.Owned.Digest == state.Digest.ValueString() && err != nil {
		out = *state // still the old artifact: keep what the state said of it
	}
	out.Region = types.StringValue(target.Region)
	if !known(out.RegistryID) {
		out.RegistryID = types.StringValue(res.RegistryID)
	}
	out.Digest = types.StringValue(res.Owned.Digest)
	out.Tags = tagSet(res.Owned.Tags)
	out.setID()
	return &out, diags
}

// artifactBlobs opens the files of a built artifact as blobs, with the
// digests built from them, and adds the empty config; each digest once. The
// returned function closes the files.
func artifactBlobs(built *builtArtifact) ([]ecrpush.Blob, func(), error) {
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			_ = f.Close()
		}
	}
	empty := ecrpush.EmptyJSON()
	blobs := []ecrpush.Blob{{Name: "empty config", Digest: ecrpush.EmptyDigest, Size: int64(len(empty)), Content: bytes.NewReader(empty)}}
	seen := map[string]bool{ecrpush.EmptyDigest: true}
	for i, f := range built.files {
		if seen[f.Digest] {
			continue
		}
		seen[f.Digest] = true
		blob, file, err := ecrpush.OpenFileBlob(built.paths[i])
		if err != nil {
			return nil, closeAll, fmt.Errorf("the artifact file %q cannot be read: %w", built.paths[i], err)
		}
		opened = append(opened, file)
		blob.Digest = f.Digest
		blobs = append(blobs, blob)
	}
	return blobs, closeAll, nil
}
