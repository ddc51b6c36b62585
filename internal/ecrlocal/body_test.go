// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzDecodeBody holds decodeBody, which leaves the blob in the body, to
// encoding/json's reading of the same bytes: the same members, the same
// values, the same refusals.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"repositoryName":"a/b","uploadId":"x","partFirstByte":0,"partLastByte":2,"layerPartBlob":"YWJj"}`,
		`{"layerPartBlob":"YWJj","layerPartBlob":"ZGVm"}`,
		`{"layerPartBlob":"YW\/j"}`,
		`{"layerPart\u0042lob":"YWJj"}`,
		`{"layerPart\u0042lob":"YWJj","layerPartBlob":"ZGVm"}`,
		`{"x":{"layerPartBlob":"nested"},"layerPartBlob":"YQ=="}`,
		`{"layerPartBlob":"YQ=="} trailing`,
		`{"layerPartBlob":"YQ==",}`,
		`{"layerPartBlob":5}`,
		`{"a":[1,"]",{"b":"}"}],"layerPartBlob":"" }`,
		` { "layerPartBlob" : "AAAA" , "n" : -1.5e3 } `,
		`{"layerPartBlob":"YQ="}`, `{"layerPartBlob":"Y===",}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := decodeBody(body)
		want, wantErr := decodeInput(body)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: decodeBody error %v, encoding/json error %v", body, gotErr, wantErr)
		}
		if blob, ok := got["layerPartBlob"].(blobText); ok {
			got["layerPartBlob"] = string(blob)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeBody read %#v, encoding/json %#v", body, got, want)
		}
	})
}

// TestAPartIsNotCopied serves UploadLayerPart requests and measures what the
// endpoint allocates for each: at most the body it reads (less when its
// pooled buffer is reused), because the base64 is decoded in place, straight
// to disk. Decoding into a map and then into bytes would take about twice
// the body more.
func TestAPartIsNotCopied(t *testing.T) {
	srv := Handler(Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Dir: t.TempDir()})
	t.Cleanup(func() { _ = srv.Close() })
	srv.CreateRepository(testRegion, "", "memory/app")
	const partSize = 4 << 20
	part := bytes.Repeat([]byte("0123456789abcdef"), partSize/16)
	out := serveSigned(t, srv, "InitiateLayerUpload", []byte(`{"repositoryName":"memory/app"}`))
	id := out["uploadId"]
	least, bodySize := uint64(1<<62), uint64(0)
	for i := range 3 {
		// Base64 needs no JSON escaping; %q would spend seconds on it under -race.
		body := fmt.Appendf(nil, `{"repositoryName":"memory/app","uploadId":%q,"partFirstByte":%d,"partLastByte":%d,"layerPartBlob":"`,
			id, i*partSize, (i+1)*partSize-1)
		body = append(base64.StdEncoding.AppendEncode(body, part), `"}`...)
		req := signedRequest(t, "UploadLayerPart", body)
		bodySize = uint64(len(body))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		runtime.ReadMemStats(&after)
		if rec.Code != http.StatusOK {
			t.Fatalf("part %d: %d %s", i, rec.Code, rec.Body)
		}
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	t.Logf("least allocated for a %d KiB body: %d KiB", bodySize>>10, least>>10)
	if least > bodySize+1<<20 {
		t.Fatalf("a %d KiB body allocated %d KiB: the part is being copied", bodySize>>10, least>>10)
	}
	if got := srv.BytesReceivedFor(fmt.Sprint(id)); got != 3*partSize {
		t.Fatalf("received %d bytes", got)
	}
}

func TestDecodeBodyLeavesTheBlobInPlace(t *testing.T) {
	body := []byte(`{"repositoryName":"a/b","layerPartBlob":"YWJjZA=="}`)
	input, apiErr := decodeBody(body)
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	blob, ok := input["layerPartBlob"].(blobText)
	if !ok || string(blob) != "YWJjZA==" {
		t.Fatalf("want the blob's text in place, got %#v", input["layerPartBlob"])
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(blob))); p < start || p >= start+uintptr(len(body)) {
		t.Fatal("the blob was copied out of the body")
	}
}

func signedRequest(t *testing.T, operation string, body []byte) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
	req.Header.Set("Content-Type", jsonContentType)
	req.Header.Set("X-Amz-Target", targetPrefix+operation)
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ecr", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func serveSigned(t *testing.T, srv *Server, operation string, body []byte) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, signedRequest(t, operation, body))
	out, apiErr := decodeInput(rec.Body.Bytes())
	if rec.Code != http.StatusOK || apiErr != nil {
		t.Fatalf("%s: %d %s", operation, rec.Code, rec.Body)
	}
	return out
}

// FuzzIsBase64 holds the table-driven check to encoding/base64's decoder:
// text is padded standard base64 exactly when StdEncoding decodes it (the
// decoder skips CR and LF, which ECR's parser does not, so those are out).
func FuzzIsBase64(f *testing.F) {
	for _, seed := range []string{"", "QQ==", "QUI=", "QUJD", "QQ=", "Q===", "QQ=A", "QU-D", "QU\nD", "====", "A"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		_, err := base64.StdEncoding.DecodeString(string(text))
		want := err == nil && !bytes.ContainsAny(text, "\r\n")
		if got := isBase64(text); got != want {
			t.Fatalf("%q: isBase64=%v, decoder accepts=%v", text, got, want)
		}
	})
}
