// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ datasource.DataSource              = (*layerAvailabilityDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*layerAvailabilityDataSource)(nil)
)

// layerDigestRegexp is the digest form ECR computes and this provider
// accepts: sha256 in lowercase hex, as `sha256sum` prints it.
var layerDigestRegexp = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

func newLayerAvailabilityDataSource() datasource.DataSource { return &layerAvailabilityDataSource{} }

// layerAvailabilityDataSource is ecr_layer_availability: which of a list of
// digests a repository has.
type layerAvailabilityDataSource struct {
	client *client
}

type layerAvailabilityDataSourceModel struct {
	targetModel
	Digests   []types.String  `tfsdk:"digests"`
	Available []string        `tfsdk:"available"`
	Missing   []string        `tfsdk:"missing"`
	Status    map[string]bool `tfsdk:"status"`
}

func (d *layerAvailabilityDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_layer_availability"
}

func (d *layerAvailabilityDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Tells which of a list of blob digests an ECR repository has " +
			"(`BatchCheckLayerAvailability`, 100 digests a call). A layer ECR lists as unavailable or archived " +
			"counts as missing.",
		Attributes: dataSourceTargetAttributes(map[string]schema.Attribute{
			"digests": schema.ListAttribute{
				Required:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Digests to look up, each `sha256:` and 64 lowercase hex digits. Any number; " +
					"a digest listed twice is reported once.",
				Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.RegexMatches(layerDigestRegexp,
					"must be a digest of the form sha256:<64 lowercase hex digits>"))},
			},
			"available": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The digests the repository has, in the order of `digests`.",
			},
			"missing": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The digests the repository does not have, in the order of `digests`.",
			},
			"status": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.BoolType,
				MarkdownDescription: "Each digest of `digests` mapped to whether the repository has it.",
			},
		}),
	}
}

func (d *layerAvailabilityDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	c, diags := providerClient(req.ProviderData, "ecr_layer_availability")
	resp.Diagnostics.Append(diags...)
	d.client = c
}

func (d *layerAvailabilityDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m layerAvailabilityDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured",
			"ecr_layer_availability was read before the provider was configured. This is a bug in the provider.")
		return
	}
	target, diags := m.target(d.client)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	var digests []string
	seen := map[string]bool{}
	for _, v := range m.Digests {
		if v.IsNull() {
			continue
		}
		dg := strings.ToLower(v.ValueString())
		if !seen[dg] {
			seen[dg] = true
			digests = append(digests, dg)
		}
	}
	callCtx, done := d.client.requestContext(ctx)
	defer done()
	found, err := checkLayers(callCtx, d.client, target, digests)
	if err != nil {
		resp.Diagnostics.AddError(explainECRFailure(err, d.client.accountID))
		return
	}
	m.Available, m.Missing, m.Status = []string{}, []string{}, map[string]bool{}
	for _, dg := range digests {
		_, ok := found[dg]
		m.Status[dg] = ok
		if ok {
			m.Available = append(m.Available, dg)
		} else {
			m.Missing = append(m.Missing, dg)
		}
	}
	m.Region = types.StringValue(target.Region)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
