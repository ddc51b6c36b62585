// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

// Package provider adapts the ecrpush engine to Terraform and OpenTofu.
package provider

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

var (
	_ provider.Provider                       = (*ecrProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*ecrProvider)(nil)
	_ provider.ProviderWithValidateConfig     = (*ecrProvider)(nil)
)

type ecrProvider struct {
	version     string
	interrupted context.Context
}

// New returns a constructor for the provider at the given version.
func New(version string) func() provider.Provider {
	return NewWithInterrupt(version, context.Background())
}

// NewWithInterrupt is New with a context that ends when the provider process
// itself is interrupted. Terraform asks providers to stop (StopProvider) on
// Ctrl-C, but not in every phase: Terraform 1.11 does not during the plan
// that `apply` runs first. Ctrl-C at a terminal signals the provider process
// too, so in-flight requests are canceled either way.
func NewWithInterrupt(version string, interrupted context.Context) func() provider.Provider {
	return func() provider.Provider { return &ecrProvider{version: version, interrupted: interrupted} }
}

func (p *ecrProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "ecr"
	resp.Version = p.version
}

func (p *ecrProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = providerSchema()
}

// ValidateConfig checks the region against the SDK's partition data at
// validate time, where both it and skip_region_validation are known.
func (p *ecrProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var region types.String
	var skip types.Bool
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("region"), &region)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("skip_region_validation"), &skip)...)
	if resp.Diagnostics.HasError() || region.IsNull() || region.IsUnknown() || skip.IsUnknown() {
		return
	}
	if ecrpush.ValidateRegion(region.ValueString()) != nil {
		return // the attribute's own validator reports the form
	}
	if err := checkRegion(region.ValueString(), skip.ValueBool()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("region"), "Unsupported AWS Region", "The provider's region "+err.Error()+".")
	}
}

func (p *ecrProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if unknown := firstUnknownArgument(req.Config.Raw); unknown != "" {
		resp.Diagnostics.AddAttributeError(path.Root(unknown), "Unknown Provider Configuration",
			"The provider's "+unknown+" depends on a value that is not known until apply, so the provider cannot be "+
				"configured during plan. Use a value known at plan time (a variable, a local, or a data source that can be read during plan).")
		return
	}
	cfg, diags := m.baseConfig(ctx, p.version, req.TerraformVersion)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, diags := newClient(ctx, m, cfg, p.interrupted)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Every kind of type gets the client, ephemeral resources included.
	resp.ResourceData = c
	resp.DataSourceData = c
	resp.EphemeralResourceData = c
}

func (p *ecrProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newLayerResource, newImageResource, newArtifactResource}
}

func (p *ecrProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newLayerAvailabilityDataSource, newImageReferrersDataSource}
}

func (p *ecrProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{newLayerUploadEphemeralResource}
}

// firstUnknownArgument names the first argument or block of the provider
// block, in alphabetical order, whose value is not wholly known. It reads the
// raw configuration, so an argument added to the schema is covered without a
// list to keep.
func firstUnknownArgument(config tftypes.Value) string {
	var args map[string]tftypes.Value
	if err := config.As(&args); err != nil {
		return ""
	}
	names := make([]string, 0, len(args))
	for name := range args {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !args[name].IsFullyKnown() {
			return name
		}
	}
	return ""
}
