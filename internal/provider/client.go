package provider

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	awsbase "github.com/hashicorp/aws-sdk-go-base/v2"
	basediag "github.com/hashicorp/aws-sdk-go-base/v2/diag"
	"github.com/hashicorp/aws-sdk-go-base/v2/logging"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// client is built once per provider configuration and shared by every
// resource, data source and ephemeral resource of it.
type client struct {
	ecr *ecr.Client
	// region is the provider's; each resource may override it.
	region string
	// accountID names the default registry in messages; empty when unknown.
	accountID string
	// secrets are masked in every log line written under this client.
	secrets []string
	// interrupted ends when the provider process is interrupted.
	interrupted context.Context
}

// newClient resolves credentials and region and builds the ECR client.
func newClient(ctx context.Context, m providerModel, cfg *awsbase.Config, interrupted context.Context) (*client, diag.Diagnostics) {
	var diags diag.Diagnostics
	secrets := nonEmpty(cfg.AccessKey, cfg.SecretKey, cfg.Token)
	ctx = maskSecrets(ctx, secrets)

	ctx, awsCfg, baseDiags := awsbase.GetAwsConfig(ctx, cfg)
	if awsbase.ContainsNoValidCredentialSourcesError(baseDiags) {
		diags.AddError("No AWS Credentials Found",
			"The provider found no credentials. Set one of: access_key and secret_key in the provider block; the "+
				"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables; profile (or AWS_PROFILE) naming a "+
				"profile in the shared config or credentials files; AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN; or run "+
				"where a container or instance role is available.\n\n"+baseDetail(baseDiags))
		return nil, diags
	}
	appendBaseDiags(&diags, baseDiags, "Cannot Configure AWS Access",
		"Set credentials (access_key/secret_key, profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_PROFILE) "+
			"and check custom_ca_bundle and the proxy settings.")
	if diags.HasError() {
		return nil, diags
	}
	if creds, err := awsCfg.Credentials.Retrieve(ctx); err == nil {
		secrets = append(secrets, nonEmpty(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)...)
		ctx = maskSecrets(ctx, secrets)
	}

	switch {
	case awsCfg.Region == "":
		diags.AddAttributeError(path.Root("region"), "Missing AWS Region",
			"The provider has no region. Set region in the provider block, or AWS_REGION, or a region in the profile.")
		return nil, diags
	case ecrpush.ValidateRegion(awsCfg.Region) != nil:
		diags.AddAttributeError(path.Root("region"), "Invalid AWS Region",
			"The region from the environment or profile "+ecrpush.ValidateRegion(awsCfg.Region).Error()+
				". Fix AWS_REGION, AWS_DEFAULT_REGION or the profile's region.")
		return nil, diags
	}

	if err := applyTimeouts(&awsCfg, m); err != nil {
		diags.AddError("Cannot Configure AWS Access", err.Error())
		return nil, diags
	}

	var accountID string
	if !m.SkipCredentialsValidation.ValueBool() || !m.SkipRequestingAccountID.ValueBool() {
		lookup := *cfg
		lookup.SkipCredsValidation = m.SkipCredentialsValidation.ValueBool()
		id, _, idDiags := awsbase.GetAwsAccountIDAndPartition(ctx, awsCfg, &lookup)
		if m.SkipCredentialsValidation.ValueBool() {
			// The ID only names registries in messages: not finding it is no reason to stop.
			for _, d := range idDiags {
				diags.AddWarning("AWS Account ID Not Found",
					"Error messages will not name the default registry's account. Set skip_requesting_account_id = true "+
						"to skip the look-up.\n\n"+d.Summary()+d.Detail())
			}
		} else {
			diags.Append(explainSTSFailure(idDiags)...)
		}
		accountID = id
	}
	if diags.HasError() {
		return nil, diags
	}

	ecrEndpoint := m.endpoints().ECR
	api := ecr.NewFromConfig(awsCfg, func(o *ecr.Options) {
		if !ecrEndpoint.IsNull() {
			o.BaseEndpoint = aws.String(ecrEndpoint.ValueString())
		}
		if r, ok := o.Retryer.(aws.RetryerV2); ok {
			o.Retryer = ecrpush.RetryCutShortResponses(r)
		}
	}, ecrpush.WithQuotas(ecrpush.ServiceQuotas))
	tflog.Debug(ctx, "ECR client configured", map[string]any{"region": awsCfg.Region, "account_id": accountID})
	return &client{ecr: api, region: awsCfg.Region, accountID: accountID, secrets: secrets, interrupted: interrupted}, diags
}

// requestContext prepares the context of a call: canceled when Terraform
// stops the provider or the process is interrupted; SDK logs go to tflog
// (through the logger aws-sdk-go-base's middleware looks up) with
// credentials masked. Call the returned function when the call is done.
func (c *client) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stopWatching := context.AfterFunc(c.interrupted, cancel)
	ctx = logging.RegisterLogger(ctx, logging.TfLogger(""))
	return maskSecrets(ctx, c.secrets), func() { stopWatching(); cancel() }
}

func maskSecrets(ctx context.Context, secrets []string) context.Context {
	if len(secrets) == 0 {
		return ctx
	}
	ctx = tflog.MaskAllFieldValuesStrings(ctx, secrets...)
	return tflog.MaskMessageStrings(ctx, secrets...)
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// applyTimeouts bounds each attempt: connecting (TCP and TLS) and waiting for
// the answer to start, so an endpoint that accepts and never answers fails the
// attempt instead of hanging the run.
func applyTimeouts(awsCfg *aws.Config, m providerModel) error {
	connect, read := defaultConnectTimeout, defaultReadTimeout
	if !m.ConnectTimeout.IsNull() {
		connect, _ = time.ParseDuration(m.ConnectTimeout.ValueString()) // checked by its validator
	}
	if !m.ReadTimeout.IsNull() {
		read, _ = time.ParseDuration(m.ReadTimeout.ValueString())
	}
	buildable, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		return fmt.Errorf("the AWS configuration has an HTTP client of type %T, which cannot take timeouts", awsCfg.HTTPClient)
	}
	awsCfg.HTTPClient = buildable.
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = connect }).
		WithTransportOptions(func(t *http.Transport) {
			t.TLSHandshakeTimeout = connect
			t.ResponseHeaderTimeout = read
		})
	return nil
}

// baseDetail joins what aws-sdk-go-base said, for the end of a detail.
func baseDetail(from basediag.Diagnostics) string {
	var parts []string
	for _, d := range from {
		parts = append(parts, strings.TrimSpace(d.Summary()+"\n"+d.Detail()))
	}
	return strings.Join(parts, "\n")
}

// explainSTSFailure tells a credentials problem from a connection problem
// when STS GetCallerIdentity fails.
func explainSTSFailure(from basediag.Diagnostics) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, d := range from {
		var err error
		if native, ok := d.(basediag.NativeErrorDiagnostic); ok {
			err = native.Err()
		}
		if err == nil {
			appendBaseDiags(&diags, basediag.Diagnostics{d}, "Invalid AWS Credentials", "")
			continue
		}
		if ecrpush.IsConnectionError(err) {
			diags.AddError("Cannot Reach STS",
				"The provider could not check its credentials with STS GetCallerIdentity: the endpoint could not be "+
					"reached or its TLS certificate is not trusted. Check endpoints.sts, the proxy settings, "+
					"custom_ca_bundle, or set skip_credentials_validation = true where STS cannot be reached.\n\n"+err.Error())
			continue
		}
		diags.AddError("Invalid AWS Credentials",
			"STS GetCallerIdentity did not accept the credentials. Check access_key/secret_key/token, the profile, or "+
				"the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN environment variables.\n\n"+err.Error())
	}
	return diags
}
