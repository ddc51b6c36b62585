// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzServeHTTP sends correctly signed requests with arbitrary operations and
// bodies. The endpoint must never panic, and must answer either a JSON
// result or an AWS error shape with a 4xx/5xx status.
func FuzzServeHTTP(f *testing.F) {
	ops := make([]string, 0, len(validInputs))
	for op := range validInputs {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for i, op := range ops {
		f.Add(uint8(i), []byte(validInputs[op]))
	}
	for _, body := range []string{"", "{}", "null", "[]", `{"repositoryName":5}`, `{"layerPartBlob":"!!"}`,
		`{"repositoryName":"a/b","uploadId":"0f8fad5b-d9cb-469f-a165-70867728950e","partFirstByte":-1,"partLastByte":1e30,"layerPartBlob":"YQ=="}`,
		"\xff\xfe", `{"repositoryNames":[null,1,{}]}`} {
		f.Add(uint8(0), []byte(body))
	}
	srv := Handler(Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey})
	srv.CreateRepository(testRegion, "", "team/app")
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	f.Fuzz(func(t *testing.T, opIndex uint8, body []byte) {
		op := "NoSuchOperation"
		if int(opIndex) < len(ops) {
			op = ops[opIndex]
		}
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
		req.Header.Set("Content-Type", jsonContentType)
		req.Header.Set("X-Amz-Target", targetPrefix+op)
		sum := sha256.Sum256(body)
		if err := signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ecr", testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%s %q: the answer is not JSON: %q", op, body, rec.Body.String())
		}
		if rec.Code == http.StatusOK {
			return
		}
		code, _ := doc["__type"].(string)
		if rec.Code < 400 || !strings.HasSuffix(code, "Exception") {
			t.Fatalf("%s %q: status %d with %q", op, body, rec.Code, rec.Body.String())
		}
	})
}
