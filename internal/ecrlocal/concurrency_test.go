// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// TestConcurrentPushesStayApart drives many uploads at once through one SDK
// client, each to its own repository with its own bytes, and checks that
// every answer, every upload ID and every stored layer belongs to the
// request that asked for it. Run with -race, it also guards the endpoint's
// own locking.
func TestConcurrentPushesStayApart(t *testing.T) {
	const workers = 64
	srv := startServer(t)
	client := sdkClient(srv, testAccessKey, testSecretKey)
	ctx := context.Background()
	for i := range workers {
		srv.CreateRepository(testRegion, "", fmt.Sprintf("concurrent/repo-%02d", i))
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	ids := make([]string, workers)
	for i := range workers {
		wg.Go(func() {
			repo := aws.String(fmt.Sprintf("concurrent/repo-%02d", i))
			// Distinct content and length per worker, so a mixed-up part
			// changes a digest or a byte count.
			blob := bytes.Repeat([]byte{byte(i)}, 1000+i)
			started, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: repo})
			if err != nil {
				errs <- fmt.Errorf("worker %d: initiate: %w", i, err)
				return
			}
			ids[i] = aws.ToString(started.UploadId)
			part, err := client.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: repo, UploadId: started.UploadId,
				LayerPartBlob: blob, PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(blob)) - 1)})
			if err != nil {
				errs <- fmt.Errorf("worker %d: part: %w", i, err)
				return
			}
			if aws.ToString(part.RepositoryName) != *repo || aws.ToString(part.UploadId) != ids[i] ||
				aws.ToInt64(part.LastByteReceived) != int64(len(blob))-1 {
				errs <- fmt.Errorf("worker %d: the part's answer belongs elsewhere: %s %s %d", i,
					aws.ToString(part.RepositoryName), aws.ToString(part.UploadId), aws.ToInt64(part.LastByteReceived))
				return
			}
			done, err := client.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: repo,
				UploadId: started.UploadId, LayerDigests: []string{digestOf(blob)}})
			if err != nil {
				errs <- fmt.Errorf("worker %d: complete: %w", i, err)
				return
			}
			if aws.ToString(done.LayerDigest) != digestOf(blob) || aws.ToString(done.RepositoryName) != *repo {
				errs <- fmt.Errorf("worker %d: completed %s in %s", i, aws.ToString(done.LayerDigest), aws.ToString(done.RepositoryName))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, id := range ids {
		owner, ok := srv.UploadOwner(id)
		if want := fmt.Sprintf("concurrent/repo-%02d", i); !ok || owner.Repository != want || owner.Region != testRegion ||
			owner.RegistryID != DefaultAccountID {
			t.Errorf("upload %s: want it issued for %s, got %+v (%v)", id, want, owner, ok)
		}
	}
	if n := len(srv.IssuedUploads()); n != workers {
		t.Errorf("want %d uploads issued, got %d", workers, n)
	}
}
