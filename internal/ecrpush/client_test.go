package ecrpush

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
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
