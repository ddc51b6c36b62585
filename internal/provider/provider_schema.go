// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// providerModel is the provider block. Argument names and their environment
// variables follow the AWS provider's, so users' habits carry over.
type providerModel struct {
	Region                 types.String `tfsdk:"region"`
	Profile                types.String `tfsdk:"profile"`
	AccessKey              types.String `tfsdk:"access_key"`
	SecretKey              types.String `tfsdk:"secret_key"`
	Token                  types.String `tfsdk:"token"`
	SharedConfigFiles      types.List   `tfsdk:"shared_config_files"`
	SharedCredentialsFiles types.List   `tfsdk:"shared_credentials_files"`
	// The blocks are lists so that a dynamic block whose for_each is
	// unknown at plan decodes (as unknown) instead of failing conversion.
	AssumeRole                types.List   `tfsdk:"assume_role"`
	Endpoints                 types.List   `tfsdk:"endpoints"`
	MaxRetries                types.Int64  `tfsdk:"max_retries"`
	MaxBlobsInFlight          types.Int64  `tfsdk:"max_blobs_in_flight"`
	RetryMode                 types.String `tfsdk:"retry_mode"`
	CustomCABundle            types.String `tfsdk:"custom_ca_bundle"`
	Insecure                  types.Bool   `tfsdk:"insecure"`
	HTTPProxy                 types.String `tfsdk:"http_proxy"`
	HTTPSProxy                types.String `tfsdk:"https_proxy"`
	NoProxy                   types.String `tfsdk:"no_proxy"`
	SkipCredentialsValidation types.Bool   `tfsdk:"skip_credentials_validation"`
	SkipRequestingAccountID   types.Bool   `tfsdk:"skip_requesting_account_id"`
	SkipMetadataAPICheck      types.Bool   `tfsdk:"skip_metadata_api_check"`
	SkipRegionValidation      types.Bool   `tfsdk:"skip_region_validation"`
	ConnectTimeout            types.String `tfsdk:"connect_timeout"`
	ReadTimeout               types.String `tfsdk:"read_timeout"`
}

type assumeRole struct {
	RoleARN     types.String `tfsdk:"role_arn"`
	SessionName types.String `tfsdk:"session_name"`
	ExternalID  types.String `tfsdk:"external_id"`
	Duration    types.String `tfsdk:"duration"`
	Policy      types.String `tfsdk:"policy"`
}

type endpoints struct {
	ECR types.String `tfsdk:"ecr"`
	STS types.String `tfsdk:"sts"`
}

// retryModes feeds both the validator and the description.
var retryModes = []string{"standard", "adaptive"}

const (
	defaultMaxRetries     = 5
	defaultConnectTimeout = 10 * time.Second
	defaultReadTimeout    = 60 * time.Second
)

func providerSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "The `ecr` provider pushes layers and images to Amazon ECR with no Docker daemon. " +
			"Its arguments and environment variables follow the AWS provider's.",
		Attributes: map[string]schema.Attribute{
			"region": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "AWS region of the registry, such as `eu-west-1`. Can also be set with `AWS_REGION` or " +
					"`AWS_DEFAULT_REGION`, or come from the profile. Each resource can override it with its own `region`.",
				Validators: []validator.String{regionValidator()},
			},
			"profile": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Named profile from the shared configuration and credentials files. Can also be set with `AWS_PROFILE`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"access_key": schema.StringAttribute{
				Optional: true, Sensitive: true,
				MarkdownDescription: "AWS access key ID. Can also be set with `AWS_ACCESS_KEY_ID`. Prefer a profile or environment variables to putting it in configuration.",
				Validators:          []validator.String{stringvalidator.AlsoRequires(pathRoot("secret_key"))},
			},
			"secret_key": schema.StringAttribute{
				Optional: true, Sensitive: true,
				MarkdownDescription: "AWS secret access key. Can also be set with `AWS_SECRET_ACCESS_KEY`.",
				Validators:          []validator.String{stringvalidator.AlsoRequires(pathRoot("access_key"))},
			},
			"token": schema.StringAttribute{
				Optional: true, Sensitive: true,
				MarkdownDescription: "Session token for temporary credentials. Can also be set with `AWS_SESSION_TOKEN`.",
				Validators:          []validator.String{stringvalidator.AlsoRequires(pathRoot("access_key"), pathRoot("secret_key"))},
			},
			"shared_config_files": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Paths of shared configuration files. Default: `~/.aws/config` (or `AWS_CONFIG_FILE`).",
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
			},
			"shared_credentials_files": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Paths of shared credentials files. Default: `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`).",
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
			},
			"max_retries": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "How many times a failed request (throttling, server errors, dropped connections) is retried " +
					"before the error is shown. Default: `5`. Can also be set with `AWS_MAX_ATTEMPTS` (which counts the first attempt too).",
				Validators: []validator.Int64{int64validator.Between(0, 100)},
			},
			"max_blobs_in_flight": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many blobs (layers, configs) this provider configuration sends "+
					"to ECR at once, across every resource, whatever `-parallelism` Terraform runs with. Each blob "+
					"being sent holds two part buffers of the part size ECR gives (10 MiB today) and the request "+
					"being written, so the memory pushes take grows with this number and not with the number of "+
					"resources (the measured figures are in the README). A blob that several resources push to the "+
					"same repository at once is sent once. Default: `%d`.", ecrpush.DefaultBlobsInFlight),
				Validators: []validator.Int64{int64validator.Between(1, 64)},
			},
			"retry_mode": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "How retries are paced: " + quotedList(retryModes) + ". `adaptive` also slows the client " +
					"down when ECR throttles it. Default: `standard`. Can also be set with `AWS_RETRY_MODE`.",
				Validators: []validator.String{stringvalidator.OneOf(retryModes...)},
			},
			"connect_timeout": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "How long to wait for a connection (TCP and TLS) to the endpoint before the attempt " +
					"fails and is retried, as a duration such as `5s`. Default: `10s`. Like the AWS CLI's `--cli-connect-timeout`.",
				Validators: []validator.String{durationValidator(100*time.Millisecond, 10*time.Minute, "5s")},
			},
			"read_timeout": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "How long to wait for ECR to start answering a request once it is sent before the " +
					"attempt fails and is retried, as a duration such as `30s`. Default: `60s`. Like the AWS CLI's " +
					"`--cli-read-timeout`. A call to an endpoint that never answers fails after about " +
					"(`max_retries` + 1) × (`connect_timeout` + `read_timeout`) plus the retry back-off.",
				Validators: []validator.String{durationValidator(100*time.Millisecond, 30*time.Minute, "30s")},
			},
			"custom_ca_bundle": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Path of a PEM file of CA certificates to trust instead of the system's. Can also be set with `AWS_CA_BUNDLE`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"insecure": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: "Skip TLS certificate verification. For test endpoints only. Default: `false`.",
			},
			"http_proxy": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "URL of a proxy for HTTP requests. Can also be set with `HTTP_PROXY`.",
				Validators:          []validator.String{urlValidator()},
			},
			"https_proxy": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "URL of a proxy for HTTPS requests. Can also be set with `HTTPS_PROXY`.",
				Validators:          []validator.String{urlValidator()},
			},
			"no_proxy": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Comma-separated hosts that bypass the proxies. Can also be set with `NO_PROXY`.",
			},
			"skip_credentials_validation": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Skip checking the credentials with STS `GetCallerIdentity` when the provider is configured. " +
					"Set it where STS cannot be reached. Default: `false`.",
			},
			"skip_requesting_account_id": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Accepted for compatibility with the AWS provider; it changes nothing. The account ID " +
					"only names the default registry in error messages: it comes from the credential check when that runs, " +
					"and no other call is ever made for it.",
			},
			"skip_region_validation": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Skip checking `region` (here and on each resource) against the regions the AWS SDK " +
					"knows, for a region newer than this provider. Default: `false`.",
			},
			"skip_metadata_api_check": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Never ask the EC2 instance metadata service for credentials or the account ID, so a plan " +
					"off AWS does not wait on it. Default: `false`.",
			},
		},
		Blocks: map[string]schema.Block{
			"assume_role": schema.ListNestedBlock{
				MarkdownDescription: "An IAM role to assume with the configured credentials.",
				Validators:          []validator.List{listvalidator.SizeAtMost(1)},
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"role_arn": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "ARN of the role to assume.",
						Validators:          []validator.String{roleARNValidator()},
					},
					"session_name": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Session name to use when assuming the role.",
						Validators:          []validator.String{stringvalidator.LengthBetween(2, 64)},
					},
					"external_id": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "External ID the role's trust policy requires.",
						Validators:          []validator.String{stringvalidator.LengthBetween(2, 1224)},
					},
					"duration": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "How long the role's credentials last, as a duration such as `1h` or `15m` (15 minutes to 12 hours). Default: `15m`.",
						Validators:          []validator.String{durationValidator(15*time.Minute, 12*time.Hour, "1h")},
					},
					"policy": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "IAM policy JSON that further restricts the assumed role's permissions.",
						Validators:          []validator.String{jsonValidator()},
					},
				}},
			},
			"endpoints": schema.ListNestedBlock{
				MarkdownDescription: "Custom service endpoints, for VPC endpoints, proxies or a local ECR endpoint.",
				Validators:          []validator.List{listvalidator.SizeAtMost(1)},
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"ecr": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "ECR API endpoint URL. Can also be set with `AWS_ENDPOINT_URL_ECR` or `AWS_ENDPOINT_URL`.",
						Validators:          []validator.String{urlValidator()},
					},
					"sts": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "STS endpoint URL, used to check credentials and assume roles. Can also be set with `AWS_ENDPOINT_URL_STS`.",
						Validators:          []validator.String{urlValidator()},
					},
				}},
			},
		},
	}
}
