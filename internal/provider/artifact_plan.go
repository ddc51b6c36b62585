// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// ecr_artifact's manifest is built twice from the configuration: at plan,
// for its digest, and at apply, to push it. Both build it here, so the bytes
// pushed are the bytes planned unless a file or the subject changed.

// ModifyPlan plans digest and id from the files and the subject, and the
// region and registry from the provider when left out.
func (r *artifactResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return // destroy, or a provider not configured yet
	}
	var plan, config artifactResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.planDefaults(config.targetModel, r.client)
	plan.Digest = types.StringUnknown()
	built, diags := r.build(ctx, plan, false)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if built != nil {
		plan.Digest = types.StringValue(built.manifest.Digest)
	}
	plan.setID()
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// builtArtifact is an artifact's manifest and the files it lists.
type builtArtifact struct {
	manifest ecrpush.Manifest
	paths    []string
	files    []ecrpush.ArtifactFile
}

// build writes m's manifest. It returns nil, with no error, when something
// it depends on is not known yet: an unknown value, or (at plan) a subject
// neither ECR nor this run's ecr_image knows. At apply the subject must be
// in ECR.
func (r *artifactResource) build(ctx context.Context, m artifactResourceModel, atApply bool) (*builtArtifact, diag.Diagnostics) {
	var diags diag.Diagnostics
	if !known(m.ArtifactType) || !known(m.Files) || m.Annotations.IsUnknown() || m.SubjectDigest.IsUnknown() {
		return nil, diags
	}
	var files []artifactFileModel
	if diags.Append(m.Files.ElementsAs(ctx, &files, false)...); diags.HasError() {
		return nil, diags
	}
	for _, f := range files {
		if !known(f.Path) || !known(f.MediaType) {
			return nil, diags
		}
	}
	out := &builtArtifact{}
	a := ecrpush.Artifact{ArtifactType: m.ArtifactType.ValueString()}
	if diags.Append(m.Annotations.ElementsAs(ctx, &a.Annotations, false)...); diags.HasError() {
		return nil, diags
	}
	dir, err := cacheDir()
	if err != nil {
		tflog.Warn(ctx, "Digests are not cached: "+err.Error())
		dir = ""
	}
	titles := map[string]int{}
	for i, f := range files {
		at := path.Root("files").AtListIndex(i).AtName("path")
		p, title := f.Path.ValueString(), filepath.Base(f.Path.ValueString())
		if j, dup := titles[title]; dup {
			diags.AddAttributeError(at, "Duplicate File Name", fmt.Sprintf("files[%d].path and files[%d].path are both "+
				"named %q: each file of an artifact is titled with its base name, which `oras pull` writes it to, so "+
				"the names must differ.", j, i, title))
			continue
		}
		titles[title] = i
		digest, size, recordErr, err := fileDigest(ctx, dir, p)
		if recordErr != nil {
			tflog.Warn(ctx, "The digest of an artifact file could not be cached: the next plan reads it again",
				map[string]any{"path": p, "error": recordErr.Error()})
		}
		if err != nil {
			diags.AddAttributeError(at, "Cannot Use the Artifact File", fmt.Sprintf("files[%d].path: %s", i, artifactFileProblem(p, err)))
			continue
		}
		out.paths = append(out.paths, p)
		a.Files = append(a.Files, ecrpush.ArtifactFile{Title: title, MediaType: f.MediaType.ValueString(), Digest: digest, Size: size})
	}
	if diags.HasError() {
		return nil, diags
	}
	if known(m.SubjectDigest) {
		subject, d := r.subject(ctx, m, atApply)
		if diags.Append(d...); subject == nil {
			return nil, diags
		}
		a.Subject = subject
	}
	out.files = a.Files
	if out.manifest, err = ecrpush.ArtifactManifest(a); err != nil {
		diags.AddError("Invalid Artifact", err.Error())
		return nil, diags
	}
	return out, diags
}

// subject is the descriptor of m's subject: from an ecr_image planned in
// this run (no call), else from ECR. Nil when it is not known: at plan that
// leaves the digest unknown; at apply it is an error.
func (r *artifactResource) subject(ctx context.Context, m artifactResourceModel, atApply bool) (*ecrpush.Descriptor, diag.Diagnostics) {
	var diags diag.Diagnostics
	digest := m.SubjectDigest.ValueString()
	if !atApply {
		if d, ok := r.client.plannedManifest(digest); ok {
			return &d, diags
		}
	}
	if !known(m.RepositoryName) || m.RegistryID.IsUnknown() || m.Region.IsUnknown() {
		return nil, diags // the subject's repository is not known yet
	}
	target, d := m.target(r.client)
	if diags.Append(d...); diags.HasError() {
		return nil, diags
	}
	callCtx, done := r.client.requestContext(ctx)
	defer done()
	stored, err := ecrpush.GetImage(callCtx, r.client.ecr, target, digest)
	var notFound *ecrpush.ImageNotFoundError
	f, isOp := ecrpush.FactsOf(err)
	switch {
	case err == nil:
		return &ecrpush.Descriptor{MediaType: stored.MediaType, Digest: digest, Size: int64(len(stored.Raw))}, diags
	case errors.As(err, &notFound) || (isOp && f.Kind == ecrpush.KindRepositoryNotFound):
		if atApply {
			diags.AddAttributeError(path.Root("subject_digest"), "Subject Not Found", fmt.Sprintf("Repository %q has "+
				"no manifest %s, the artifact's subject_digest, so the artifact cannot refer to it. Push the subject "+
				"first (an ecr_image whose image_digest is subject_digest is pushed before the artifact), or correct "+
				"the digest. Nothing was pushed.", target.Repository, digest))
		}
		return nil, diags
	}
	diags.AddAttributeError(path.Root("subject_digest"), "Cannot Read the Subject",
		fmt.Sprintf("Reading the subject %s from repository %q failed, so its media type and size are not known: %v",
			digest, target.Repository, err))
	return nil, diags
}

// artifactFileProblem says what is wrong with an artifact's file.
func artifactFileProblem(p string, err error) string {
	return fmt.Sprintf("The artifact file %q cannot be used: %v. Each file must be a readable regular file when the "+
		"plan is made: its digest is part of the artifact's.", p, err)
}
