// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

var (
	_ resource.Resource                = (*layerResource)(nil)
	_ resource.ResourceWithConfigure   = (*layerResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*layerResource)(nil)
	_ resource.ResourceWithImportState = (*layerResource)(nil)
)

func newLayerResource() resource.Resource { return &layerResource{} }

// layerResource is ecr_layer: one blob (a layer, a config, any
// content-addressed file) pushed to a repository.
type layerResource struct {
	client *client
}

type layerResourceModel struct {
	targetModel
	Source     types.String   `tfsdk:"source"`
	UploadIDWO types.String   `tfsdk:"upload_id_wo"`
	PartSizeWO types.Int64    `tfsdk:"part_size_wo"`
	Digest     types.String   `tfsdk:"digest"`
	Size       types.Int64    `tfsdk:"size"`
	ID         types.String   `tfsdk:"id"`
	Timeouts   timeouts.Value `tfsdk:"timeouts"`
}

// defaultPushTimeout bounds a push when the timeouts block does not: long
// enough for a few GiB on a slow uplink, and a push cut short by it resumes
// where it stopped on the next apply.
const defaultPushTimeout = 60 * time.Minute

// progressInterval is how often a push in progress is logged at INFO.
const progressInterval = 5 * time.Second

func (r *layerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_layer"
}

func (r *layerResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := schema.StringAttribute{PlanModifiers: []planmodifier.String{
		stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Pushes one blob (an image layer, an image config, any content-addressed file) to an ECR " +
			"repository through ECR's layer upload API, with no Docker daemon. The blob's `sha256` digest is " +
			"computed at plan, so a change of the file's content plans an in-place update that pushes the new blob; " +
			"an unchanged file is not " +
			"read again at the next plan. A blob the repository already has is not sent again. ECR has no API to " +
			"delete a layer: destroying the resource only removes it from the state, and ECR's lifecycle " +
			"policies remove data that no image references.",
		Attributes: resourceTargetAttributes(map[string]schema.Attribute{
			"source": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Path of the file to push, relative to the working directory. It must exist at " +
					"plan: its digest is planned. Changing only the path, to a file with the same content, " +
					"changes nothing in ECR.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"upload_id_wo": schema.StringAttribute{
				Optional:  true,
				WriteOnly: true,
				MarkdownDescription: "Write-only. An upload ID from `ephemeral.ecr_layer_upload` to push through, " +
					"instead of an upload the provider starts. Requires `part_size_wo`. Not stored; needs " +
					"Terraform 1.11 or OpenTofu 1.11 or later.",
				Validators: []validator.String{
					stringvalidator.RegexMatches(ecrpush.UploadIDRegexp, "must be an ECR upload ID (a UUID)"),
					stringvalidator.AlsoRequires(path.MatchRoot("part_size_wo")),
				},
			},
			"part_size_wo": schema.Int64Attribute{
				Optional:  true,
				WriteOnly: true,
				MarkdownDescription: fmt.Sprintf("Write-only. The part size in bytes that came with `upload_id_wo` "+
					"(`ephemeral.ecr_layer_upload`'s `part_size`): %d to %d. Requires `upload_id_wo`. Not stored.",
					ecrpush.MinPartSize, ecrpush.MaxPartSize),
				Validators: []validator.Int64{
					int64validator.Between(ecrpush.MinPartSize, ecrpush.MaxPartSize),
					int64validator.AlsoRequires(path.MatchRoot("upload_id_wo")),
				},
			},
			"digest": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Digest of the file's content, `sha256:` and 64 lowercase hex digits, known at plan.",
			},
			"size": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Size of the blob in bytes.",
			},
			"id": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "`<registry_id>/<repository_name>@<digest>`: the registry (account), " +
					"repository and digest that name a blob in ECR, in the `repository@digest` form of image " +
					"references. Import takes the same string, optionally preceded by `<region>/` for a region " +
					"other than the provider's.",
			},
		}, replace),
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true}),
		},
	}
}

func (r *layerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	c, diags := providerClient(req.ProviderData, "ecr_layer")
	resp.Diagnostics.Append(diags...)
	r.client = c
}

// ModifyPlan plans the digest, size and id from the file, and the region and
// registry from the provider when left out.
func (r *layerResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return // destroy, or a provider not configured yet
	}
	var plan layerResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *layerResourceModel
	if !req.State.Raw.IsNull() {
		state = &layerResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}

	// Left out, region and registry are the provider's, known at plan so
	// that the id is.
	var config layerResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.Region.IsUnknown() && config.Region.IsNull() {
		plan.Region = types.StringValue(r.client.region)
	}
	if plan.RegistryID.IsUnknown() && config.RegistryID.IsNull() {
		if r.client.accountID == "" {
			resp.Diagnostics.AddAttributeError(path.Root("registry_id"), "Registry ID Unknown",
				"The provider does not know the caller's account ID, because skip_credentials_validation is set, and "+
					"ecr_layer names its blob by registry. Set registry_id, or let the provider validate its credentials.")
			return
		}
		plan.RegistryID = types.StringValue(r.client.accountID)
	}

	plan.Digest, plan.Size = types.StringUnknown(), types.Int64Unknown()
	if known(plan.Source) {
		dir, err := cacheDir()
		if err != nil {
			tflog.Warn(ctx, "Digests are not cached: "+err.Error())
			dir = ""
		}
		digest, size, recordErr, err := fileDigest(ctx, dir, plan.Source.ValueString())
		if recordErr != nil {
			resp.Diagnostics.AddAttributeWarning(path.Root("source"), "Digest Not Cached", fmt.Sprintf("The digest of %q "+
				"could not be recorded in the cache directory (TF_ECR_CACHE_DIR, or ~/.cache/terraform-provider-ecr), "+
				"so the next plan reads the whole file again. Check that the directory is writable.\n\n%v",
				plan.Source.ValueString(), recordErr))
		}
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("source"), "Cannot Use the Layer File", sourceProblem(plan.Source.ValueString(), err))
			return
		}
		plan.Digest, plan.Size = types.StringValue(digest), types.Int64Value(size)
	}
	plan.ID = types.StringUnknown()
	if known(plan.Digest) && known(plan.RegistryID) && known(plan.RepositoryName) {
		plan.ID = types.StringValue(digestID(plan.RegistryID.ValueString(), plan.RepositoryName.ValueString(), plan.Digest.ValueString()))
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// sourceProblem says what is wrong with the file at source, naming it.
func sourceProblem(source string, err error) string {
	abs, _ := filepath.Abs(source)
	var why string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		why = "does not exist"
	case errors.Is(err, fs.ErrPermission):
		why = "cannot be read: permission denied"
	default:
		why = "cannot be used: " + err.Error()
	}
	where := ""
	if abs != "" && abs != source {
		where = fmt.Sprintf(" (%q)", abs)
	}
	return fmt.Sprintf("The layer file %q%s %s. source must name a readable regular file when the plan is made: its "+
		"digest is part of the plan.", source, where, why)
}

func (r *layerResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, config layerResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured", "ecr_layer was created before the provider was configured. This is a bug in the provider.")
		return
	}
	limit, diags := plan.Timeouts.Create(ctx, defaultPushTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.push(ctx, &plan, config, "create", limit, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// push sends the file at plan's source (through the handed-in upload, when
// config has one) and fills plan from what ECR took. It reports success.
func (r *layerResource) push(ctx context.Context, plan *layerResourceModel, config layerResourceModel, operation string,
	limit time.Duration, diags *diag.Diagnostics) bool {
	target, d := plan.target(r.client)
	diags.Append(d...)
	if diags.HasError() {
		return false
	}
	source := plan.Source.ValueString()
	blob, f, err := ecrpush.OpenFileBlob(source)
	if err != nil {
		diags.AddAttributeError(path.Root("source"), "Cannot Use the Layer File", sourceProblem(source, err))
		return false
	}
	defer func() { _ = f.Close() }()
	if known(plan.Digest) {
		blob.Digest = plan.Digest.ValueString()
	}
	var upload *ecrpush.Upload
	if !config.UploadIDWO.IsNull() && !config.PartSizeWO.IsNull() {
		upload = &ecrpush.Upload{ID: config.UploadIDWO.ValueString(), PartSize: config.PartSizeWO.ValueInt64()}
	}

	pusher := r.client.pusher(ctx, progressLogger(ctx, source))
	callCtx, done := r.client.limitedRequestContext(ctx, limit)
	defer done()
	result, err := pusher.PushBlob(callCtx, target, blob, upload)
	diags.Append(recordWarnings([]ecrpush.BlobResult{result})...)
	if err != nil {
		if pastLimit(callCtx) {
			diags.AddError(explainTimeout("Layer", source, operation, limit, err))
			return false
		}
		diags.AddError(explainPushFailure(err, r.client.accountID))
		return false
	}
	tflog.Info(ctx, "Layer pushed", map[string]any{"source": source, "digest": result.Digest, "size": result.Size,
		"skipped": result.Skipped, "bytes_sent": result.BytesSent, "resumed": result.Resumed, "uploads": result.Uploads,
		"handed_in_upload": upload != nil})

	plan.Region = types.StringValue(target.Region)
	plan.Digest = types.StringValue(result.Digest)
	plan.Size = types.Int64Value(result.Size)
	plan.ID = types.StringValue(digestID(plan.RegistryID.ValueString(), target.Repository, result.Digest))
	plan.UploadIDWO, plan.PartSizeWO = types.StringNull(), types.Int64Null()
	return true
}

// progressLogger logs a push at INFO when it starts and ends, and every
// progressInterval in between.
func progressLogger(ctx context.Context, source string) func(ecrpush.Progress) {
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
		if p.Total > 0 {
			percent = float64(p.Done) * 100 / float64(p.Total)
		}
		tflog.Info(ownFields(ctx), fmt.Sprintf("Layer %s: %s, %d of %d bytes (%.0f%%)", source, p.Phase, p.Done, p.Total, percent),
			map[string]any{"source": source, "digest": p.Digest, "phase": p.Phase.String(), "bytes_done": p.Done, "bytes_total": p.Total})
	}
}

func (r *layerResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state layerResourceModel
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
	layer, err := checkLayers(callCtx, r.client, target, []string{state.Digest.ValueString()})
	if err != nil {
		if errors.As(err, new(*ecrtypes.RepositoryNotFoundException)) {
			tflog.Info(ctx, "The layer's repository is gone; removing the layer from the state", map[string]any{"id": state.ID.ValueString()})
			resp.State.RemoveResource(ctx)
			return
		}
		resp.Diagnostics.AddError(explainECRFailure(err, r.client.accountID))
		return
	}
	l, ok := layer[strings.ToLower(state.Digest.ValueString())]
	if !ok {
		tflog.Info(ctx, "ECR no longer has the layer; removing it from the state so the next apply pushes it again",
			map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if state.Size.IsNull() && l.LayerSize != nil {
		state.Size = types.Int64Value(aws.ToInt64(l.LayerSize))
	}
	state.Region = types.StringValue(target.Region)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// checkLayers asks ECR which of digests the target has, 100 at a time, and
// returns the available ones by lower-case digest. A failed call is an
// *ecrpush.OperationError.
func checkLayers(ctx context.Context, c *client, target ecrpush.Target, digests []string) (map[string]ecrtypes.Layer, error) {
	var registryID *string
	if target.RegistryID != "" {
		registryID = aws.String(target.RegistryID)
	}
	found := map[string]ecrtypes.Layer{}
	for start := 0; start < len(digests); start += ecrpush.AvailabilityBatch {
		batch := digests[start:min(start+ecrpush.AvailabilityBatch, len(digests))]
		out, err := c.ecr.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
			RepositoryName: aws.String(target.Repository),
			RegistryId:     registryID,
			LayerDigests:   batch,
		}, func(o *ecr.Options) { o.Region = target.Region })
		if err != nil {
			return nil, &ecrpush.OperationError{Operation: "BatchCheckLayerAvailability", Action: "ecr:BatchCheckLayerAvailability",
				Target: target, Err: err, Canceled: ctx.Err() != nil}
		}
		for _, l := range out.Layers {
			if l.LayerAvailability == ecrtypes.LayerAvailabilityAvailable {
				found[strings.ToLower(aws.ToString(l.LayerDigest))] = l
			}
		}
	}
	return found, nil
}

// Update pushes the file when its content changed (the old blob stays: ECR
// has no API to delete one), and otherwise only records a new path.
func (r *layerResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state, config layerResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	if !plan.Digest.Equal(state.Digest) {
		limit, diags := plan.Timeouts.Update(ctx, defaultPushTimeout)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() || !r.push(ctx, &plan, config, "update", limit, &resp.Diagnostics) {
			return // the state keeps the blob it had
		}
	}
	plan.UploadIDWO, plan.PartSizeWO = types.StringNull(), types.Int64Null()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete forgets the layer: ECR has no API to delete one.
func (r *layerResource) Delete(ctx context.Context, req resource.DeleteRequest, _ *resource.DeleteResponse) {
	var state layerResourceModel
	if req.State.Get(ctx, &state).HasError() {
		return
	}
	tflog.Info(ctx, "ECR has no API to delete a layer: it stays in the repository until a lifecycle policy removes it; "+
		"it is only removed from the state", map[string]any{"id": state.ID.ValueString()})
}

// ImportState takes [<region>/]<registry_id>/<repository_name>@<digest>.
func (r *layerResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	region, registry, repository, digest, err := parseLayerID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID %q %s. It must be "+
			"<registry_id>/<repository_name>@<digest>, such as 123456789012/team/app@sha256:<64 hex digits>, optionally "+
			"preceded by <region>/ for a region other than the provider's.", req.ID, err))
		return
	}
	if region == "" && r.client != nil {
		region = r.client.region
	}
	m := layerResourceModel{
		targetModel: targetModel{RepositoryName: types.StringValue(repository), RegistryID: types.StringValue(registry),
			Region: types.StringValue(region)},
		Source: types.StringNull(), UploadIDWO: types.StringNull(), PartSizeWO: types.Int64Null(),
		Digest: types.StringValue(digest), Size: types.Int64Null(), ID: types.StringValue(digestID(registry, repository, digest)),
		Timeouts: timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType})},
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// parseLayerID is parseDigestID with the registry required, as
// ecr_layer's id always names it.
func parseLayerID(id string) (region, registry, repository, digest string, err error) {
	region, registry, repository, digest, err = parseDigestID(id)
	if err == nil && registry == "" {
		err = fmt.Errorf("does not start with a 12-digit registry ID (got %q)", strings.SplitN(id, "/", 2)[0])
	}
	return region, registry, repository, digest, err
}

// known reports whether a value is neither null nor unknown.
func known(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }
