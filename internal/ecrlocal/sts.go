package ecrlocal

import (
	"encoding/xml"
	"fmt"
	"net/http"
)

// stsGetCallerIdentity is the one STS operation served, so that a provider
// that validates its credentials (the default) can run against this endpoint.
// STS speaks the AWS Query protocol: a form-encoded request, an XML answer.
const stsGetCallerIdentity = "sts:GetCallerIdentity"

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

func (s *Server) getCallerIdentity(sig signature) (any, *apiError) {
	if sig.Service != "sts" {
		return nil, newError("InvalidSignatureException", "Credential should be scoped to correct service: 'sts'.")
	}
	return callerIdentity{
		Arn:     fmt.Sprintf("arn:aws:iam::%s:user/ecrlocal", s.opts.AccountID),
		UserID:  "AIDAECRLOCALUSER0001",
		Account: s.opts.AccountID,
	}, nil
}

// stsCodes maps the JSON services' authentication error codes to STS's.
var stsCodes = map[string]string{
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"IncompleteSignatureException":        "IncompleteSignature",
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
	identity, _ := result.(callerIdentity)
	identity.Request = requestID
	_ = xml.NewEncoder(w).Encode(identity)
}
