// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

var (
	_ ephemeral.EphemeralResource              = (*layerUploadEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithConfigure = (*layerUploadEphemeralResource)(nil)
)

func newLayerUploadEphemeralResource() ephemeral.EphemeralResource {
	return &layerUploadEphemeralResource{}
}

// layerUploadEphemeralResource is ecr_layer_upload: it starts a layer upload and
// hands its ID and part size to configuration that must not store them.
type layerUploadEphemeralResource struct {
	client *client
}

type layerUploadEphemeralResourceModel struct {
	targetModel
	UploadID types.String `tfsdk:"upload_id"`
	PartSize types.Int64  `tfsdk:"part_size"`
}

func (r *layerUploadEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_layer_upload"
}

func (r *layerUploadEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Starts a layer upload in an ECR repository (`InitiateLayerUpload`) and exposes its upload ID " +
			"and part size. The results are ephemeral: they never reach state or plan files. Terraform opens the " +
			"resource at plan and again at apply, and each open starts a new upload.",
		Attributes: ephemeralTargetAttributes(map[string]schema.Attribute{
			"upload_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Upload ID that ECR issued, for `UploadLayerPart` and `CompleteLayerUpload`.",
			},
			"part_size": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Part size in bytes that ECR asks for, as ECR returned it (10485760 today).",
			},
		}),
	}
}

func (r *layerUploadEphemeralResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	c, diags := providerClient(req.ProviderData, "ecr_layer_upload")
	resp.Diagnostics.Append(diags...)
	r.client = c
}

func (r *layerUploadEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m layerUploadEphemeralResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured",
			"ecr_layer_upload was opened before the provider was configured. This is a bug in the provider.")
		return
	}
	target, diags := m.target(r.client)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	callCtx, done := r.client.requestContext(ctx)
	defer done()
	up, err := ecrpush.InitiateLayerUpload(callCtx, r.client.ecr, target)
	if err != nil {
		resp.Diagnostics.AddError(explainECRFailure(err, r.client.accountID))
		return
	}
	m.Region = types.StringValue(target.Region)
	m.UploadID = types.StringValue(up.ID)
	m.PartSize = types.Int64Value(up.PartSize)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}
