// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// STS speaks the AWS Query protocol: a form-encoded POST naming its Action,
// answered in XML. The endpoint serves what a provider needs of it: checking
// its credentials (GetCallerIdentity) and assume_role (AssumeRole,
// AssumeRoleWithWebIdentity), whose temporary credentials it then accepts.
const (
	stsPrefix                    = "sts:"
	stsGetCallerIdentity         = stsPrefix + "GetCallerIdentity"
	stsAssumeRole                = stsPrefix + "AssumeRole"
	stsAssumeRoleWithWebIdentity = stsPrefix + "AssumeRoleWithWebIdentity"

	// maxSTSBody is far above STS's largest request (a 20,000-character web
	// identity token plus a session policy) and far below anything that
	// could tire the endpoint.
	maxSTSBody = 256 << 10
)

func isSTS(operation string) bool { return strings.HasPrefix(operation, stsPrefix) }

// stsRequest is a Query-protocol request, read in full: STS requests are
// small, and the signature covers the body.
type stsRequest struct {
	operation string
	form      url.Values
	body      []byte
	err       *apiError
}

// readSTSRequest reads a Query-protocol request and names its operation. It
// returns nil for a request that is not one.
func readSTSRequest(r *http.Request) *stsRequest {
	if r.Header.Get("X-Amz-Target") != "" || r.Method != http.MethodPost ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return nil
	}
	req := &stsRequest{operation: stsPrefix}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSTSBody+1))
	switch {
	case err != nil:
		req.err = newError("MalformedInput", "The request body could not be read: "+err.Error())
	case len(body) > maxSTSBody:
		req.err = &apiError{Code: "RequestEntityTooLarge", Message: "Request body is too large.", Status: http.StatusRequestEntityTooLarge}
	}
	if req.err != nil {
		return req
	}
	req.body = body
	if req.form, err = url.ParseQuery(string(body)); err != nil {
		req.err = newError("MalformedInput", "The request body is not form-encoded.")
		return req
	}
	req.operation = stsPrefix + req.form.Get("Action")
	return req
}

func (s *Server) serveSTS(r *http.Request, rec *Request, req *stsRequest, fault *Fault) (any, *apiError) {
	if req.err != nil {
		return nil, req.err
	}
	rec.Input = map[string]any{}
	for k := range req.form {
		rec.Input[k] = req.form.Get(k)
	}
	// AssumeRoleWithWebIdentity is the one call made without AWS credentials:
	// the token is the proof.
	if rec.Operation == stsAssumeRoleWithWebIdentity && r.Header.Get("Authorization") == "" {
		if fault != nil {
			return nil, fault.apply()
		}
		return s.assumeRoleWithWebIdentity(req.form)
	}
	sig, apiErr := s.verifySignature(r, req.body)
	rec.Region, rec.AccessKeyID, rec.CallerARN = sig.Region, sig.AccessKeyID, sig.Caller.ARN
	if apiErr != nil {
		return nil, apiErr
	}
	if sig.Service != "sts" {
		return nil, newError("SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'.")
	}
	if fault != nil {
		return nil, fault.apply()
	}
	switch rec.Operation {
	case stsGetCallerIdentity:
		return callerIdentity{Arn: sig.Caller.ARN, UserID: sig.Caller.UserID, Account: sig.Caller.AccountID}, nil
	case stsAssumeRole:
		return s.assumeRole(sig.Caller, req.form)
	case stsAssumeRoleWithWebIdentity:
		return s.assumeRoleWithWebIdentity(req.form)
	}
	return nil, newError("InvalidAction", fmt.Sprintf("Could not find operation %s for version 2011-06-15",
		strings.TrimPrefix(rec.Operation, stsPrefix)))
}

type callerIdentity struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Arn     string   `xml:"GetCallerIdentityResult>Arn"`
	UserID  string   `xml:"GetCallerIdentityResult>UserId"`
	Account string   `xml:"GetCallerIdentityResult>Account"`
	Request string   `xml:"ResponseMetadata>RequestId"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Type    string   `xml:"Error>Type"`
	Code    string   `xml:"Error>Code"`
	Message string   `xml:"Error>Message"`
	Request string   `xml:"RequestId"`
}

// stsCodes maps the JSON services' authentication error codes to STS's.
var stsCodes = map[string]string{
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"IncompleteSignatureException":        "IncompleteSignature",
	"ExpiredTokenException":               "ExpiredToken",
}

func writeSTS(w http.ResponseWriter, result any, apiErr *apiError) {
	w.Header().Set("Content-Type", "text/xml")
	requestID := newUUID()
	w.Header().Set("X-Amzn-RequestId", requestID)
	if apiErr != nil {
		code := apiErr.Code
		if mapped, ok := stsCodes[code]; ok {
			code = mapped
		}
		w.WriteHeader(apiErr.Status)
		_ = xml.NewEncoder(w).Encode(stsErrorResponse{Type: "Sender", Code: code, Message: apiErr.Message, Request: requestID})
		return
	}
	switch v := result.(type) {
	case callerIdentity:
		v.Request = requestID
		result = v
	case assumeRoleResponse:
		v.Request = requestID
		result = v
	case webIdentityResponse:
		v.Request = requestID
		result = v
	}
	_ = xml.NewEncoder(w).Encode(result)
}
