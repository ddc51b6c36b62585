package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

var (
	_ ephemeral.EphemeralResource              = (*layerUploadEphemeral)(nil)
	_ ephemeral.EphemeralResourceWithConfigure = (*layerUploadEphemeral)(nil)
)

func newLayerUploadEphemeral() ephemeral.EphemeralResource { return &layerUploadEphemeral{} }

// layerUploadEphemeral is ecr_layer_upload: it starts a layer upload and
// hands its ID and part size to configuration that must not store them.
type layerUploadEphemeral struct {
	client *client
}

type layerUploadModel struct {
	RepositoryName types.String `tfsdk:"repository_name"`
	RegistryID     types.String `tfsdk:"registry_id"`
	Region         types.String `tfsdk:"region"`
	UploadID       types.String `tfsdk:"upload_id"`
	PartSize       types.Int64  `tfsdk:"part_size"`
}

func (r *layerUploadEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_layer_upload"
}

func (r *layerUploadEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Starts a layer upload in an ECR repository (`InitiateLayerUpload`) and exposes its upload ID " +
			"and part size. The results are ephemeral: they never reach state or plan files. Terraform opens the " +
			"resource at plan and again at apply, and each open starts a new upload.",
		Attributes: map[string]schema.Attribute{
			"repository_name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the repository to upload to, such as `team/app`: 2 to 256 characters, lowercase.",
				Validators:          repositoryNameValidators(),
			},
			"registry_id": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "AWS account ID of the registry that holds the repository. Default: the caller's own registry.",
				Validators:          []validator.String{registryIDValidator()},
			},
			"region": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Region of the repository. Default: the provider's region. Set, it is the region used.",
				Validators:          []validator.String{regionValidator()},
			},
			"upload_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Upload ID that ECR issued, for `UploadLayerPart` and `CompleteLayerUpload`.",
			},
			"part_size": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Part size in bytes that ECR asks for, as ECR returned it (10485760 today).",
			},
		},
	}
}

func (r *layerUploadEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	if req.ProviderData == nil {
		return // validation runs before the provider is configured
	}
	c, ok := req.ProviderData.(*client)
	if !ok {
		resp.Diagnostics.AddError("Unexpected Provider Data",
			fmt.Sprintf("ecr_layer_upload expected the provider's *client, got %T. This is a bug in the provider.", req.ProviderData))
		return
	}
	r.client = c
}

func (r *layerUploadEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m layerUploadModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured",
			"ecr_layer_upload was opened before the provider was configured. This is a bug in the provider.")
		return
	}
	target := ecrpush.Target{
		Repository: m.RepositoryName.ValueString(),
		RegistryID: m.RegistryID.ValueString(),
		Region:     r.client.region,
	}
	if !m.Region.IsNull() {
		target.Region = m.Region.ValueString()
		if err := checkRegion(target.Region, r.client.skipRegionValidation); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("region"), "Unsupported AWS Region", "The region "+err.Error()+".")
			return
		}
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
