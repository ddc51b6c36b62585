// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	awsbase "github.com/hashicorp/aws-sdk-go-base/v2"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// client is built once per provider configuration and shared by every
// resource, data source and ephemeral resource of it.
type client struct {
	ecr *ecr.Client
	// scheduler is shared by every push of this configuration: it bounds
	// the blobs sent at once and sends each blob to a repository once.
	scheduler *ecrpush.Scheduler
	// region is the provider's; each resource may override it.
	region string
	// skipRegionValidation lets regions the SDK does not know through.
	skipRegionValidation bool
	// accountID names the default registry in messages: from STS when
	// credentials are validated; empty otherwise, for where validation is
	// skipped STS may be unreachable, and waiting on it would only improve
	// a message.
	accountID string
	// secrets are masked in every log line written under this client.
	secrets []string
	// interrupted ends when the provider process is interrupted.
	interrupted context.Context
	// endpoint is the custom ECR endpoint, or "": with one, reads of an ECR
	// source_image go where its GetAuthorizationToken says the registry is.
	endpoint string
	// logins are ECR registry tokens by account and region, reused until
	// shortly before they expire: one call for any number of images.
	loginsMu sync.Mutex
	logins   map[string]ecrpush.RegistryLogin
	// planned are the top-level manifests ecr_image planned in this run,
	// by digest: an ecr_artifact's subject may be one ECR has not yet.
	plannedMu sync.Mutex
	planned   map[string]ecrpush.Descriptor
}

// providerClient is what every type's Configure does with the provider's
// data: nil before the provider is configured (validation), else the client.
func providerClient(data any, typeName string) (*client, diag.Diagnostics) {
	var diags diag.Diagnostics
	if data == nil {
		return nil, diags
	}
	c, ok := data.(*client)
	if !ok {
		diags.AddError("Unexpected Provider Data",
			fmt.Sprintf("%s expected the provider's *client, got %T. This is a bug in the provider.", typeName, data))
	}
	return c, diags
}

// pusher is the push engine for one push, reporting to progress, with
// uploads recorded under the cache directory so a push cut off resumes in a
// later run.
func (c *client) pusher(ctx context.Context, progress func(ecrpush.Progress)) *ecrpush.Pusher {
	p := &ecrpush.Pusher{API: c.ecr, Progress: progress, Scheduler: c.scheduler}
	if dir, err := cacheDir(); err == nil {
		p.Resume = &ecrpush.ResumeStore{Dir: filepath.Join(dir, "uploads")}
	} else {
		tflog.Warn(ctx, "Uploads cannot be resumed in a later run: "+err.Error())
	}
	return p
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
	diags.Append(explainConfigFailure(m, baseDiags)...)
	if diags.HasError() {
		return nil, diags
	}
	if creds, err := awsCfg.Credentials.Retrieve(ctx); err == nil {
		secrets = append(secrets, nonEmpty(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)...)
		ctx = maskSecrets(ctx, secrets)
	}

	skipRegionValidation := m.SkipRegionValidation.ValueBool()
	switch {
	case awsCfg.Region == "":
		diags.AddAttributeError(path.Root("region"), "Missing AWS Region",
			"The provider has no region. Set region in the provider block, or AWS_REGION, or a region in the profile.")
		return nil, diags
	case checkRegion(awsCfg.Region, skipRegionValidation) != nil:
		diags.AddAttributeError(path.Root("region"), "Invalid AWS Region",
			"The region from the environment or profile "+checkRegion(awsCfg.Region, skipRegionValidation).Error()+
				". Fix AWS_REGION, AWS_DEFAULT_REGION or the profile's region.")
		return nil, diags
	}

	if err := applyTimeouts(&awsCfg, m); err != nil {
		diags.AddError("Cannot Configure AWS Access", err.Error())
		return nil, diags
	}
	// Every client built from this configuration (ECR, and STS for the
	// account look-up) logs each attempt in one line, never a body.
	awsCfg.APIOptions = append(awsCfg.APIOptions, ecrpush.WithCallLogging(logCall))

	c := &client{region: awsCfg.Region, skipRegionValidation: skipRegionValidation, secrets: secrets, interrupted: interrupted,
		scheduler: &ecrpush.Scheduler{BlobsInFlight: int(m.MaxBlobsInFlight.ValueInt64())}}
	// Validating credentials asks STS who the caller is, which also gives
	// the account ID. Where validation is skipped no STS call is made.
	if !m.SkipCredentialsValidation.ValueBool() {
		lookup := *cfg
		lookup.SkipCredsValidation = false
		id, _, idDiags := awsbase.GetAwsAccountIDAndPartition(ctx, awsCfg, &lookup)
		diags.Append(explainSTSFailure(idDiags)...)
		if diags.HasError() {
			return nil, diags
		}
		c.accountID = id
	}

	var endpoint string
	if e, _ := m.endpoints(ctx); !e.ECR.IsNull() { // decoded without error in baseConfig
		endpoint = e.ECR.ValueString()
	}
	c.endpoint = endpoint
	c.ecr = ecrpush.NewClient(awsCfg, ecrpush.ClientOptions{Endpoint: endpoint, Quotas: ecrpush.ServiceQuotas})
	tflog.Debug(ctx, "ECR client configured", map[string]any{"region": awsCfg.Region, "account_id": c.accountID})
	return c, diags
}

// ownFields returns ctx with a private copy of its log fields, for a line
// logged while other goroutines log under the same context: terraform-plugin-log
// (v0.11.0) masks a line by writing into its context's field map, so two lines
// logged at once under one context write one map at once ("fatal error:
// concurrent map writes"). Every line the engine's goroutines cause (AWS calls,
// progress) goes through it; tflog's Mask* functions copy the map.
func ownFields(ctx context.Context) context.Context { return tflog.MaskAllFieldValuesStrings(ctx) }

// logCall writes one attempt of an AWS call to the provider's log.
func logCall(ctx context.Context, call ecrpush.Call) {
	fields := map[string]any{
		"aws_service":    call.Service,
		"aws_operation":  call.Operation,
		"http_status":    call.Status,
		"attempt":        call.Attempt,
		"max_attempts":   call.MaxAttempts,
		"aws_request_id": call.RequestID,
		"duration_ms":    call.Duration.Milliseconds(),
	}
	if call.Repository != "" {
		fields["repository_name"] = call.Repository
	}
	if call.Err != nil {
		fields["error"] = call.Err.Error()
	}
	tflog.Debug(ownFields(ctx), "AWS call", fields)
}

// requestContext prepares the context of a call: canceled when Terraform
// stops the provider or the process is interrupted, with credentials masked
// in whatever is logged under it. Call the returned function when the call
// is done.
func (c *client) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stopWatching := context.AfterFunc(c.interrupted, cancel)
	return maskSecrets(ctx, c.secrets), func() { stopWatching(); cancel() }
}

// errTimeoutsBlock ends a call that outlived the limit of a timeouts block.
var errTimeoutsBlock = errors.New("the timeouts block's limit passed")

// limitedRequestContext is requestContext that also ends after limit (a
// timeouts block's); pastLimit tells, after a failure, whether that was why.
func (c *client) limitedRequestContext(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	limited, stop := context.WithTimeoutCause(ctx, limit, errTimeoutsBlock)
	callCtx, done := c.requestContext(limited)
	return callCtx, func() { done(); stop() }
}

// pastLimit reports whether ctx, from limitedRequestContext, ended at its limit.
func pastLimit(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errTimeoutsBlock) }

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
