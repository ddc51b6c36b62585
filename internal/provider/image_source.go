// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
	"github.com/ecrlabs/terraform-provider-ecr/internal/imagesource"
)

// ecr_image reads its image from a path (source) or from a registry
// (source_image); this file is the one place that tells them apart: the
// rest of the resource sees an *imagesource.Source either way.

var _ resource.ResourceWithConfigValidators = (*imageResource)(nil)

// loginReuseMargin is how long before an ECR token expires it is asked for
// again: a copy started with it must finish in that time.
const loginReuseMargin = time.Hour

func imageSourceAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"source": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "Path of the image to push, relative to the working directory: an OCI image layout " +
				"directory, a tarball of one, or a `docker save` tarball (`.tar` or `.tar.gz`). It must exist at plan: " +
				"its digest is planned. Exactly one of `source` and `source_image` is set.",
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"source_image": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "An image in another registry to copy, as Docker and crane read references: " +
				"`alpine:3.20` (Docker Hub), `ghcr.io/org/app:1.2`, `quay.io/org/app@sha256:...`, " +
				"`host:port/repo:tag@sha256:...`, `123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1`. Each plan " +
				"asks the registry which digest a tag names (one `HEAD` request), so `image_digest` is known at plan and " +
				"a tag moved upstream shows as an in-place update; a reference with `@sha256:` is pinned, and the bytes " +
				"fetched are checked against it. Layers stream from the registry into ECR's upload API (no temporary " +
				"file), each checked against its digest; what the repository has is not fetched. Credentials: " +
				"`source_username` and `source_password_wo` when set; for an ECR registry, the provider's own AWS " +
				"credentials; else the Docker config (`DOCKER_CONFIG` or `~/.docker/config.json`: `auths`, " +
				"`credsStore`, `credHelpers`); else anonymous access. Plain HTTP is used only for loopback " +
				"addresses. Exactly one of `source` and `source_image` is set; `ref` does not apply.",
			Validators: []validator.String{remoteReferenceValidator{}},
		},
		"source_username": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "User name for the registry of `source_image`, with `source_password_wo`, for a " +
				"registry the Docker config has no credentials for. Not for ECR registries, which the provider's AWS " +
				"credentials read.",
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"source_password_wo": schema.StringAttribute{
			Optional:  true,
			Sensitive: true,
			WriteOnly: true,
			MarkdownDescription: "Password or token for `source_username` (write-only: never stored in the plan or " +
				"the state; Terraform 1.11 and later, OpenTofu 1.11 and later). It may come from an ephemeral value.",
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
	}
}

func (r *imageResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("source"), path.MatchRoot("source_image")),
		resourcevalidator.Conflicting(path.MatchRoot("source_image"), path.MatchRoot("ref")),
		resourcevalidator.Conflicting(path.MatchRoot("source"), path.MatchRoot("source_username")),
		resourcevalidator.RequiredTogether(path.MatchRoot("source_username"), path.MatchRoot("source_password_wo")),
	}
}

// remoteReferenceValidator refuses at validate what is not a registry
// reference, before any request.
type remoteReferenceValidator struct{}

func (remoteReferenceValidator) Description(context.Context) string {
	return "must be an image reference such as alpine:3.20 or ghcr.io/org/app@sha256:..."
}

func (v remoteReferenceValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (remoteReferenceValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if err := imagesource.ParseRemoteReference(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Image Reference", fmt.Sprintf("%v. source_image takes a "+
			"reference as docker pull does: [registry[:port]/]repository[:tag][@sha256:<64 hex digits>], such as "+
			"alpine:3.20, ghcr.io/org/app:1.2 or 123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:...", err))
	}
}

// sourceName is what messages and logs call the source: its path or its
// reference.
func (m imageResourceModel) sourceName() string {
	if known(m.SourceImage) {
		return m.SourceImage.ValueString()
	}
	return m.Source.ValueString()
}

// sourcePlannable reports whether the source's digest can be planned: every
// attribute it depends on is known.
func (m imageResourceModel) sourcePlannable(password string, passwordKnown bool) bool {
	if m.Ref.IsUnknown() || m.Platform.IsUnknown() {
		return false
	}
	if known(m.SourceImage) {
		return !m.SourceUsername.IsUnknown() && (passwordKnown || password == "")
	}
	return known(m.Source)
}

// pinnedCopy reports whether the plan copies, by the same digest reference
// and platform, the image the state already holds.
func pinnedCopy(plan, state imageResourceModel) bool {
	return known(plan.SourceImage) && strings.Contains(plan.SourceImage.ValueString(), "@sha256:") &&
		plan.SourceImage.Equal(state.SourceImage) && plan.Platform.Equal(state.Platform) &&
		plan.Referrers.Equal(state.Referrers) && known(state.ImageDigest)
}

// planDigest finds the digest the source will push, for the plan, and, for
// a source on disk, its referrers' digests. It tells the provider's client
// of the top-level manifest planned, so that an ecr_artifact planned after
// it in the same run can name it as its subject.
func (r *imageResource) planDigest(ctx context.Context, m imageResourceModel, password string) (string, types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	none := types.ListUnknown(types.StringType)
	if known(m.SourceImage) {
		callCtx, done := r.client.requestContext(ctx)
		defer done()
		res, err := imagesource.ResolveRemote(callCtx, m.SourceImage.ValueString(), r.remoteOptions(ctx, m, password))
		if err != nil {
			at, summary, detail := explainRemoteFailure(m, err)
			diags.AddAttributeError(at, summary, detail)
			return "", none, diags
		}
		r.client.notePlannedManifest(ecrpush.Descriptor{Digest: res.Digest, MediaType: res.MediaType, Size: res.Size})
		return res.Digest, none, diags
	}
	src, err := imagesource.Open(m.Source.ValueString(), m.sourceOptions())
	if err != nil {
		at, summary, detail := explainSourceFailure(m.Source.ValueString(), m.sourceOptions(), err)
		diags.AddAttributeError(at, summary, detail)
		return "", none, diags
	}
	defer func() { _ = src.Close() }()
	top := src.Manifests()[len(src.Manifests())-1]
	r.client.notePlannedManifest(ecrpush.Descriptor{Digest: top.Digest, MediaType: top.MediaType, Size: int64(len(top.Raw))})
	return src.Digest(), referrerDigests(src), diags
}

// openSource opens the source for a push. A registry source is pinned to
// the digest planned, so that apply pushes what the plan showed even when
// the tag moved since.
func (r *imageResource) openSource(ctx context.Context, m imageResourceModel, password string) (*imagesource.Source, diag.Diagnostics) {
	var diags diag.Diagnostics
	if known(m.SourceImage) {
		planned := ""
		if known(m.ImageDigest) {
			planned = m.ImageDigest.ValueString()
		}
		src, err := imagesource.OpenRemote(ctx, m.SourceImage.ValueString(), planned, r.remoteOptions(ctx, m, password))
		if err != nil {
			at, summary, detail := explainRemoteFailure(m, err)
			diags.AddAttributeError(at, summary, detail)
			return nil, diags
		}
		return src, diags
	}
	src, err := imagesource.Open(m.Source.ValueString(), m.sourceOptions())
	if err != nil {
		at, summary, detail := explainSourceFailure(m.Source.ValueString(), m.sourceOptions(), err)
		diags.AddAttributeError(at, summary, detail)
		return nil, diags
	}
	return src, diags
}

// remoteOptions says how to read source_image: the resource's own
// credentials first, then for an ECR registry the provider's.
func (r *imageResource) remoteOptions(ctx context.Context, m imageResourceModel, password string) imagesource.RemoteOptions {
	user := m.SourceUsername.ValueString()
	filter := m.referrerFilter(ctx)
	return imagesource.RemoteOptions{
		Platform:  m.Platform.ValueString(),
		Referrers: filter,
		Login: func(ctx context.Context, registry string) (imagesource.Login, bool, error) {
			if user != "" {
				return imagesource.Login{Username: user, Password: password,
					Source: "source_username and source_password_wo"}, true, nil
			}
			return r.client.ecrLogin(ctx, registry)
		},
	}
}

// ecrLogin answers credentials for an ECR registry from the provider's AWS
// credentials (GetAuthorizationToken in the registry's region), and
// nothing for any other registry.
func (c *client) ecrLogin(ctx context.Context, registry string) (imagesource.Login, bool, error) {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	id, region, ok := ecrpush.ParseRegistryHost(host)
	if !ok {
		return imagesource.Login{}, false, nil
	}
	key := id + "/" + region
	c.loginsMu.Lock()
	login, cached := c.logins[key]
	c.loginsMu.Unlock()
	if !cached || time.Until(login.ExpiresAt) < loginReuseMargin {
		var err error
		login, err = ecrpush.LoginToRegistry(ctx, c.ecr, ecrpush.Target{RegistryID: id, Region: region})
		if err != nil {
			return imagesource.Login{}, false, fmt.Errorf("the provider's AWS credentials could not log in to "+
				"ECR registry %s in %s (ecr:GetAuthorizationToken): %w", id, region, err)
		}
		c.loginsMu.Lock()
		if c.logins == nil {
			c.logins = map[string]ecrpush.RegistryLogin{}
		}
		c.logins[key] = login
		c.loginsMu.Unlock()
	}
	out := imagesource.Login{Username: login.Username, Password: login.Password,
		Source: fmt.Sprintf("the provider's AWS credentials (an ecr:GetAuthorizationToken token for %s in %s)", id, region)}
	if c.endpoint != "" {
		// A custom endpoint (such as the local test endpoint) serves the
		// registry where its token says; on AWS that is the host itself.
		out.Endpoint = login.Endpoint
	}
	return out, true, nil
}

// withAttributes adds more to own and returns own.
func withAttributes(more, own map[string]schema.Attribute) map[string]schema.Attribute {
	for k, v := range more {
		own[k] = v
	}
	return own
}

// sourceAttribute is the attribute that names the source.
func sourceAttribute(m imageResourceModel) path.Path {
	if known(m.SourceImage) {
		return path.Root("source_image")
	}
	return path.Root("source")
}

// configPassword reads source_password_wo from the configuration: a
// write-only value is in neither the plan nor the state.
func configPassword(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) string {
	var pw types.String
	diags.Append(config.GetAttribute(ctx, path.Root("source_password_wo"), &pw)...)
	return pw.ValueString()
}

// notePlannedManifest remembers a manifest an ecr_image plans to push.
func (c *client) notePlannedManifest(d ecrpush.Descriptor) {
	c.plannedMu.Lock()
	defer c.plannedMu.Unlock()
	if c.planned == nil {
		c.planned = map[string]ecrpush.Descriptor{}
	}
	c.planned[d.Digest] = d
}

// plannedManifest returns a manifest an ecr_image of this run planned.
func (c *client) plannedManifest(digest string) (ecrpush.Descriptor, bool) {
	c.plannedMu.Lock()
	defer c.plannedMu.Unlock()
	d, ok := c.planned[digest]
	return d, ok
}
