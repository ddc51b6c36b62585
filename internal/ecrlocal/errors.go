// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"encoding/json"
	"net/http"
)

// apiError is an error as ECR puts it on the wire: a JSON body carrying
// "__type" and "message", plus whatever members the error shape adds
// (lastValidByteReceived, kmsError, ...).
type apiError struct {
	Code    string
	Message string
	Status  int
	Extra   map[string]any
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// statusFor gives the HTTP status AWS uses for an error code: 500 for the
// server-side faults, 403 for authentication and authorisation failures that
// the front end answers, 400 for the rest.
func statusFor(code string) int {
	switch code {
	case "ServerException", "InternalFailure":
		return http.StatusInternalServerError
	case "ServiceUnavailableException":
		return http.StatusServiceUnavailable
	case "AccessDeniedException", "AccessDenied", "MissingAuthenticationTokenException", "InvalidSignatureException",
		"IncompleteSignatureException", "UnrecognizedClientException":
		return http.StatusForbidden
	default:
		return http.StatusBadRequest
	}
}

func newError(code, message string) *apiError {
	return &apiError{Code: code, Message: message, Status: statusFor(code)}
}

func (e *apiError) with(key string, value any) *apiError {
	if e.Extra == nil {
		e.Extra = map[string]any{}
	}
	e.Extra[key] = value
	return e
}

func (e *apiError) body() []byte {
	doc := map[string]any{"__type": e.Code, "message": e.Message}
	for k, v := range e.Extra {
		doc[k] = v
	}
	b, _ := json.Marshal(doc) // a map of strings and numbers always marshals
	return b
}
