// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// TestSchedulerGivesASlotToThePushHoldingFewest: with every slot held by
// one push, a slot that frees goes to a push that holds none, even though
// the first asked earlier.
func TestSchedulerGivesASlotToThePushHoldingFewest(t *testing.T) {
	s := &Scheduler{BlobsInFlight: 2}
	big, small := &share{}, &share{}
	ctx := context.Background()
	for range 2 {
		if err := s.acquire(ctx, big); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 2)
	go func() { _ = s.acquire(ctx, big); got <- "big" }()
	waitUntil(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.waiting) == 1 })
	go func() { _ = s.acquire(ctx, small); got <- "small" }()
	waitUntil(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.waiting) == 2 })
	s.release(big)
	if first := <-got; first != "small" {
		t.Fatalf("the freed slot went to %s", first)
	}
	s.release(small)
	if second := <-got; second != "big" {
		t.Fatalf("then to %s", second)
	}
	if n := s.inFlight(); n != 2 {
		t.Fatalf("%d slots in use", n)
	}
}

// TestSchedulerWaiterLeavesOnCancel: a push canceled while it waits gives
// up its place and takes no slot.
func TestSchedulerWaiterLeavesOnCancel(t *testing.T) {
	s := &Scheduler{BlobsInFlight: 1}
	a := &share{}
	if err := s.acquire(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.acquire(ctx, &share{}) }()
	waitUntil(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.waiting) == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("acquired after cancel")
	}
	s.release(a)
	if n := s.inFlight(); n != 0 {
		t.Fatalf("%d slots in use", n)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestManyPushersShareOneScheduler is a for_each of 24 images, each a
// Push of its own Pusher (as each resource builds one) sharing the
// provider's Scheduler: a base layer common to all and a layer of its own.
// The base layer is uploaded once, every blob lands, and no more than
// BlobsInFlight blobs are ever sent at once, whatever the number of pushes.
func TestManyPushersShareOneScheduler(t *testing.T) {
	f := newFakeECR(5 * mib)
	slow := &slowParts{PushAPI: f, delay: 3 * time.Millisecond}
	sched := &Scheduler{BlobsInFlight: 3}
	base, _ := randomBlob(6*mib, 99) // two parts
	var wg sync.WaitGroup
	results := make([][]BlobResult, 24)
	for i := range results {
		own, _ := randomBlob(1000+i, uint64(i))
		wg.Go(func() {
			p := &Pusher{API: slow, Scheduler: sched}
			res, err := p.Push(context.Background(), pushTarget, []Blob{base, own})
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	if n := f.count("InitiateLayerUpload"); n != 25 {
		t.Errorf("%d uploads for 25 distinct blobs", n)
	}
	if got, want := f.bytesReceived(), int64(6*mib+24*1000+276); got != want {
		t.Errorf("%d bytes received, %d distinct", got, want)
	}
	if slow.maxInFlight > 3 {
		t.Errorf("%d parts in flight at once; the scheduler allows 3", slow.maxInFlight)
	}
	sent := 0
	for _, res := range results {
		if len(res) == 2 && !res[0].Skipped {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("the base layer was sent by %d pushes", sent)
	}
	if n := sched.inFlight(); n != 0 {
		t.Errorf("%d slots still in use", n)
	}
}

// TestLostCompletionIsNotSentAgain: CompleteLayerUpload lands but its answer
// is cut short; the retry finds the upload consumed (UploadNotFound). The
// engine asks ECR before starting over, finds the blob, and sends nothing
// more.
func TestLostCompletionIsNotSentAgain(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	blob, _ := randomBlob(6*mib, 5)
	srv.InjectFault("CompleteLayerUpload", ecrlocal.Fault{Kind: ecrlocal.FaultTruncatedResponse})
	res, err := (&Pusher{API: client(srv, 3)}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	if countOps(srv, 0, "InitiateLayerUpload") != 1 || res.BytesSent != blob.Size || !res.CompletedElsewhere {
		t.Fatalf("want one upload of %d bytes: %+v, %d uploads", blob.Size, res, countOps(srv, 0, "InitiateLayerUpload"))
	}
	if !isAvailable(t, srv, blob.Digest) {
		t.Fatal("not available")
	}
}

// staleAvailability answers every availability check as if ECR had none
// of the blobs: what a push sees when it checked before another push, in
// the same process, completed the blob.
type staleAvailability struct{ PushAPI }

func (s staleAvailability) BatchCheckLayerAvailability(ctx context.Context, in *ecr.BatchCheckLayerAvailabilityInput,
	opts ...func(*ecr.Options)) (*ecr.BatchCheckLayerAvailabilityOutput, error) {
	out, err := s.PushAPI.BatchCheckLayerAvailability(ctx, in, opts...)
	if err == nil {
		out.Failures, out.Layers = nil, nil
	}
	return out, err
}

// TestABlobCompletedInTheProcessIsNotSentAgain: one push completes a blob;
// another, sharing the Scheduler, found it missing before that (its check
// is stale) and comes to send it after the first push's flight is over. It
// reports it skipped and sends nothing.
func TestABlobCompletedInTheProcessIsNotSentAgain(t *testing.T) {
	f := newFakeECR(5 * mib)
	sched := &Scheduler{}
	blob, _ := randomBlob(6*mib, 7)
	if _, err := (&Pusher{API: f, Scheduler: sched}).Push(context.Background(), pushTarget, []Blob{blob}); err != nil {
		t.Fatal(err)
	}
	res, err := (&Pusher{API: staleAvailability{f}, Scheduler: sched}).Push(context.Background(), pushTarget, []Blob{blob})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count("InitiateLayerUpload"); n != 1 || !res[0].Skipped {
		t.Fatalf("%d uploads; result %+v", n, res[0])
	}
}
