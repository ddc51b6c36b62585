// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

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

// explainECRFailure words an error from the engine. accountID names the
// caller's registry, when known.
func explainECRFailure(err error, accountID string) (summary, detail string) {
	f, ok := ecrpush.FactsOf(err)
	if !ok {
		return "Invalid ECR Request", err.Error()
	}
	t := f.Target
	where := fmt.Sprintf("repository %q in %s, region %q", t.Repository, registryName(t.RegistryID, accountID), t.Region)
	trailer := "\n\n" + factLines(f)
	switch f.Kind {
	case ecrpush.KindCanceled:
		return "ECR Request Canceled", fmt.Sprintf("%s for %s was canceled before ECR answered.%s", f.Operation, where, trailer)
	case ecrpush.KindRepositoryNotFound:
		return "ECR Repository Not Found", fmt.Sprintf(
			"There is no %s. Create the repository first, or check repository_name, registry_id and region.%s", where, trailer)
	case ecrpush.KindKMS:
		return "ECR Could Not Use the Repository's KMS Key", fmt.Sprintf(
			"ECR could not use the KMS key that encrypts %s (kmsError: %s). Check that the key is enabled "+
				"and that its key policy lets ECR use it on your behalf.%s", where, f.KMSError, trailer)
	case ecrpush.KindInvalidParameter:
		return "ECR Rejected a Parameter", fmt.Sprintf("ECR rejected a parameter of %s for %s: %s%s", f.Operation, where, f.Message, trailer)
	case ecrpush.KindAccessDenied:
		return "Access Denied by ECR", fmt.Sprintf(
			"The credentials in use may not call %s on %s. Grant the IAM action %s on "+
				"arn:aws:ecr:%s:%s:repository/%s to the identity Terraform runs as.%s",
			f.Operation, where, f.Action, t.Region, registryOrWildcard(t.RegistryID, accountID), t.Repository, trailer)
	case ecrpush.KindCredentials:
		return "Invalid AWS Credentials", fmt.Sprintf(
			"ECR did not accept the credentials in use (%s) for %s on %s. Check access_key/secret_key/token, "+
				"the profile, or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN environment variables.%s",
			f.Code, f.Operation, where, trailer)
	case ecrpush.KindThrottled:
		return "ECR Throttled the Request", fmt.Sprintf(
			"ECR kept throttling %s for %s until the retry budget was spent. Raise max_retries, "+
				"use retry_mode = \"adaptive\", or ask AWS for a higher request quota.%s", f.Operation, where, trailer)
	case ecrpush.KindServerFault:
		return "ECR Server Error", fmt.Sprintf(
			"ECR failed with a server error on %s for %s, and retries did not get past it. Try again later.%s",
			f.Operation, where, trailer)
	case ecrpush.KindUnreadable:
		return "ECR Answered Something Unreadable", fmt.Sprintf(
			"The answer to %s for %s was cut short or was not ECR's JSON. A proxy in the way, or an "+
				"endpoints.ecr that is not an ECR endpoint, is the usual cause.%s", f.Operation, where, trailer)
	case ecrpush.KindUntrustedCertificate:
		return "ECR's TLS Certificate Is Not Trusted", fmt.Sprintf(
			"The ECR endpoint's TLS certificate for %s could not be verified. Give the CA that signed it in "+
				"custom_ca_bundle (or AWS_CA_BUNDLE); insecure = true turns verification off, for test endpoints only.%s",
			f.Operation, trailer)
	case ecrpush.KindUnreachable:
		return "Cannot Reach ECR", fmt.Sprintf(
			"%s for %s got no answer from the ECR endpoint. Check the network, the proxy settings, endpoints.ecr, "+
				"connect_timeout and read_timeout.%s", f.Operation, where, trailer)
	default:
		return "ECR " + f.Operation + " Failed", fmt.Sprintf("%s for %s failed.%s", f.Operation, where, trailer)
	}
}

// factLines lists what support needs: operation, AWS request ID, attempts
// made and the original error.
func factLines(f ecrpush.Facts) string {
	lines := []string{"Operation: " + f.Operation}
	if f.RequestID != "" {
		lines = append(lines, "AWS request ID: "+f.RequestID)
	}
	if f.Attempts > 0 {
		lines = append(lines, fmt.Sprintf("Attempts made: %d", f.Attempts))
	}
	lines = append(lines, "Error: "+f.Err.Error())
	return strings.Join(lines, "\n")
}

func registryName(registryID, accountID string) string {
	switch {
	case registryID != "":
		return "registry " + registryID
	case accountID != "":
		return "registry " + accountID + " (the caller's own)"
	default:
		return "the caller's own registry"
	}
}

func registryOrWildcard(registryID, accountID string) string {
	switch {
	case registryID != "":
		return registryID
	case accountID != "":
		return accountID
	default:
		return "<account-id>"
	}
}

// explainPushFailure words an error from the push engine: its typed errors
// about the blob or the upload, and, for a failed ECR call, what
// explainECRFailure says. accountID names the caller's registry, when known.
func explainPushFailure(err error, accountID string) (summary, detail string) {
	var (
		blobErr     *ecrpush.BlobError
		partSize    *ecrpush.PartSizeError
		tooMany     *ecrpush.TooManyPartsError
		mismatch    *ecrpush.DigestMismatchError
		empty       *ecrpush.EmptyBlobError
		readErr     *ecrpush.BlobReadError
		invalid     *ecrpush.InvalidBlobError
		noProgress  *ecrpush.NoProgressError
		unexpected  *ecrpush.UnexpectedAnswerError
		badUpload   *ecrpush.InvalidUploadError
		description string
	)
	if errors.As(err, &blobErr) {
		description = "\n\n" + blobErr.Error()
	} else {
		description = "\n\n" + err.Error()
	}
	switch {
	case errors.As(err, &mismatch):
		what := fmt.Sprintf("The file's %d bytes hash to %s, not to %s, the digest planned.", mismatch.Size, mismatch.Got, mismatch.Want)
		if mismatch.Got == "" {
			what = fmt.Sprintf("ECR refused the file's %d bytes as layer %s, the digest planned: they do not hash to it, "+
				"so ECR kept nothing.", mismatch.Size, mismatch.Want)
		}
		return "Layer Content Changed", fmt.Sprintf(
			"%s The file changed between plan and apply (or while it was being read); run plan again once it is "+
				"written.%s", what, description)
	case errors.As(err, &partSize):
		what := "ECR asked for a part size the provider cannot use"
		fix := "Report it: ECR's API model allows parts of 5,242,880 to 20,971,520 bytes."
		if partSize.HandedIn {
			what = "The part size handed in (part_size_wo) cannot be used for this layer"
			fix = "Hand in ephemeral.ecr_layer_upload's own part_size, unchanged, or leave out upload_id_wo and part_size_wo."
		}
		return "Unusable Part Size", fmt.Sprintf("%s: %d bytes. %s%s", what, partSize.PartSize, fix, description)
	case errors.As(err, &tooMany):
		return "Layer Too Large for ECR", fmt.Sprintf(
			"ECR takes at most %d parts per layer; at %d bytes a part, this layer of %d bytes needs %d. "+
				"Split the content into smaller layers.%s",
			ecrpush.MaxParts, tooMany.PartSize, tooMany.BlobSize, tooMany.Parts, description)
	case errors.As(err, &empty):
		return "Empty Layer", fmt.Sprintf(
			"The file is empty and the repository does not have the empty blob (%s). ECR's layer upload API cannot "+
				"upload zero bytes; give a file with content.%s", empty.Digest, description)
	case errors.As(err, &readErr):
		return "Cannot Read the Layer File", fmt.Sprintf(
			"Reading the file failed at byte %d of %d. Check that it is readable and is not being written "+
				"while Terraform runs.%s", readErr.Offset, readErr.Size, description)
	case errors.As(err, &invalid):
		return "Invalid Layer", fmt.Sprintf("The layer cannot be pushed: %s. This is a bug in the provider if "+
			"the plan succeeded.%s", invalid.Reason, description)
	case errors.As(err, &badUpload):
		return "Invalid Upload ID", fmt.Sprintf(
			"The upload ID handed in (upload_id_wo), %q, is not an ECR upload ID (a UUID). Hand in "+
				"ephemeral.ecr_layer_upload's upload_id.%s", badUpload.UploadID, description)
	case errors.As(err, &noProgress):
		return "ECR Kept Refusing the Upload", fmt.Sprintf(
			"ECR refused %s %d times in a row without accepting more bytes (next byte %d), so the push stopped "+
				"instead of looping. Try again; what ECR acknowledged is kept, and the next apply goes on from there.%s",
			noProgress.Operation, noProgress.Attempts, noProgress.Offset, description)
	case errors.As(err, &unexpected):
		return "Unexpected Answer from ECR", fmt.Sprintf(
			"ECR's answer to %s makes no sense: %s. An endpoints.ecr that is not ECR, or a proxy that changes "+
				"answers, is the usual cause.%s", unexpected.Operation, unexpected.What, description)
	}
	if _, ok := ecrpush.FactsOf(err); ok {
		return explainECRFailure(err, accountID)
	}
	return "Layer Push Failed", strings.TrimPrefix(description, "\n\n")
}

// explainTimeout words a push that outlived its timeouts block.
func explainTimeout(what, source, operation string, limit time.Duration, err error) (summary, detail string) {
	return what + " Push Timed Out", fmt.Sprintf("Pushing %q did not finish within the %s timeout (%s). What ECR "+
		"acknowledged is kept: the next apply goes on from there. Raise timeouts.%s for larger sources or slower "+
		"links.\n\n%v", source, operation, limit, operation, err)
}
