// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// TestFaultsAreRetriedWithinTheBudget injects each fault the endpoint can
// produce, first fewer times than the client may attempt (the call must
// succeed), then as many times (the call must fail with one explanation
// naming the operation, repository, attempts made and the last error).
func TestFaultsAreRetriedWithinTheBudget(t *testing.T) {
	const attempts = 3
	for _, tc := range []struct {
		fault ecrlocal.Fault
		kind  Kind
		last  string // what the error must quote of the last failure
	}{
		{ecrlocal.Fault{Code: "ThrottlingException"}, KindThrottled, "ThrottlingException"},
		{ecrlocal.Fault{Code: "ServerException"}, KindServerFault, "ServerException"},
		{ecrlocal.Fault{Code: "ServiceUnavailableException"}, KindServerFault, "StatusCode: 503"},
		{ecrlocal.Fault{Kind: ecrlocal.FaultDropConnection}, KindUnreachable, "EOF"},
		{ecrlocal.Fault{Kind: ecrlocal.FaultResetMidBody}, KindUnreachable, "connection reset"},
		{ecrlocal.Fault{Kind: ecrlocal.FaultTruncatedResponse}, KindUnreadable, "unexpected EOF"},
	} {
		name := tc.fault.Kind.String() + "/" + tc.fault.Code
		t.Run(name, func(t *testing.T) {
			srv := endpoint(t)
			srv.CreateRepository(region, "", "team/app")
			target := Target{Repository: "team/app", Region: region}

			f := tc.fault
			f.Times = attempts - 1
			srv.InjectFault("InitiateLayerUpload", f)
			if _, err := InitiateLayerUpload(context.Background(), client(srv, attempts), target); err != nil {
				t.Fatalf("%d faults within %d attempts: %v", attempts-1, attempts, err)
			}

			f.Times = attempts
			srv.InjectFault("InitiateLayerUpload", f)
			_, err := InitiateLayerUpload(context.Background(), client(srv, attempts), target)
			if err == nil {
				t.Fatalf("%d faults in %d attempts: no error", attempts, attempts)
			}
			facts, ok := FactsOf(err)
			switch {
			case !ok:
				t.Fatalf("not a failed call: %v", err)
			case facts.Kind != tc.kind:
				t.Errorf("kind: want %d, got %d (%v)", tc.kind, facts.Kind, err)
			case facts.Operation != "InitiateLayerUpload" || facts.Target.Repository != "team/app" || facts.Attempts != attempts:
				t.Errorf("facts: %+v", facts)
			case !strings.Contains(facts.Err.Error(), tc.last):
				t.Errorf("the error lacks %q: %v", tc.last, facts.Err)
			}
		})
	}
}

func TestGarbageResponseIsNotRetried(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Kind: ecrlocal.FaultGarbageResponse, Times: 5})
	_, err := InitiateLayerUpload(context.Background(), client(srv, 3), Target{Repository: "team/app", Region: region})
	if f, _ := FactsOf(err); f.Kind != KindUnreadable || f.Attempts > 1 {
		t.Fatalf("got %+v", f)
	}
	if n := srv.ArrivalsFor("InitiateLayerUpload"); n != 1 {
		t.Fatalf("a garbage answer must not be retried: %d attempts", n)
	}
}

func TestCancellationStopsAHungCall(t *testing.T) {
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Kind: ecrlocal.FaultHang})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.Arrivals() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	_, err := InitiateLayerUpload(ctx, client(srv, 3), Target{Repository: "team/app", Region: region})
	if f, _ := FactsOf(err); f.Kind != KindCanceled {
		t.Fatalf("got %+v", f)
	}
	if n := srv.Arrivals(); n != 1 {
		t.Fatalf("a canceled call must not be retried: %d attempts", n)
	}
}

// TestQuotasPaceManyCallers starts many uploads at once through one paced
// client and checks, from the times the endpoint received them, that no
// one-second window held more than the bucket allows: its size (a tenth of
// the rate) plus 1.25 seconds' refill (the extra quarter second covers
// requests that left on time but were scheduled late on a busy machine).
// Unpaced, all of them land within a fraction of a second.
func TestQuotasPaceManyCallers(t *testing.T) {
	const perSecond, callers = 40, 120
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	// When each request leaves the client is what pacing decides; its
	// arrival at an endpoint starved of CPU (a loaded CI machine) can bunch.
	sent := &sendTimes{}
	api := ecr.New(client(srv, 1).Options(), WithQuotas(map[string]float64{"InitiateLayerUpload": perSecond}),
		func(o *ecr.Options) { sent.next = o.HTTPClient; o.HTTPClient = sent })
	target := Target{Repository: "team/app", Region: region}
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := InitiateLayerUpload(context.Background(), api, target); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	times := sent.all()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	if len(times) != callers {
		t.Fatalf("want %d requests, got %d", callers, len(times))
	}
	for i := range times {
		j := i
		for j < len(times) && times[j].Sub(times[i]) < time.Second {
			j++
		}
		if n, most := j-i, perSecond/10+perSecond*5/4; n > most {
			t.Fatalf("%d requests within one second; the bucket allows at most %d", n, most)
		}
	}
}

// sendTimes records when each request is handed to the transport.
type sendTimes struct {
	next  ecr.HTTPClient
	mu    sync.Mutex
	times []time.Time
}

func (s *sendTimes) Do(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	return s.next.Do(r)
}

func (s *sendTimes) all() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}
