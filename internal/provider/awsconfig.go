// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	awsbase "github.com/hashicorp/aws-sdk-go-base/v2"
	"github.com/hashicorp/aws-sdk-go-base/v2/logging"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

const docsURL = "https://registry.terraform.io/providers/ecrlabs/ecr/latest/docs"

// baseConfig maps the provider block onto aws-sdk-go-base, the library the
// AWS provider resolves credentials, regions, proxies and retries with.
func (m providerModel) baseConfig(ctx context.Context, providerVersion, terraformVersion string) (*awsbase.Config, diag.Diagnostics) {
	var diags diag.Diagnostics
	// aws-sdk-go-base counts attempts, the first included. Zero leaves the
	// count to AWS_MAX_ATTEMPTS when that is set.
	attempts := defaultMaxRetries + 1
	switch {
	case !m.MaxRetries.IsNull():
		attempts = int(m.MaxRetries.ValueInt64()) + 1
	case os.Getenv("AWS_MAX_ATTEMPTS") != "":
		attempts = 0
	}
	cfg := &awsbase.Config{
		AccessKey:      m.AccessKey.ValueString(),
		SecretKey:      m.SecretKey.ValueString(),
		Token:          m.Token.ValueString(),
		Region:         m.Region.ValueString(),
		Profile:        m.Profile.ValueString(),
		CustomCABundle: m.CustomCABundle.ValueString(),
		Insecure:       m.Insecure.ValueBool(),
		NoProxy:        m.NoProxy.ValueString(),
		HTTPProxyMode:  awsbase.HTTPProxyModeSeparate,
		MaxRetries:     attempts,
		// Credentials are checked after the configuration is built, so that
		// the same STS call also yields the account ID.
		SkipCredsValidation:     true,
		SkipRequestingAccountId: m.SkipRequestingAccountID.ValueBool(),
		CallerName:              "the ECR provider",
		CallerDocumentationURL:  docsURL,
		Logger:                  logging.TfLogger(""),
		// aws-sdk-go-base's HTTP logging middleware copies bodies through a
		// shared buffer pool and, in v2.0.0-beta.74, corrupts concurrent
		// calls; it also logs STS bodies holding session tokens. The
		// provider logs each call itself (logCall), without bodies.
		SuppressDebugLog: true,
		UserAgent: awsbase.UserAgentProducts{
			{Name: "terraform-provider-ecr", Version: providerVersion, Comment: "+" + docsURL},
			{Name: "Terraform", Version: terraformVersion},
		},
	}
	if !m.HTTPProxy.IsNull() {
		cfg.HTTPProxy = aws.String(m.HTTPProxy.ValueString())
	}
	if !m.HTTPSProxy.IsNull() {
		cfg.HTTPSProxy = aws.String(m.HTTPSProxy.ValueString())
	}
	if m.SkipMetadataAPICheck.ValueBool() {
		cfg.EC2MetadataServiceEnableState = imds.ClientDisabled
	}
	if !m.RetryMode.IsNull() {
		mode, err := aws.ParseRetryMode(m.RetryMode.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("retry_mode"), "Invalid Retry Mode", err.Error())
		}
		cfg.RetryMode = mode
	}
	diags.Append(stringList(ctx, m.SharedConfigFiles, &cfg.SharedConfigFiles)...)
	diags.Append(stringList(ctx, m.SharedCredentialsFiles, &cfg.SharedCredentialsFiles)...)
	roles, roleDiags := m.assumeRoles(ctx)
	diags.Append(roleDiags...)
	for _, r := range roles {
		role := awsbase.AssumeRole{
			RoleARN:     r.RoleARN.ValueString(),
			SessionName: r.SessionName.ValueString(),
			ExternalID:  r.ExternalID.ValueString(),
			Policy:      r.Policy.ValueString(),
		}
		if !r.Duration.IsNull() {
			d, err := time.ParseDuration(r.Duration.ValueString())
			if err != nil {
				diags.AddAttributeError(path.Root("assume_role").AtListIndex(0).AtName("duration"), "Invalid Duration", err.Error())
			}
			role.Duration = d
		}
		cfg.AssumeRole = append(cfg.AssumeRole, role)
	}
	e, endpointDiags := m.endpoints(ctx)
	diags.Append(endpointDiags...)
	if !e.STS.IsNull() {
		cfg.StsEndpoint = e.STS.ValueString()
	}
	return cfg, diags
}

// assumeRoles decodes the assume_role blocks; call it once the provider
// block is known to be fully known.
func (m providerModel) assumeRoles(ctx context.Context) ([]assumeRole, diag.Diagnostics) {
	var roles []assumeRole
	if m.AssumeRole.IsNull() || m.AssumeRole.IsUnknown() {
		return nil, nil
	}
	return roles, m.AssumeRole.ElementsAs(ctx, &roles, false)
}

// endpoints decodes the endpoints block; its members are null when absent.
func (m providerModel) endpoints(ctx context.Context) (endpoints, diag.Diagnostics) {
	none := endpoints{ECR: types.StringNull(), STS: types.StringNull()}
	if m.Endpoints.IsNull() || m.Endpoints.IsUnknown() {
		return none, nil
	}
	var list []endpoints
	diags := m.Endpoints.ElementsAs(ctx, &list, false)
	if len(list) == 0 {
		return none, diags
	}
	return list[0], diags
}

func stringList(ctx context.Context, list types.List, into *[]string) diag.Diagnostics {
	if list.IsNull() {
		return nil
	}
	return list.ElementsAs(ctx, into, false)
}
