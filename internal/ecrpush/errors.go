package ecrpush

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
)

// OperationError is an ECR call that failed, with what is needed to explain
// it to a person: the operation, the IAM action it needs, and its target.
type OperationError struct {
	Operation string
	Action    string
	Target    Target
	Err       error
	// Canceled is true when the caller's context ended the call (Ctrl-C in
	// Terraform), as opposed to a timeout inside the call.
	Canceled bool
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("%s on repository %q: %v", e.Operation, e.Target.Repository, e.Err)
}

func (e *OperationError) Unwrap() error { return e.Err }

// Explanation is a failure put for a person: a short Title Case summary, and
// a detail that says what happened, what to do, then the original error.
type Explanation struct {
	Summary string
	Detail  string
}

// Explain turns an error from this package into an Explanation. accountID is
// the caller's account, when known, to name the default registry.
func Explain(err error, accountID string) Explanation {
	var opErr *OperationError
	if !errors.As(err, &opErr) {
		return Explanation{Summary: "Invalid ECR Request", Detail: err.Error()}
	}
	t := opErr.Target
	where := fmt.Sprintf("repository %q in %s, region %s", t.Repository, registryName(t.RegistryID, accountID), t.Region)
	cause := opErr.Err
	trailer := "\n\n" + facts(opErr.Operation, cause)

	var (
		notFound *types.RepositoryNotFoundException
		kms      *types.KmsException
		invalid  *types.InvalidParameterException
		apiErr   smithy.APIError
	)
	switch {
	case opErr.Canceled:
		return Explanation{"ECR Request Canceled", fmt.Sprintf(
			"%s for %s was canceled before ECR answered.%s", opErr.Operation, where, trailer)}
	case errors.As(cause, &notFound):
		return Explanation{"ECR Repository Not Found", fmt.Sprintf(
			"There is no %s. Create the repository first, or check repository_name, registry_id and region.%s", where, trailer)}
	case errors.As(cause, &kms):
		return Explanation{"ECR Could Not Use the Repository's KMS Key", fmt.Sprintf(
			"ECR could not use the KMS key that encrypts %s (kmsError: %s). Check that the key is enabled "+
				"and that its key policy lets ECR use it on your behalf.%s", where, aws.ToString(kms.KmsError), trailer)}
	case errors.As(cause, &invalid):
		return Explanation{"ECR Rejected a Parameter", fmt.Sprintf(
			"ECR rejected a parameter of %s for %s: %s%s", opErr.Operation, where, aws.ToString(invalid.Message), trailer)}
	case errors.As(cause, &apiErr) && isAccessDenied(apiErr.ErrorCode()):
		return Explanation{"Access Denied by ECR", fmt.Sprintf(
			"The credentials in use may not call %s on %s. Grant the IAM action %s on "+
				"arn:aws:ecr:%s:%s:repository/%s to the identity Terraform runs as.%s",
			opErr.Operation, where, opErr.Action, t.Region, registryOrWildcard(t.RegistryID, accountID), t.Repository, trailer)}
	case errors.As(cause, &apiErr) && isCredentialError(apiErr.ErrorCode()):
		return Explanation{"Invalid AWS Credentials", fmt.Sprintf(
			"ECR did not accept the credentials in use (%s) for %s on %s. Check access_key/secret_key/token, "+
				"the profile, or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN environment variables.%s",
			apiErr.ErrorCode(), opErr.Operation, where, trailer)}
	case errors.As(cause, &apiErr) && isThrottle(apiErr.ErrorCode()):
		return Explanation{"ECR Throttled the Request", fmt.Sprintf(
			"ECR kept throttling %s for %s until the retry budget was spent. Raise max_retries, "+
				"use retry_mode = \"adaptive\", or ask AWS for a higher request quota.%s", opErr.Operation, where, trailer)}
	case errors.As(cause, &apiErr) && isServerFault(cause, apiErr.ErrorCode()):
		return Explanation{"ECR Server Error", fmt.Sprintf(
			"ECR failed with a server error on %s for %s, and retries did not get past it. Try again later.%s",
			opErr.Operation, where, trailer)}
	case errors.As(cause, &apiErr):
		return Explanation{"ECR " + opErr.Operation + " Failed", fmt.Sprintf(
			"%s for %s failed.%s", opErr.Operation, where, trailer)}
	case errors.As(cause, new(*smithy.DeserializationError)):
		return Explanation{"ECR Answered Something Unreadable", fmt.Sprintf(
			"The answer to %s for %s was cut short or was not ECR's JSON. A proxy in the way, or an "+
				"endpoints.ecr that is not an ECR endpoint, is the usual cause.%s", opErr.Operation, where, trailer)}
	case isUntrustedCertificate(cause):
		return Explanation{"ECR's TLS Certificate Is Not Trusted", fmt.Sprintf(
			"The ECR endpoint's TLS certificate for %s could not be verified. Give the CA that signed it in "+
				"custom_ca_bundle (or AWS_CA_BUNDLE); insecure = true turns verification off, for test endpoints only.%s",
			opErr.Operation, trailer)}
	case isNetworkError(cause):
		return Explanation{"Cannot Reach ECR", fmt.Sprintf(
			"%s for %s got no answer from the ECR endpoint. Check the network, the proxy settings, endpoints.ecr, connect_timeout and read_timeout.%s",
			opErr.Operation, where, trailer)}
	default:
		return Explanation{"ECR " + opErr.Operation + " Failed", fmt.Sprintf("%s for %s failed.%s", opErr.Operation, where, trailer)}
	}
}

// facts lists what support needs: operation, AWS request ID, attempts made
// and the original error.
func facts(operation string, err error) string {
	lines := []string{"Operation: " + operation}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.ServiceRequestID() != "" {
		lines = append(lines, "AWS request ID: "+respErr.ServiceRequestID())
	}
	var maxAttempts *retry.MaxAttemptsError
	if errors.As(err, &maxAttempts) {
		lines = append(lines, fmt.Sprintf("Attempts made: %d", maxAttempts.Attempt))
	}
	lines = append(lines, "Error: "+err.Error())
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

func isAccessDenied(code string) bool {
	return code == "AccessDeniedException" || code == "AccessDenied"
}

func isCredentialError(code string) bool {
	switch code {
	case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
		"InvalidClientTokenId", "SignatureDoesNotMatch", "MissingAuthenticationTokenException",
		"IncompleteSignatureException":
		return true
	}
	return false
}

func isThrottle(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}

func isServerFault(err error, code string) bool {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500 {
		return true
	}
	return code == "ServerException"
}

func isNetworkError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr)
}

func isUntrustedCertificate(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var verification *tls.CertificateVerificationError
	var hostname x509.HostnameError
	return errors.As(err, &unknownAuthority) || errors.As(err, &verification) || errors.As(err, &hostname)
}

// IsConnectionError reports whether err is a failure to reach an endpoint or
// to trust it, rather than an answer from it.
func IsConnectionError(err error) bool {
	var apiErr smithy.APIError
	return !errors.As(err, &apiErr) && (isNetworkError(err) || isUntrustedCertificate(err))
}
