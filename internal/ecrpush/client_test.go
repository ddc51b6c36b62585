// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go/middleware"
)

// TestClientSharedByManyCallers makes 64 goroutines call through one client
// built by NewClient, with call logging on, each in its own repository. Run
// with -race. Every call must succeed with an upload the endpoint issued for
// that caller's repository, and every logged attempt must name the
// repository of the call it belongs to.
func TestClientSharedByManyCallers(t *testing.T) {
	const callers = 64
	srv := endpoint(t)
	for i := range callers {
		srv.CreateRepository(region, "", fmt.Sprintf("team/app-%02d", i))
	}
	type ctxKey struct{}
	var (
		mu     sync.Mutex
		logged = map[string]string{} // caller's repository => repository the log line named
	)
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		APIOptions: []func(*middleware.Stack) error{WithCallLogging(func(ctx context.Context, c Call) {
			mu.Lock()
			defer mu.Unlock()
			logged[ctx.Value(ctxKey{}).(string)] = c.Repository //nolint:forcetypeassert // set below
		})},
	}
	api := NewClient(cfg, ClientOptions{Endpoint: srv.URL(), Quotas: ServiceQuotas})

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			repo := fmt.Sprintf("team/app-%02d", i)
			ctx := context.WithValue(context.Background(), ctxKey{}, repo)
			up, err := InitiateLayerUpload(ctx, api, Target{Repository: repo, Region: region})
			if err != nil {
				errs <- fmt.Errorf("%s: %w", repo, err)
				return
			}
			if owner, ok := srv.UploadOwner(up.ID); !ok || owner.Repository != repo {
				errs <- fmt.Errorf("%s got upload %s, which the endpoint issued for %q", repo, up.ID, owner.Repository)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(logged) != callers {
		t.Fatalf("%d callers logged, want %d", len(logged), callers)
	}
	for caller, named := range logged {
		if caller != named {
			t.Errorf("the call for %s was logged as %s", caller, named)
		}
	}
}

// answeredPartSize is an InitiateLayerUploadAPI that answers a chosen part size.
type answeredPartSize int64

func (n answeredPartSize) InitiateLayerUpload(context.Context, *ecr.InitiateLayerUploadInput, ...func(*ecr.Options)) (*ecr.InitiateLayerUploadOutput, error) {
	return &ecr.InitiateLayerUploadOutput{UploadId: aws.String("0f8fad5b-d9cb-469f-a165-70867728950e"), PartSize: aws.Int64(int64(n))}, nil
}

// TestUnusablePartSizeIsRefused: a part size no pusher could use must come
// back as an error naming it, never as an Upload to loop or divide on.
func TestUnusablePartSizeIsRefused(t *testing.T) {
	for _, size := range []int64{0, -1, 20971521} {
		_, err := InitiateLayerUpload(context.Background(), answeredPartSize(size), Target{Repository: "team/app", Region: region})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("part size of %d bytes", size)) {
			t.Errorf("part size %d: got %v, want an error naming it", size, err)
		}
	}
	if _, err := InitiateLayerUpload(context.Background(), answeredPartSize(20971520), Target{Repository: "team/app", Region: region}); err != nil {
		t.Errorf("the model's largest part size was refused: %v", err)
	}
}
