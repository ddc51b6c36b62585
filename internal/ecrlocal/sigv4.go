// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxClockSkew is how far a request's X-Amz-Date may be from the server's
// clock before AWS rejects the signature as expired.
const maxClockSkew = 15 * time.Minute

// signature is what the Authorization header of a SigV4 request says.
type signature struct {
	AccessKeyID   string
	Date          string
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	// Caller is whom the key belongs to, once the signature is verified.
	Caller Credentials
}

func parseAuthorization(header string) (signature, *apiError) {
	const scheme = "AWS4-HMAC-SHA256 "
	if header == "" {
		return signature{}, newError("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	if !strings.HasPrefix(header, scheme) {
		return signature{}, newError("IncompleteSignatureException", "Authorization header requires the AWS4-HMAC-SHA256 scheme.")
	}
	var sig signature
	for _, part := range strings.Split(strings.TrimPrefix(header, scheme), ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch key {
		case "Credential":
			scope := strings.Split(value, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return signature{}, newError("IncompleteSignatureException", "Credential scope is malformed: "+value)
			}
			sig.AccessKeyID, sig.Date, sig.Region, sig.Service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			sig.SignedHeaders = strings.Split(value, ";")
		case "Signature":
			sig.Signature = value
		}
	}
	if sig.AccessKeyID == "" || len(sig.SignedHeaders) == 0 || sig.Signature == "" {
		return signature{}, newError("IncompleteSignatureException",
			"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	}
	return sig, nil
}

// verifySignature recomputes the request's SigV4 signature with the
// secret of the key that signed it, using the AWS SDK's own signer over exactly the headers
// the client signed, and compares it with the one sent.
func (s *Server) verifySignature(r *http.Request, body []byte) (signature, *apiError) {
	return s.verifyPayloadSignature(r, len(body), sha256.Sum256(body))
}

// verifyPayloadSignature is verifySignature for a body of size bytes whose
// SHA-256 is payloadHash, worked out as the body was read.
func (s *Server) verifyPayloadSignature(r *http.Request, size int, payloadHash [sha256.Size]byte) (signature, *apiError) {
	sig, apiErr := parseAuthorization(r.Header.Get("Authorization"))
	if apiErr != nil {
		return sig, apiErr
	}
	caller, known := s.credentialsFor(sig.AccessKeyID)
	if !known {
		return sig, newError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	// Temporary credentials are only good with their own session token.
	if caller.SessionToken != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Amz-Security-Token")), []byte(caller.SessionToken)) != 1 {
		return sig, newError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if !caller.Expiration.IsZero() && !s.now().Before(caller.Expiration) {
		return sig, newError("ExpiredTokenException", "The security token included in the request is expired")
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || !strings.HasPrefix(r.Header.Get("X-Amz-Date"), sig.Date) {
		return sig, newError("IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential scope.")
	}
	if skew := s.now().Sub(signedAt); skew > maxClockSkew || skew < -maxClockSkew {
		return sig, newError("InvalidSignatureException", "Signature expired: "+r.Header.Get("X-Amz-Date")+
			" is now earlier or later than 15 minutes from the server's time.")
	}

	replay, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.RequestURI(), http.NoBody)
	if err != nil {
		return sig, newError("IncompleteSignatureException", "The request cannot be canonicalised.")
	}
	replay.Host = r.Host
	replay.Header = http.Header{}
	for _, name := range sig.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			replay.ContentLength = int64(size)
		default:
			for _, v := range r.Header.Values(name) {
				replay.Header.Add(name, v)
			}
		}
	}
	if !slices.Contains(sig.SignedHeaders, "content-length") {
		replay.ContentLength = 0
	}
	creds := aws.Credentials{AccessKeyID: caller.AccessKeyID, SecretAccessKey: caller.SecretAccessKey, SessionToken: caller.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, replay, hex.EncodeToString(payloadHash[:]),
		sig.Service, sig.Region, signedAt); err != nil {
		return sig, newError("IncompleteSignatureException", "The request cannot be signed: "+err.Error())
	}
	want, _ := parseAuthorization(replay.Header.Get("Authorization"))
	if subtle.ConstantTimeCompare([]byte(want.Signature), []byte(sig.Signature)) != 1 {
		return sig, newError("InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. "+
				"Check your AWS Secret Access Key and signing method.")
	}
	sig.Caller = caller
	return sig, nil
}
