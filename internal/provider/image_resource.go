// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
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
	Source       types.String   `tfsdk:"source"`
	Ref          types.String   `tfsdk:"ref"`
	Platform     types.String   `tfsdk:"platform"`
	Tags         types.Set      `tfsdk:"tags"`
	KeepRemotely types.Bool     `tfsdk:"keep_remotely"`
	ImageDigest  types.String   `tfsdk:"image_digest"`
	ImageURI     types.String   `tfsdk:"image_uri"`
	ID           types.String   `tfsdk:"id"`
	Timeouts     timeouts.Value `tfsdk:"timeouts"`
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
			"at `source` plans a replacement; a change of `tags` alone is an in-place update that sends no layer. " +
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
			"image other tags still point at is kept (with those tags), as is an image that an index in the repository " +
			"lists. The child manifests of an index pushed whole stay in the repository untagged; a lifecycle policy " +
			"on untagged images removes them. Anything that pulls the image by digest (a Lambda function, an ECS " +
			"task definition) breaks when it is deleted: set `keep_remotely = true` to only remove it from the state.",
		Attributes: resourceTargetAttributes(map[string]schema.Attribute{
			"source": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Path of the image to push, relative to the working directory: an OCI image layout " +
					"directory, a tarball of one, or a `docker save` tarball (`.tar` or `.tar.gz`). It must exist at plan: " +
					"its digest is planned.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"ref": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Which image to push when the source holds several: its " +
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
				Validators: []validator.Set{setvalidator.ValueStringsAre(
					stringvalidator.LengthBetween(ecrpush.ImageTagMinLen, ecrpush.ImageTagMaxLen),
					stringvalidator.RegexMatches(ecrpush.ImageTagRegexp, "must start with a letter, digit or '_' and hold "+
						"only letters, digits, '_', '.' and '-'"),
				)},
			},
			"keep_remotely": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "When `true`, destroying the resource (or replacing it with another image) only " +
					"removes it from the state, and leaves the image and its tags in ECR. Default: `false`.",
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
		}, replace),
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
	return imagesource.Options{Ref: m.Ref.ValueString(), Platform: m.Platform.ValueString()}
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

// ModifyPlan plans image_digest from the source (a different digest
// replaces), and the region and registry from the provider when left out.
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
	if plan.Region.IsUnknown() && config.Region.IsNull() {
		plan.Region = types.StringValue(r.client.region)
	}
	if plan.RegistryID.IsUnknown() && config.RegistryID.IsNull() && r.client.accountID != "" {
		plan.RegistryID = types.StringValue(r.client.accountID)
	}

	plan.ImageDigest = types.StringUnknown()
	if known(plan.Source) && !plan.Ref.IsUnknown() && !plan.Platform.IsUnknown() {
		src, err := imagesource.Open(plan.Source.ValueString(), plan.sourceOptions())
		if err != nil {
			at, summary, detail := explainSourceFailure(plan.Source.ValueString(), plan.sourceOptions(), err)
			resp.Diagnostics.AddAttributeError(at, summary, detail)
			return
		}
		plan.ImageDigest = types.StringValue(src.Digest())
		_ = src.Close()
	}
	plan.setComputed()
	if state != nil && !plan.ImageDigest.Equal(state.ImageDigest) {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("image_digest"))
	}
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
	target, diags := plan.target(r.client)
	resp.Diagnostics.Append(diags...)
	tags, diags := tagList(ctx, plan.Tags)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	source, opts := plan.Source.ValueString(), plan.sourceOptions()
	src, err := imagesource.Open(source, opts)
	if err != nil {
		at, summary, detail := explainSourceFailure(source, opts, err)
		resp.Diagnostics.AddAttributeError(at, summary, detail)
		return
	}
	defer func() { _ = src.Close() }()
	if known(plan.ImageDigest) && plan.ImageDigest.ValueString() != src.Digest() {
		resp.Diagnostics.AddAttributeError(path.Root("source"), "Image Changed Since Plan", fmt.Sprintf(
			"The image at %q is now %s, not %s, the digest planned. It was rewritten between plan and apply; "+
				"run plan again once it is written.", source, src.Digest(), plan.ImageDigest.ValueString()))
		return
	}

	limit, diags := plan.Timeouts.Create(ctx, defaultPushTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	callCtx, done := r.client.limitedRequestContext(ctx, limit)
	defer done()
	blobs := src.Blobs()
	pushBlobs := make([]ecrpush.Blob, len(blobs))
	for i, b := range blobs {
		pushBlobs[i] = ecrpush.Blob{Name: b.Name, Digest: b.Digest, Size: b.Size, Content: b.Content}
	}
	pusher := r.client.pusher(ctx, imageProgressLogger(ctx, source))
	results, err := pusher.Push(callCtx, target, pushBlobs)
	if err != nil && pastLimit(callCtx) {
		resp.Diagnostics.AddError(explainTimeout("Image", source, "create", limit, err))
		return
	}
	if err != nil {
		summary, detail := explainImagePushFailure(err, r.client.accountID)
		resp.Diagnostics.AddError(summary, detail)
		return
	}
	var sent int64
	skipped := 0
	for _, res := range results {
		sent += res.BytesSent
		if res.Skipped {
			skipped++
		}
		if res.RecordError != nil {
			tflog.Warn(ctx, "An upload's resume record could not be kept: "+res.RecordError.Error())
		}
	}

	manifests := pushManifests(src)
	put, err := ecrpush.PutImage(callCtx, r.client.ecr, target, manifests, tags)
	if err != nil {
		summary, detail := explainImagePushFailure(err, r.client.accountID)
		resp.Diagnostics.AddError(summary, detail)
		return
	}
	tflog.Info(ctx, "Image pushed", map[string]any{"source": source, "image_digest": put.Digest, "blobs": len(results),
		"blobs_skipped": skipped, "bytes_sent": sent, "manifests": len(manifests), "manifests_existing": put.Existed, "tags": tags})

	plan.Region = types.StringValue(target.Region)
	if !known(plan.RegistryID) {
		plan.RegistryID = types.StringValue(put.RegistryID)
	}
	plan.ImageDigest = types.StringValue(put.Digest)
	plan.Tags = tagSet(tags)
	plan.setComputed()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
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
	callCtx, done := r.client.requestContext(ctx)
	defer done()
	digest := state.ImageDigest.ValueString()
	info, found, err := ecrpush.DescribeImage(callCtx, r.client.ecr, target, digest)
	if f, ok := ecrpush.FactsOf(err); ok && f.Kind == ecrpush.KindRepositoryNotFound {
		tflog.Info(ctx, "The image's repository is gone; removing the image from the state", map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(explainECRFailure(err, r.client.accountID))
		return
	}
	if !found {
		tflog.Info(ctx, "ECR no longer has the image; removing it from the state so the next apply pushes it again",
			map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	// Only this resource's tags are tracked: a tag it set that now points
	// elsewhere drops out (the plan puts it back); tags others set are not
	// its business. After import every tag is adopted.
	if state.Tags.IsNull() || state.Tags.IsUnknown() {
		state.Tags = tagSet(info.Tags)
	} else {
		mine, diags := tagList(ctx, state.Tags)
		resp.Diagnostics.Append(diags...)
		var still []string
		for _, t := range mine {
			if slices.Contains(info.Tags, t) {
				still = append(still, t)
			}
		}
		if len(still) != len(mine) {
			tflog.Info(ctx, "Tags of the image have moved to other images or were removed", map[string]any{
				"id": state.ID.ValueString(), "tags_in_state": mine, "tags_on_image": info.Tags})
		}
		state.Tags = tagSet(still)
	}
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

// Update changes tags (PutImage of the same manifest for each added, and
// BatchDeleteImage by tag for each removed: no blob is sent) and records a
// new source path, ref or platform that name the same image.
func (r *imageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	target, diags := plan.target(r.client)
	resp.Diagnostics.Append(diags...)
	want, diags := tagList(ctx, plan.Tags)
	resp.Diagnostics.Append(diags...)
	have, diags := tagList(ctx, state.Tags)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	var added, removed []string
	for _, t := range want {
		if !slices.Contains(have, t) {
			added = append(added, t)
		}
	}
	for _, t := range have {
		if !slices.Contains(want, t) {
			removed = append(removed, t)
		}
	}
	digest := state.ImageDigest.ValueString()
	limit, diags := plan.Timeouts.Update(ctx, defaultPushTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	callCtx, done := r.client.limitedRequestContext(ctx, limit)
	defer done()
	if len(added) > 0 || len(removed) > 0 {
		// The manifest ECR holds, byte for byte: tagging sends it again, and
		// nothing else.
		stored, err := ecrpush.GetImage(callCtx, r.client.ecr, target, digest)
		if err != nil {
			resp.Diagnostics.AddError(explainImagePushFailure(err, r.client.accountID))
			return
		}
		m := ecrpush.Manifest{Digest: digest, MediaType: stored.MediaType, Raw: stored.Raw}
		for _, tag := range added {
			if err := ecrpush.TagImage(callCtx, r.client.ecr, target, m, tag); err != nil {
				resp.Diagnostics.AddError(explainImagePushFailure(err, r.client.accountID))
				return
			}
		}
		if _, err := ecrpush.UntagImage(callCtx, r.client.ecr, target, digest, removed); err != nil {
			resp.Diagnostics.AddError(explainImagePushFailure(err, r.client.accountID))
			return
		}
		// ECR deletes an image whose last tag is removed: put it back,
		// untagged.
		if len(want) == 0 && len(removed) > 0 {
			if _, err := ecrpush.PutImage(callCtx, r.client.ecr, target, []ecrpush.Manifest{m}, nil); err != nil {
				resp.Diagnostics.AddError(explainImagePushFailure(err, r.client.accountID))
				return
			}
		}
		tflog.Info(ctx, "Image tags updated", map[string]any{"id": state.ID.ValueString(), "added": added, "removed": removed})
	}
	plan.ImageDigest = state.ImageDigest
	plan.Region = types.StringValue(target.Region)
	plan.Tags = tagSet(want)
	plan.setComputed()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete removes this resource's tags, and the image when no other tag
// points at it; with keep_remotely it only forgets the image.
func (r *imageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	if state.KeepRemotely.ValueBool() {
		tflog.Info(ctx, "keep_remotely is set: the image stays in ECR and is only removed from the state",
			map[string]any{"id": state.ID.ValueString()})
		return
	}
	target, diags := state.target(r.client)
	resp.Diagnostics.Append(diags...)
	mine, diags := tagList(ctx, state.Tags)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	callCtx, done := r.client.requestContext(ctx)
	defer done()
	digest := state.ImageDigest.ValueString()
	info, found, err := ecrpush.DescribeImage(callCtx, r.client.ecr, target, digest)
	if f, ok := ecrpush.FactsOf(err); ok && f.Kind == ecrpush.KindRepositoryNotFound {
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(explainECRFailure(err, r.client.accountID))
		return
	}
	if !found {
		return
	}
	var others []string
	for _, t := range info.Tags {
		if !slices.Contains(mine, t) {
			others = append(others, t)
		}
	}
	if len(others) > 0 {
		if _, err := ecrpush.UntagImage(callCtx, r.client.ecr, target, digest, mine); err != nil {
			resp.Diagnostics.AddError(explainImagePushFailure(err, r.client.accountID))
			return
		}
		tflog.Info(ctx, "The image keeps the tags other resources or people set; only this resource's tags were removed",
			map[string]any{"id": state.ID.ValueString(), "tags_kept": others})
		return
	}
	err = ecrpush.DeleteImage(callCtx, r.client.ecr, target, digest)
	var kept *ecrpush.DeleteImageError
	if errors.As(err, &kept) && kept.Referenced() {
		resp.Diagnostics.AddWarning("Image Kept: an Index Lists It", fmt.Sprintf(
			"The image %s in repository %q is listed by an index (a multi-platform image) in the repository, so ECR "+
				"keeps it. It has been removed from the state; it goes when the index does.\n\n%v", digest, target.Repository, err))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(explainImagePushFailure(err, r.client.accountID))
	}
}

// ImportState takes [[<region>/]<registry_id>/]<repository_name>@<digest>.
func (r *imageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	region, registry, repository, digest, err := parseDigestID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID %q %s. It must be "+
			"<repository_name>@<digest>, such as team/app@sha256:<64 hex digits>, or "+
			"<registry_id>/<repository_name>@<digest> for another registry, or "+
			"<region>/<registry_id>/<repository_name>@<digest> for another region as well.", req.ID, err))
		return
	}
	if region == "" && r.client != nil {
		region = r.client.region
	}
	m := imageResourceModel{
		targetModel: targetModel{RepositoryName: types.StringValue(repository), RegistryID: types.StringNull(),
			Region: types.StringValue(region)},
		Source: types.StringNull(), Ref: types.StringNull(), Platform: types.StringNull(),
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
