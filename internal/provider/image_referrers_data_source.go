// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

var (
	_ datasource.DataSource              = (*imageReferrersDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*imageReferrersDataSource)(nil)
)

// mediaTypeRegexp is RFC 6838's type/subtype, the form the OCI image spec
// gives an artifactType: a filter outside it could never match.
var mediaTypeRegexp = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

func newImageReferrersDataSource() datasource.DataSource { return &imageReferrersDataSource{} }

// imageReferrersDataSource is ecr_image_referrers: the OCI 1.1 referrers
// (signatures, SBOMs, attestations) of one image.
type imageReferrersDataSource struct {
	client *client
}

type imageReferrersDataSourceModel struct {
	targetModel
	SubjectDigest types.String    `tfsdk:"subject_digest"`
	ArtifactType  types.String    `tfsdk:"artifact_type"`
	ArtifactTypes []types.String  `tfsdk:"artifact_types"`
	Referrers     []referrerModel `tfsdk:"referrers"`
	ID            types.String    `tfsdk:"id"`
}

type referrerModel struct {
	Digest       string            `tfsdk:"digest"`
	ArtifactType types.String      `tfsdk:"artifact_type"`
	MediaType    string            `tfsdk:"media_type"`
	Size         int64             `tfsdk:"size"`
	Annotations  map[string]string `tfsdk:"annotations"`
}

func (d *imageReferrersDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image_referrers"
}

func (d *imageReferrersDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the OCI 1.1 referrers of an image in an ECR repository: the signatures, SBOMs and " +
			"attestations pushed with the image as their `subject` (`ListImageReferrers`, 50 a call, every page read). " +
			"An image with none is an empty list, not an error, so a `precondition` can require one.",
		Attributes: dataSourceTargetAttributes(map[string]schema.Attribute{
			"subject_digest": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Digest of the image whose referrers to list, `sha256:` and 64 lowercase hex digits.",
				Validators: []validator.String{stringvalidator.RegexMatches(layerDigestRegexp,
					"must be a digest of the form sha256:<64 lowercase hex digits>")},
			},
			"artifact_type": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "One artifact type to list, such as `application/spdx+json`; ECR filters by it. " +
					"`artifact_types` takes several; set one of the two, or neither for every type.",
				Validators: []validator.String{
					stringvalidator.RegexMatches(mediaTypeRegexp, "must be a media type of the form type/subtype"),
					stringvalidator.ConflictsWith(path.MatchRoot("artifact_types")),
				},
			},
			"artifact_types": schema.SetAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Artifact types to list, such as `application/spdx+json`; ECR filters by them. " +
					"Default: every type.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(mediaTypeRegexp,
					"must be a media type of the form type/subtype"))},
			},
			"referrers": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "The referrers, sorted by `artifact_type`, then `digest`, so that the list " +
					"does not change when ECR answers in another order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"digest": schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the referrer's manifest."},
					"artifact_type": schema.StringAttribute{Computed: true,
						MarkdownDescription: "The referrer's artifact type; null when ECR gives none."},
					"media_type": schema.StringAttribute{Computed: true, MarkdownDescription: "Media type of the referrer's manifest."},
					"size":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Size of the referrer's manifest in bytes."},
					"annotations": schema.MapAttribute{Computed: true, ElementType: types.StringType,
						MarkdownDescription: "The referrer's annotations; empty when it has none."},
				}},
			},
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`[<region>/][<registry>/]<repository>@<subject_digest>`.",
			},
		}),
	}
}

func (d *imageReferrersDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	c, diags := providerClient(req.ProviderData, "ecr_image_referrers")
	resp.Diagnostics.Append(diags...)
	d.client = c
}

func (d *imageReferrersDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imageReferrersDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured",
			"ecr_image_referrers was read before the provider was configured. This is a bug in the provider.")
		return
	}
	target, diags := m.target(d.client)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	var artifactTypes []string
	if known(m.ArtifactType) {
		artifactTypes = append(artifactTypes, m.ArtifactType.ValueString())
	}
	for _, v := range m.ArtifactTypes {
		if !v.IsNull() {
			artifactTypes = append(artifactTypes, v.ValueString())
		}
	}
	subject := strings.ToLower(m.SubjectDigest.ValueString())
	callCtx, done := d.client.requestContext(ctx)
	defer done()
	found, err := ecrpush.ListReferrers(callCtx, d.client.ecr, target, subject, artifactTypes)
	if err != nil {
		resp.Diagnostics.AddError(explainECRFailure(err, d.client.accountID))
		return
	}
	m.Referrers = make([]referrerModel, len(found))
	for i, r := range found {
		at := types.StringNull()
		if r.ArtifactType != "" {
			at = types.StringValue(r.ArtifactType)
		}
		ann := r.Annotations
		if ann == nil {
			ann = map[string]string{} // empty, not null: lookup() works on it
		}
		m.Referrers[i] = referrerModel{Digest: r.Digest, ArtifactType: at, MediaType: r.MediaType, Size: r.Size, Annotations: ann}
	}
	registry := target.RegistryID
	if registry == "" {
		registry = d.client.accountID
	}
	id := target.Repository + "@" + subject
	if registry != "" {
		id = registry + "/" + id
	}
	m.ID = types.StringValue(target.Region + "/" + id)
	m.Region = types.StringValue(target.Region)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
