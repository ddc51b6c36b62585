// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	datasourceschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	ephemeralschema "github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	resourceschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// Every type names a repository the same way: repository_name, registry_id,
// and a region that overrides the provider's (as the AWS provider's v6
// per-resource region does). The model is embedded in each type's model; the
// attributes are built here for each schema package from one set of
// descriptions and validators, so the types cannot drift apart.

// targetModel is embedded in every type's model.
type targetModel struct {
	RepositoryName types.String `tfsdk:"repository_name"`
	RegistryID     types.String `tfsdk:"registry_id"`
	Region         types.String `tfsdk:"region"`
}

const (
	repositoryNameDescription = "Name of the repository, such as `team/app`: 2 to 256 characters, lowercase."
	registryIDDescription     = "AWS account ID of the registry that holds the repository. Default: the caller's own registry."
	regionDescription         = "Region of the repository. Default: the provider's region. Set, it is the region used."
)

// target resolves the repository a call goes to: the provider's region unless
// the type sets its own, which is checked as the provider's is.
func (m targetModel) target(c *client) (ecrpush.Target, diag.Diagnostics) {
	var diags diag.Diagnostics
	t := ecrpush.Target{Repository: m.RepositoryName.ValueString(), RegistryID: m.RegistryID.ValueString(), Region: c.region}
	if !m.Region.IsNull() && !m.Region.IsUnknown() {
		t.Region = m.Region.ValueString()
		if err := checkRegion(t.Region, c.skipRegionValidation); err != nil {
			diags.AddAttributeError(path.Root("region"), "Unsupported AWS Region", "The region "+err.Error()+".")
		}
	}
	return t, diags
}

// withTarget returns the type's own attributes with the shared three added.
func ephemeralTargetAttributes(own map[string]ephemeralschema.Attribute) map[string]ephemeralschema.Attribute {
	own["repository_name"] = ephemeralschema.StringAttribute{Required: true, MarkdownDescription: repositoryNameDescription,
		Validators: repositoryNameValidators()}
	own["registry_id"] = ephemeralschema.StringAttribute{Optional: true, MarkdownDescription: registryIDDescription,
		Validators: []validator.String{registryIDValidator()}}
	own["region"] = ephemeralschema.StringAttribute{Optional: true, Computed: true, MarkdownDescription: regionDescription,
		Validators: []validator.String{regionValidator()}}
	return own
}

func dataSourceTargetAttributes(own map[string]datasourceschema.Attribute) map[string]datasourceschema.Attribute {
	own["repository_name"] = datasourceschema.StringAttribute{Required: true, MarkdownDescription: repositoryNameDescription,
		Validators: repositoryNameValidators()}
	own["registry_id"] = datasourceschema.StringAttribute{Optional: true, MarkdownDescription: registryIDDescription,
		Validators: []validator.String{registryIDValidator()}}
	own["region"] = datasourceschema.StringAttribute{Optional: true, Computed: true, MarkdownDescription: regionDescription,
		Validators: []validator.String{regionValidator()}}
	return own
}

// resourceTargetAttributes: a resource lives in one repository, so changing
// any of the three replaces it. Region and registry are computed when left
// out (the provider's region; the registry ECR answered), so the id and
// import are complete. planModifiers are the type's (RequiresReplace and
// UseStateForUnknown, typically), given by the caller to keep this file free
// of any one resource's lifecycle.
func resourceTargetAttributes(own map[string]resourceschema.Attribute, replace resourceschema.StringAttribute) map[string]resourceschema.Attribute {
	repo, registry, region := replace, replace, replace
	repo.Required, repo.MarkdownDescription, repo.Validators = true, repositoryNameDescription, repositoryNameValidators()
	registry.Optional, registry.Computed, registry.MarkdownDescription = true, true, registryIDDescription
	registry.Validators = []validator.String{registryIDValidator()}
	region.Optional, region.Computed, region.MarkdownDescription = true, true, regionDescription
	region.Validators = []validator.String{regionValidator()}
	own["repository_name"], own["registry_id"], own["region"] = repo, registry, region
	return own
}

// planDefaults plans the region and registry the configuration leaves out:
// the provider's region, and its account when credentials were validated.
func (m *targetModel) planDefaults(config targetModel, c *client) {
	if m.Region.IsUnknown() && config.Region.IsNull() {
		m.Region = types.StringValue(c.region)
	}
	if m.RegistryID.IsUnknown() && config.RegistryID.IsNull() && c.accountID != "" {
		m.RegistryID = types.StringValue(c.accountID)
	}
}
