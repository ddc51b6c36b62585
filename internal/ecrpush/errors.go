// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

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

// Kind sorts a failed call by what the person who made it can do about it.
// The engine only classifies; callers word the advice in their own terms.
type Kind int

const (
	// KindOther is an API error with no advice of its own.
	KindOther Kind = iota
	// KindCanceled: the caller's context ended the call.
	KindCanceled
	KindRepositoryNotFound
	// KindKMS: ECR could not use the repository's KMS key (KMSError says why).
	KindKMS
	KindInvalidParameter
	KindAccessDenied
	// KindCredentials: the signature or the key was refused.
	KindCredentials
	// KindThrottled: throttled until the retries were spent.
	KindThrottled
	// KindServerFault: 5xx or ServerException until the retries were spent.
	KindServerFault
	// KindUnreadable: an answer cut short or not ECR's JSON.
	KindUnreadable
	// KindUntrustedCertificate: the endpoint's TLS certificate failed verification.
	KindUntrustedCertificate
	// KindUnreachable: no answer (refused, reset, timed out).
	KindUnreachable
)

// Facts are what support needs about a failed call.
type Facts struct {
	Kind      Kind
	Operation string
	// Action is the IAM action the call needs.
	Action string
	Target Target
	// Code and Message are the AWS error's, when ECR answered one.
	Code, Message string
	// KMSError is KmsException's kmsError member.
	KMSError  string
	RequestID string
	// Attempts is how many attempts were made when the retryer gave up; 0
	// when it did not say.
	Attempts int
	Err      error
}

// FactsOf classifies err, an error from this package. ok is false for an
// error that is not a failed call (a bad target, say).
func FactsOf(err error) (f Facts, ok bool) {
	var opErr *OperationError
	if !errors.As(err, &opErr) {
		return Facts{}, false
	}
	cause := opErr.Err
	f = Facts{Operation: opErr.Operation, Action: opErr.Action, Target: opErr.Target, Err: cause}
	var respErr *awshttp.ResponseError
	if errors.As(cause, &respErr) {
		f.RequestID = respErr.ServiceRequestID()
	}
	var maxAttempts *retry.MaxAttemptsError
	if errors.As(cause, &maxAttempts) {
		f.Attempts = maxAttempts.Attempt
	}
	var apiErr smithy.APIError
	hasAPIErr := errors.As(cause, &apiErr)
	if hasAPIErr {
		f.Code, f.Message = apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	var kms *types.KmsException
	if errors.As(cause, &kms) {
		f.KMSError = aws.ToString(kms.KmsError)
	}
	f.Kind = kindOf(opErr, cause, hasAPIErr)
	return f, true
}

func kindOf(opErr *OperationError, cause error, hasAPIErr bool) Kind {
	code := ""
	var apiErr smithy.APIError
	if errors.As(cause, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch {
	case opErr.Canceled:
		return KindCanceled
	case errors.As(cause, new(*types.RepositoryNotFoundException)):
		return KindRepositoryNotFound
	case errors.As(cause, new(*types.KmsException)):
		return KindKMS
	case errors.As(cause, new(*types.InvalidParameterException)):
		return KindInvalidParameter
	case hasAPIErr && isAccessDenied(code):
		return KindAccessDenied
	case hasAPIErr && isCredentialError(code):
		return KindCredentials
	case hasAPIErr && isThrottle(code):
		return KindThrottled
	case hasAPIErr && isServerFault(cause, code):
		return KindServerFault
	case hasAPIErr:
		return KindOther
	case errors.As(cause, new(*smithy.DeserializationError)):
		return KindUnreadable
	case isUntrustedCertificate(cause):
		return KindUntrustedCertificate
	case isNetworkError(cause):
		return KindUnreachable
	default:
		return KindOther
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
