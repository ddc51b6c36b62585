// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink a test can read while the endpoint writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogNamesWhatWasStored: the demo shows the endpoint's log next to
// sha256sum, so the log names the digests it stored, and never a secret.
func TestLogNamesWhatWasStored(t *testing.T) {
	var log syncBuffer
	srv, err := Start("127.0.0.1:0", Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.CreateRepository(testRegion, "", "log/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "log/app"}
	img := ociImage(t, p, "logged", "a layer")
	wantCode(t, "img", p.putImage(img, ociManifest, "v1"), "")
	out := log.String()
	for _, want := range []string{"layerDigest=" + digestOf([]byte("a layer")), "imageDigest=" + img.digest + " imageTag=v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testSecretKey) {
		t.Error("the log holds the secret key")
	}
}
