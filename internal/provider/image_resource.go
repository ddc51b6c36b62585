// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	awsendpoints "github.com/hashicorp/aws-sdk-go-base/v2/endpoints"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
	"github.com/ecrlabs/terraform-provider-ecr/internal/imagesource"
)

var (
	_ resource.Resource                = (*imageResource)(nil)
	_ resource.ResourceWithConfigure   = (*imageResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*imageResource)(nil)
	_ resource.ResourceWithImportState = (*imageResource)(nil)
)

func newImageResource() resource.Resource { return &imageResource{} }

// imageResource is ecr_image: an image (or a multi-platform index) read from
// an OCI layout or a tarball on disk and pushed to a repository.
type imageResource struct {
	client *client
}

type imageResourceModel struct {
	targetModel
	Source           types.String   `tfsdk:"source"`
	SourceImage      types.String   `tfsdk:"source_image"`
	SourceUsername   types.String   `tfsdk:"source_username"`
	SourcePasswordWO types.String   `tfsdk:"source_password_wo"`
	Ref              types.String   `tfsdk:"ref"`
	Referrers        types.List     `tfsdk:"referrers"`
	ReferrerDigests  types.List     `tfsdk:"referrer_digests"`
	Platform         types.String   `tfsdk:"platform"`
	Tags             types.Set      `tfsdk:"tags"`
	KeepRemotely     types.Bool     `tfsdk:"keep_remotely"`
	ImageDigest      types.String   `tfsdk:"image_digest"`
	ImageURI         types.String   `tfsdk:"image_uri"`
	ID               types.String   `tfsdk:"id"`
	Timeouts         timeouts.Value `tfsdk:"timeouts"`
}

// platformRegexp is the form of platform; imagesource checks the parts.
var platformRegexp = regexp.MustCompile(`^[^/\s]+/[^/\s]+(/[^/\s]+)?$`)

func (r *imageResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (r *imageResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := schema.StringAttribute{PlanModifiers: []planmodifier.String{
		stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Pushes an image built elsewhere to an ECR repository, with no Docker daemon: from an OCI image " +
			"layout directory (what ko, apko, buildah, skopeo, crane and `docker buildx --output type=oci` write), an OCI " +
			"layout tarball (also what `docker save` writes from Docker 25 on) or a legacy `docker save` tarball, " +
			"gzip-compressed or not.\n\n" +
			"Manifests are pushed byte for byte, so the digest in ECR is the digest in the source; `image_digest` is " +
			"known at plan, read from the source's index and manifests without reading its layers. A different image " +
			"at `source` is an in-place update: the new image is pushed, each tag moves to it in one `PutImage` call " +
			"(so a tag never names nothing), and only then is the old image removed, by the rules of destroy; a " +
			"failure on the way puts the tags back where they were. Only a change of repository, registry or region " +
			"replaces the resource. A change of `tags` alone sends no layer. " +
			"Layers go through ECR's layer upload API in parallel, and a layer the repository has already is not sent " +
			"again: re-applying an image that is there sends no layer byte.\n\n" +
			"A legacy `docker save` tarball holds no manifest: the provider writes a Docker schema 2 manifest for it, " +
			"the same way every time, and pushes its layers as they are in the tarball (uncompressed layers stay " +
			"uncompressed, with their `diff_id` as digest), so the digest is the same at plan and apply and from run " +
			"to run. Compressing them would make the digest depend on the compressor and cost a full compression at " +
			"every plan.\n\n" +
			"**Refresh.** An image deleted outside Terraform leaves the state, and the next apply pushes it again. A " +
			"tag moved to another image shows as missing, and the next apply moves it back (which an immutable " +
			"repository refuses, naming the tag, the image it points at and the repository's setting).\n\n" +
			"**Destroy** removes the tags this resource set, and the image itself when no other tag points at it. An " +
			"image other tags still point at is kept (with those tags). An image that an index in the repository lists " +
			"is kept too, and ECR keeps its last tag: a warning names both, and how to remove them once the index is " +
			"gone. The child manifests of an index pushed whole stay in the repository untagged; a lifecycle policy " +
			"on untagged images removes them. Anything that pulls the image by digest (a Lambda function, an ECS " +
			"task definition) breaks when it is deleted: set `keep_remotely = true` to only remove it from the state.",
		Attributes: resourceTargetAttributes(withAttributes(imageSourceAttributes(), withAttributes(imageReferrerAttributes(), map[string]schema.Attribute{
			"ref": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Which image to push when `source` holds several: its " +
					"`org.opencontainers.image.ref.name` annotation in `index.json` (as skopeo's `oci:dir:ref`), its " +
					"`io.containerd.image.name` annotation (Docker 25+), its digest (`sha256:...`), or, in a legacy " +
					"`docker save` tarball, one of its repository tags. Required when the source holds more than one " +
					"image; the error lists them.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"platform": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "`os/arch[/variant]`, such as `linux/arm64`: from a multi-platform index, push only " +
					"that platform's image, and make `image_digest` its digest. AWS Lambda refuses indexes, so set it " +
					"for a Lambda function's image. Left out, an index is pushed whole: every child manifest " +
					"(attestations included), then the index.",
				Validators: []validator.String{stringvalidator.RegexMatches(platformRegexp, "must be os/arch or os/arch/variant, such as linux/arm64")},
			},
			"tags": schema.SetAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: fmt.Sprintf("Tags to put on the image. Default: none (the image is pushed untagged, "+
					"by digest). Each is %d to %d characters, a letter, digit or `_` followed by letters, digits, `_`, "+
					"`.` and `-` (`%s`). Changing only the tags updates them in place.",
					ecrpush.ImageTagMinLen, ecrpush.ImageTagMaxLen, ecrpush.ImageTagPattern),
				Validators: tagsValidators(),
			},
			"keep_remotely": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "When `true`, destroying the resource only removes it from the state, and leaves the " +
					"image and its tags in ECR; when a new image at `source` takes its place, the old image stays (its " +
					"tags move to the new one, and a warning names any tag left on it). Default: `false`.",
			},
			"image_digest": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Digest of the pushed top-level manifest (the image's, or the index's when an " +
					"index is pushed whole), `sha256:` and 64 hex digits: the digest ECR reports. Known at plan.",
			},
			"image_uri": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "`<registry_id>.dkr.ecr.<region>.<dns_suffix>/<repository_name>@<image_digest>`, " +
					"with the DNS suffix of the region's partition (`amazonaws.com`, `amazonaws.com.cn`, ...): the " +
					"reference `aws_lambda_function`'s `image_uri` and ECS task definitions take.",
			},
			"id": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "`<registry_id>/<repository_name>@<image_digest>`. Import takes " +
					"`<repository_name>@<image_digest>` for the provider's registry and region, " +
					"`<registry_id>/<repository_name>@<image_digest>` for another registry, and " +
					"`<region>/<registry_id>/<repository_name>@<image_digest>` for another region as well. A " +
					"repository whose first path component is 12 digits must be imported with the registry given.",
			},
		})), replace),
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true}),
		},
	}
}

func (r *imageResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	c, diags := providerClient(req.ProviderData, "ecr_image")
	resp.Diagnostics.Append(diags...)
	r.client = c
}

// imageURI is the image's pull reference by digest, with the DNS suffix of
// the region's partition.
func imageURI(registryID, region, repository, digest string) string {
	suffix := "amazonaws.com"
	if p, ok := awsendpoints.PartitionForRegion(awsendpoints.DefaultPartitions(), region); ok && p.DNSSuffix() != "" {
		suffix = p.DNSSuffix()
	} else if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return fmt.Sprintf("%s.dkr.ecr.%s.%s/%s@%s", registryID, region, suffix, repository, digest)
}

// setComputed fills image_uri and id from what is known.
func (m *imageResourceModel) setComputed() {
	m.ImageURI, m.ID = types.StringUnknown(), types.StringUnknown()
	if known(m.ImageDigest) && known(m.RegistryID) && known(m.RepositoryName) && known(m.Region) {
		reg, repo, digest := m.RegistryID.ValueString(), m.RepositoryName.ValueString(), m.ImageDigest.ValueString()
		m.ImageURI = types.StringValue(imageURI(reg, m.Region.ValueString(), repo, digest))
		m.ID = types.StringValue(digestID(reg, repo, digest))
	}
}

func (m imageResourceModel) sourceOptions() imagesource.Options {
	filter := m.referrerFilter(context.Background())
	return imagesource.Options{Ref: m.Ref.ValueString(), Platform: m.Platform.ValueString(), Referrers: filter}
}

// tagList returns a set of tags, sorted.
func tagList(ctx context.Context, s types.Set) ([]string, diag.Diagnostics) {
	var tags []string
	if s.IsNull() || s.IsUnknown() {
		return nil, nil
	}
	diags := s.ElementsAs(ctx, &tags, false)
	slices.Sort(tags)
	return tags, diags
}

func tagSet(tags []string) types.Set {
	values := make([]string, len(tags))
	copy(values, tags)
	slices.Sort(values)
	s, _ := types.SetValueFrom(context.Background(), types.StringType, values)
	return s
}

// ModifyPlan plans image_digest from the source (a different digest is an
// in-place update), and the region and registry from the provider when left
// out.
func (r *imageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return // destroy, or a provider not configured yet
	}
	var plan, config imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *imageResourceModel
	if !req.State.Raw.IsNull() {
		state = &imageResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	plan.planDefaults(config.targetModel, r.client)

	plan.ImageDigest = types.StringUnknown()
	plan.ReferrerDigests = types.ListUnknown(types.StringType)
	password := config.SourcePasswordWO.ValueString()
	switch {
	case state != nil && pinnedCopy(plan, *state):
		// A digest reference is never resolved again: the plan asks the
		// registry nothing (no pull counts against a rate limit).
		plan.ImageDigest, plan.ReferrerDigests = state.ImageDigest, state.ReferrerDigests
	case plan.sourcePlannable(password, !config.SourcePasswordWO.IsUnknown()):
		digest, referrers, diags := r.planDigest(ctx, plan, password)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		plan.ImageDigest = types.StringValue(digest)
		switch {
		case known(plan.Source):
			plan.ReferrerDigests = referrers
		case state != nil && state.ImageDigest.Equal(plan.ImageDigest) && plan.Referrers.Equal(state.Referrers):
			// A registry's referrers are read when the image is copied.
			plan.ReferrerDigests = state.ReferrerDigests
		}
	}
	plan.setComputed()
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *imageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured", "ecr_image was created before the provider was configured. This is a bug in the provider.")
		return
	}
	limit, diags := plan.Timeouts.Create(ctx, defaultPushTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	out, diags := r.deployImage(ctx, deployRequest{plan: plan, operation: "create", limit: limit,
		password: configPassword(ctx, req.Config, &resp.Diagnostics)})
	resp.Diagnostics.Append(diags...)
	if out != nil {
		resp.Diagnostics.Append(resp.State.Set(ctx, out)...)
	}
}

func pushManifests(src *imagesource.Source) []ecrpush.Manifest {
	var out []ecrpush.Manifest
	for _, m := range src.Manifests() {
		out = append(out, ecrpush.Manifest{Digest: m.Digest, MediaType: m.MediaType, Raw: m.Raw})
	}
	return out
}

// imageProgressLogger logs a push at INFO when each blob ends, and at most
// every progressInterval in between, with the totals over the image.
func imageProgressLogger(ctx context.Context, source string) func(ecrpush.Progress) {
	var (
		mu   sync.Mutex
		last time.Time
	)
	return func(p ecrpush.Progress) {
		mu.Lock()
		defer mu.Unlock()
		final := p.Phase == ecrpush.PhaseDone || p.Phase == ecrpush.PhaseSkipped || p.Phase == ecrpush.PhaseFailed
		if !final && !last.IsZero() && time.Since(last) < progressInterval {
			return
		}
		last = time.Now()
		percent := 100.0
		if p.AllTotal > 0 {
			percent = float64(p.AllDone) * 100 / float64(p.AllTotal)
		}
		tflog.Info(ownFields(ctx), fmt.Sprintf("Image %s: %d of %d blobs, %d of %d bytes (%.0f%%); %s %s", source, p.BlobsDone, p.Blobs,
			p.AllDone, p.AllTotal, percent, p.Name, p.Phase),
			map[string]any{"source": source, "blob": p.Name, "digest": p.Digest, "phase": p.Phase.String(),
				"bytes_done": p.AllDone, "bytes_total": p.AllTotal, "blobs_done": p.BlobsDone, "blobs": p.Blobs})
	}
}

func (r *imageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	target, diags := state.target(r.client)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	info, tags, found, diags := refreshOwned(ctx, r.client, target, state.ImageDigest.ValueString(), state.ID.ValueString(), state.Tags)
	resp.Diagnostics.Append(diags...)
	if !found {
		resp.State.RemoveResource(ctx)
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	state.Tags = tags
	if !known(state.RegistryID) || state.RegistryID.ValueString() == "" {
		state.RegistryID = types.StringValue(info.RegistryID)
	}
	if state.KeepRemotely.IsNull() {
		state.KeepRemotely = types.BoolValue(false)
	}
	state.Region = types.StringValue(target.Region)
	state.setComputed()
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update pushes a new image at source and moves the tags to it, or changes
// the tags of the same image, through ecrpush.Deploy; a new source path, ref
// or platform naming the same image is only recorded.
func (r *imageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	limit, diags := plan.Timeouts.Update(ctx, defaultPushTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	out, diags := r.deployImage(ctx, deployRequest{plan: plan, state: &state, operation: "update", limit: limit,
		password: configPassword(ctx, req.Config, &resp.Diagnostics)})
	resp.Diagnostics.Append(diags...)
	if out == nil {
		out = &state
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, out)...)
}

// Delete removes this resource's tags, and the image when no other tag
// points at it (ecrpush.Destroy); with keep_remotely it only forgets the
// image.
func (r *imageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(ownedDelete{what: "image", id: state.ID.ValueString(), keep: state.KeepRemotely.ValueBool(),
		where: state.targetModel, digest: state.ImageDigest.ValueString(), tags: state.Tags, providerData: r.client}.run(ctx)...)
}

// ImportState takes [[<region>/]<registry_id>/]<repository_name>@<digest>,
// or :<tag> in place of @<digest>, which it resolves to the digest the tag
// names now.
func (r *imageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	region, registry, repository, digest, ok := importImageID(ctx, r.client, req.ID, &resp.Diagnostics)
	if !ok {
		return
	}
	m := imageResourceModel{
		targetModel: targetModel{RepositoryName: types.StringValue(repository), RegistryID: types.StringNull(),
			Region: types.StringValue(region)},
		Source: types.StringNull(), SourceImage: types.StringNull(), SourceUsername: types.StringNull(),
		SourcePasswordWO: types.StringNull(), Ref: types.StringNull(), Platform: types.StringNull(),
		Referrers: types.ListNull(types.StringType), ReferrerDigests: types.ListNull(types.StringType),
		Tags: types.SetNull(types.StringType), KeepRemotely: types.BoolValue(false),
		ImageDigest: types.StringValue(digest),
		Timeouts: timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{
			"create": types.StringType, "update": types.StringType})},
	}
	if registry != "" {
		m.RegistryID = types.StringValue(registry)
	}
	m.setComputed()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// resolveTag finds the digest tag names, for import; "" after an error.
func (r *imageResource) resolveTag(ctx context.Context, id, region, registry, repository, tag string, diags *diag.Diagnostics) string {
	if r.client == nil {
		diags.AddError("Provider Not Configured", "An import by tag needs the provider configured to look the tag up.")
		return ""
	}
	if region == "" {
		region = r.client.region
	}
	target := ecrpush.Target{Repository: repository, RegistryID: registry, Region: region}
	callCtx, done := r.client.requestContext(ctx)
	defer done()
	info, found, err := ecrpush.DescribeTag(callCtx, r.client.ecr, target, tag)
	if err != nil {
		diags.AddError(explainECRFailure(err, r.client.accountID))
		return ""
	}
	if !found {
		diags.AddError("Image Tag Not Found", fmt.Sprintf("Repository %q has no tag %q, so the import ID %q names no "+
			"image. Import by a tag the repository has, or by digest (<repository_name>@sha256:...).", repository, tag, id))
		return ""
	}
	tflog.Info(ctx, "Import by tag resolved", map[string]any{"tag": tag, "image_digest": info.Digest})
	return info.Digest
}
