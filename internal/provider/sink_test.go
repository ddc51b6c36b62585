// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The sink provider exists only in tests: its one resource takes a
// write-only argument and records what it received, so a test can prove an
// ephemeral value reached a write-only argument and was not stored.

var sinkReceived sync.Map // key -> the write-only value the resource last received

type sinkProvider struct{}

func (sinkProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "sink"
}
func (sinkProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}
func (sinkProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}
func (sinkProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }
func (sinkProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return sinkSecret{} }}
}

type sinkSecret struct{}

type sinkSecretModel struct {
	Key     types.String `tfsdk:"key"`
	ValueWO types.String `tfsdk:"value_wo"`
}

func (sinkSecret) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_secret"
}

func (sinkSecret) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{Attributes: map[string]schema.Attribute{
		"key":      schema.StringAttribute{Required: true},
		"value_wo": schema.StringAttribute{Optional: true, WriteOnly: true},
	}}
}

func (sinkSecret) record(ctx context.Context, req resource.CreateRequest) (sinkSecretModel, bool) {
	var m sinkSecretModel
	if req.Config.Get(ctx, &m).HasError() {
		return m, false
	}
	sinkReceived.Store(m.Key.ValueString(), m.ValueWO.ValueString())
	m.ValueWO = types.StringNull()
	return m, true
}

func (s sinkSecret) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if m, ok := s.record(ctx, req); ok {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	}
}

func (sinkSecret) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (s sinkSecret) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if m, ok := s.record(ctx, resource.CreateRequest{Config: req.Config}); ok {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	}
}

func (sinkSecret) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
