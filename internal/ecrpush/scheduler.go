// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"sync"
)

// DefaultBlobsInFlight is how many blobs a Scheduler lets be sent at once
// across every push that shares it unless told otherwise: each holds
// pipelineDepth part buffers (2 x 10 MiB at ECR's part size) plus the
// request being written, so about 25 MiB; 6 keep a 2-core runner's uplink
// busy within about 150 MiB.
const DefaultBlobsInFlight = 6

// Scheduler is what every Pusher of one provider configuration shares: a
// bound on the blobs being sent at once (and so on part buffers, whatever the
// number of resources or Terraform's parallelism), the part buffers
// themselves, and the blobs in flight, so that two pushes of one blob to one
// repository send it once. Its zero value allows DefaultBlobsInFlight. Slots
// go to the push holding the fewest, oldest waiter first, so one image with
// many large blobs does not starve twenty small ones.
type Scheduler struct {
	// BlobsInFlight bounds the blobs sent at once. Zero or less:
	// DefaultBlobsInFlight.
	BlobsInFlight int

	mu      sync.Mutex
	inUse   int
	waiting []*slotWaiter
	buffers partBuffers

	flightsMu sync.Mutex
	flights   map[string]*flight
	// sent holds the blobs a push sharing this Scheduler completed: a push
	// that checked availability before that completion, and so found the
	// blob missing, must not send it again once the flight is over.
	sent map[string]bool
}

// share is one Push call's part of a Scheduler.
type share struct{ held int }

type slotWaiter struct {
	share *share
	ready chan struct{}
}

func (s *Scheduler) limit() int {
	if s.BlobsInFlight > 0 {
		return s.BlobsInFlight
	}
	return DefaultBlobsInFlight
}

// acquire waits for a slot for sh, or for ctx to end.
func (s *Scheduler) acquire(ctx context.Context, sh *share) error {
	s.mu.Lock()
	if s.inUse < s.limit() && len(s.waiting) == 0 {
		s.inUse++
		sh.held++
		s.mu.Unlock()
		return nil
	}
	w := &slotWaiter{share: sh, ready: make(chan struct{})}
	s.waiting = append(s.waiting, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for i, o := range s.waiting {
		if o == w {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			s.mu.Unlock()
			return context.Cause(ctx)
		}
	}
	s.mu.Unlock()
	// Granted as ctx ended: hand the slot on.
	s.release(sh)
	return context.Cause(ctx)
}

// release gives sh's slot to the waiter whose push holds the fewest.
func (s *Scheduler) release(sh *share) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inUse--
	sh.held--
	for s.inUse < s.limit() && len(s.waiting) > 0 {
		best := 0
		for i, w := range s.waiting {
			if w.share.held < s.waiting[best].share.held {
				best = i
			}
		}
		w := s.waiting[best]
		s.waiting = append(s.waiting[:best], s.waiting[best+1:]...)
		s.inUse++
		w.share.held++
		close(w.ready)
	}
}

// inFlight reports the slots in use, for tests.
func (s *Scheduler) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inUse
}
