package provider

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	basediag "github.com/hashicorp/aws-sdk-go-base/v2/diag"
	awsendpoints "github.com/hashicorp/aws-sdk-go-base/v2/endpoints"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// This file words what went wrong for the person running Terraform: short
// Title Case summaries; details that say what happened, what to do, then the
// original error. Values are quoted, so a stray space shows.

// explainConfigFailure names the real cause of a failure to resolve the AWS
// configuration: a missing profile, a bad environment variable, an
// unreadable CA bundle. aws-sdk-go-base reports each as a plain error.
func explainConfigFailure(m providerModel, from basediag.Diagnostics) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, d := range from {
		if d.Severity() == basediag.SeverityWarning {
			diags.AddWarning(d.Summary(), d.Detail())
			continue
		}
		err := errors.New(strings.TrimSpace(d.Summary() + "\n" + d.Detail()))
		if native, ok := d.(basediag.NativeErrorDiagnostic); ok && native.Err() != nil {
			err = native.Err()
		}
		var noProfile config.SharedConfigProfileNotExistError
		switch msg := err.Error(); {
		case errors.As(err, &noProfile):
			where := "AWS_PROFILE names"
			if !m.Profile.IsNull() {
				where = "profile names"
			}
			diags.AddAttributeError(path.Root("profile"), "AWS Profile Not Found", fmt.Sprintf(
				"The %s %q, which is in none of the shared config and credentials files read. Check the name, "+
					"or point shared_config_files and shared_credentials_files (or AWS_CONFIG_FILE and "+
					"AWS_SHARED_CREDENTIALS_FILE) at the files that define it.\n\n%v", where, noProfile.Profile, err))
		case strings.Contains(msg, "AWS_RETRY_MODE"):
			diags.AddError("Invalid AWS_RETRY_MODE", fmt.Sprintf(
				"The environment variable AWS_RETRY_MODE is %q; it must be one of %s. Fix or unset it, or set "+
					"retry_mode in the provider block, which takes precedence.\n\n%v",
				os.Getenv("AWS_RETRY_MODE"), quoted(retryModes), err))
		case strings.Contains(msg, "AWS_MAX_ATTEMPTS"):
			diags.AddError("Invalid AWS_MAX_ATTEMPTS", fmt.Sprintf(
				"The environment variable AWS_MAX_ATTEMPTS is %q; it must be a whole number of attempts. Fix or "+
					"unset it, or set max_retries in the provider block, which takes precedence.\n\n%v",
				os.Getenv("AWS_MAX_ATTEMPTS"), err))
		case strings.Contains(msg, "CA bundle"):
			diags.AddAttributeError(path.Root("custom_ca_bundle"), "Cannot Read the CA Bundle", fmt.Sprintf(
				"The CA bundle %q (custom_ca_bundle or AWS_CA_BUNDLE) must be a readable file of PEM "+
					"certificates.\n\n%v", caBundle(m), err))
		default:
			diags.AddError("Cannot Configure AWS Access",
				"The AWS configuration could not be resolved from the provider block, the environment and the "+
					"shared files.\n\n"+msg)
		}
	}
	return diags
}

func caBundle(m providerModel) string {
	if !m.CustomCABundle.IsNull() {
		return m.CustomCABundle.ValueString()
	}
	return os.Getenv("AWS_CA_BUNDLE")
}

func quoted(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
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
		switch {
		case d.Severity() == basediag.SeverityWarning:
			diags.AddWarning(d.Summary(), d.Detail())
		case err == nil:
			diags.AddError("Invalid AWS Credentials", strings.TrimSpace(d.Summary()+"\n\n"+d.Detail()))
		case ecrpush.IsConnectionError(err):
			diags.AddError("Cannot Reach STS",
				"The provider could not check its credentials with STS GetCallerIdentity: the endpoint could not be "+
					"reached or its TLS certificate is not trusted. Check endpoints.sts, the proxy settings, "+
					"custom_ca_bundle, or set skip_credentials_validation = true where STS cannot be reached.\n\n"+err.Error())
		default:
			diags.AddError("Invalid AWS Credentials",
				"STS GetCallerIdentity did not accept the credentials. Check access_key/secret_key/token, the profile, or "+
					"the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN environment variables.\n\n"+err.Error())
		}
	}
	return diags
}

// checkRegion checks a region's form, then, unless skipped, that the AWS
// SDK's partition data lists it, as the AWS provider does: a typo such as
// "eu-wst-1" fails here instead of after a minute of retries against a host
// that does not exist.
func checkRegion(region string, skipValidation bool) error {
	if err := ecrpush.ValidateRegion(region); err != nil {
		return err
	}
	if skipValidation || knownRegion(region) {
		return nil
	}
	return fmt.Errorf("%q is not a region in the AWS SDK's partition data (partitions %s); check it for a typo, "+
		"or set skip_region_validation = true in the provider block for a region newer than this provider", region, partitionNames())
}

func knownRegion(region string) bool {
	return slices.ContainsFunc(awsendpoints.DefaultPartitions(), func(p awsendpoints.Partition) bool {
		_, ok := p.Regions()[region]
		return ok
	})
}

func partitionNames() string {
	var names []string
	for _, p := range awsendpoints.DefaultPartitions() {
		names = append(names, p.ID())
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
