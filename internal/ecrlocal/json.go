// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

func writeJSON(w http.ResponseWriter, result any, apiErr *apiError) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-RequestId", newUUID())
	if apiErr != nil {
		w.Header().Set("X-Amzn-ErrorType", apiErr.Code)
		w.WriteHeader(apiErr.Status)
		_, _ = w.Write(apiErr.body())
		return
	}
	b, err := json.Marshal(result)
	if err != nil {
		writeJSON(w, nil, newError("ServerException", "encoding the response: "+err.Error()))
		return
	}
	_, _ = w.Write(b)
}

// newUUID returns a random version 4 UUID, the form ECR's upload IDs take.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(errors.New("crypto/rand failed: " + err.Error()))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
