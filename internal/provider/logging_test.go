// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

// lockedBuffer is a bytes.Buffer for many writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestLogCallFromManyGoroutines logs AWS calls from 32 goroutines under one
// context that has fields and masks, as the engine's parallel blobs do, while
// another goroutine logs progress under it. Without a private copy of the
// fields per line, terraform-plugin-log writes the shared field map from
// every goroutine: the race detector reports it (make test-race runs this
// package's unit tests with -race), and without it the runtime may stop the
// process. Every line must also still be masked.
func TestLogCallFromManyGoroutines(t *testing.T) {
	var out lockedBuffer
	ctx := tflogtest.RootLogger(context.Background(), &out)
	ctx = tflog.SetField(ctx, "tf_req_id", "shared")
	ctx = maskSecrets(ctx, []string{"SECRETKEY"})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 20 {
				logCall(ctx, ecrpush.Call{Service: "ECR", Operation: "UploadLayerPart", Repository: "team/app", Status: 200,
					Attempt: 1, RequestID: "SECRETKEY-in-a-request-id"})
			}
		})
	}
	wg.Go(func() {
		progress := progressLogger(ctx, "layer.bin")
		for i := range 20 {
			progress(ecrpush.Progress{Phase: ecrpush.PhaseUploading, Done: int64(i), Total: 20})
		}
	})
	wg.Wait()
	log := out.b.String()
	if n := strings.Count(log, `"@message":"AWS call"`); n != 32*20 {
		t.Fatalf("%d AWS call lines, want %d", n, 32*20)
	}
	if strings.Contains(log, "SECRETKEY") {
		t.Fatal("a masked string reached the log")
	}
}
