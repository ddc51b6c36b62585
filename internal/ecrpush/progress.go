// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import "sync"

// Phase is where a blob's push stands.
type Phase int

const (
	// PhaseHashing is reading a blob whose digest was not given, to learn it
	// before asking ECR whether it has it. Done counts bytes hashed.
	PhaseHashing Phase = iota
	// PhaseUploading is sending parts. Done counts the bytes ECR holds; it
	// jumps forward when an upload is resumed and back to zero when ECR has
	// lost the upload and a new one starts.
	PhaseUploading
	// PhaseSkipped is a blob ECR already had: nothing was sent.
	PhaseSkipped
	// PhaseDone is a blob whose upload ECR completed.
	PhaseDone
	// PhaseFailed is a blob whose push failed (Push returns why).
	PhaseFailed
)

var phaseNames = [...]string{"hashing", "uploading", "skipped", "done", "failed"}

func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return "unknown"
	}
	return phaseNames[p]
}

// Progress is one report on a push: the blob it is about, and the totals of
// the whole Push call. Byte counts of blobs listed twice are counted once.
type Progress struct {
	Name   string // the blob's Name, if given
	Digest string // empty while the blob is being hashed
	Phase  Phase
	Done   int64 // this blob's bytes done in its phase (see Phase)
	Total  int64 // this blob's size

	// AllDone and AllTotal are bytes over every blob: those ECR holds or
	// had already, out of all. BlobsDone counts blobs finished (skipped,
	// done or failed) out of Blobs.
	AllDone   int64
	AllTotal  int64
	BlobsDone int
	Blobs     int
}

// progress sums up a Push call's blobs and reports changes to the caller's
// function, one call at a time.
type progress struct {
	report func(Progress)

	mu        sync.Mutex
	done      map[int]int64 // per blob (by index of the distinct blob): bytes done
	allDone   int64
	allTotal  int64
	blobsDone int
	blobs     int
}

func newProgress(report func(Progress), sizes []int64) *progress {
	p := &progress{report: report}
	p.reset(sizes)
	return p
}

// reset starts the totals over for blobs of these sizes.
func (p *progress) reset(sizes []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = make(map[int]int64, len(sizes))
	p.allDone, p.allTotal, p.blobsDone, p.blobs = 0, 0, 0, len(sizes)
	for _, s := range sizes {
		p.allTotal += s
	}
}

// update records that blob i (of the given name, digest and size) has done
// bytes in phase, and reports it.
func (p *progress) update(i int, name, digest string, size int64, phase Phase, done int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch phase {
	case PhaseUploading, PhaseDone, PhaseSkipped:
		if phase != PhaseUploading {
			done = size
			p.blobsDone++
		}
		p.allDone += done - p.done[i]
		p.done[i] = done
	case PhaseFailed:
		p.blobsDone++
	}
	if p.report == nil {
		return
	}
	p.report(Progress{Name: name, Digest: digest, Phase: phase, Done: done, Total: size,
		AllDone: p.allDone, AllTotal: p.allTotal, BlobsDone: p.blobsDone, Blobs: p.blobs})
}
