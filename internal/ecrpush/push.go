// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// PushAPI is the part of the ECR client the push engine uses. *ecr.Client
// implements it; tests wrap one to count or corrupt calls. A wrapper must
// hand the client the options it is given. One that changes a part must give
// the client a copy of LayerPartBlob, never change it in place: the engine
// begins each part's payload hash before sending it. Through the SDK's
// client, the engine keeps most parts in base64 only, and LayerPartBlob is
// then a placeholder of the part's length that the engine's serializer
// recognizes; a copy of it is refused before anything is sent, and the part
// is read again into a plain LayerPartBlob, as are the blob's later parts.
type PushAPI interface {
	BatchCheckLayerAvailability(ctx context.Context, in *ecr.BatchCheckLayerAvailabilityInput,
		opts ...func(*ecr.Options)) (*ecr.BatchCheckLayerAvailabilityOutput, error)
	InitiateLayerUpload(ctx context.Context, in *ecr.InitiateLayerUploadInput,
		opts ...func(*ecr.Options)) (*ecr.InitiateLayerUploadOutput, error)
	UploadLayerPart(ctx context.Context, in *ecr.UploadLayerPartInput,
		opts ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error)
	CompleteLayerUpload(ctx context.Context, in *ecr.CompleteLayerUploadInput,
		opts ...func(*ecr.Options)) (*ecr.CompleteLayerUploadOutput, error)
}

var _ PushAPI = (*ecr.Client)(nil)

const (
	// DefaultParallelism is how many blobs a Pusher sends at once unless told
	// otherwise: enough to fill a CI runner's uplink with ECR's 10 MiB parts
	// (each blob's parts go one after another), few enough that memory stays
	// at a few part sizes per blob (about 2 x 13.3 MiB x 4 for buffers: two
	// parts' base64 per blob).
	DefaultParallelism = 4
	// AvailabilityBatch is the most digests one BatchCheckLayerAvailability
	// call may ask about (the model's limit).
	AvailabilityBatch = 100
)

// Pusher pushes blobs to ECR. Its zero value needs only API; it may be used
// by many goroutines at once, and a blob being pushed by one Push call is not
// pushed again by a concurrent one (of any Pusher sharing its Scheduler) to
// the same repository: the second waits for the first and reports the blob
// as skipped.
type Pusher struct {
	// API is the ECR client (or a wrapper of it). Its retryer decides how
	// often a throttled or failed call is tried again; its quota pacing
	// applies to every part.
	API PushAPI
	// Parallelism bounds the blobs hashed or sent at once (each blob's parts
	// go in order, one request at a time). Zero or less: DefaultParallelism.
	Parallelism int
	// Resume, when set, keeps each upload's progress on disk so that a push
	// interrupted in one process goes on in the next. Nil: no records.
	Resume *ResumeStore
	// Progress, when set, is called after every part ECR acknowledges and at
	// each change of phase, one call at a time (it must return quickly: the
	// push waits for it). Callers that log should rate-limit themselves.
	Progress func(Progress)
	// Scheduler, when set, is shared with other Pushers: it bounds the blobs
	// sent at once across all of them and sends each blob to a repository
	// once. Nil: the Pusher has one of its own.
	Scheduler *Scheduler

	ownOnce sync.Once
	own     *Scheduler
}

// scheduler is the Scheduler this Pusher uses.
func (p *Pusher) scheduler() *Scheduler {
	if p.Scheduler != nil {
		return p.Scheduler
	}
	p.ownOnce.Do(func() { p.own = &Scheduler{} })
	return p.own
}

// parts is the part buffers this Pusher uses.
func (p *Pusher) parts() *partBuffers { return &p.scheduler().buffers }

// BlobResult is what became of one blob given to Push, in the same position.
type BlobResult struct {
	Name   string
	Digest string // the digest given or computed, in lower case
	Size   int64
	// Skipped is true when ECR had the blob already (or another push in this
	// process completed it meanwhile): no byte was sent.
	Skipped bool
	// BytesSent counts the layer bytes of every UploadLayerPart call made for
	// the blob, refused ones included (the SDK's own retries of a call are
	// not counted).
	BytesSent int64
	// Resumed is true when the push went on with an upload an earlier run
	// had started (from its resume record) and completed it; ResumedFrom is
	// the first byte it sent to it.
	Resumed     bool
	ResumedFrom int64
	// UploadID is the upload ECR completed (empty when skipped; on failure,
	// the upload in use). Uploads counts the uploads started by
	// InitiateLayerUpload for the blob.
	UploadID string
	Uploads  int
	// Duplicate is true when the same digest was listed earlier in the call:
	// the result is that earlier blob's.
	Duplicate bool
	// CompletedElsewhere is true when an upload had to start over and ECR,
	// asked first, had the blob already (a completion whose answer was lost,
	// or another process's push): nothing more was sent.
	CompletedElsewhere bool
	// RecordInUse is true when another process held the blob's resume
	// record (its lock): this push went without records, in an upload of
	// its own, and left that record alone.
	RecordInUse bool
	// RecordError is set when a resume record could not be written or
	// removed. The push itself is unaffected; only resuming it could be.
	RecordError error
}

// Push sends each blob to the target repository that ECR does not have
// yet: first one BatchCheckLayerAvailability per 100 digests (after reading
// each blob whose digest was not given to learn it), then, for each missing
// blob, Parallelism at a time: InitiateLayerUpload (or the upload its resume
// record names), UploadLayerPart for each part in order, and
// CompleteLayerUpload with the sha256 of the bytes sent. A digest listed
// twice is pushed once.
//
// The results are in the order of blobs. The error joins one *BlobError per
// blob that failed; when one fails, the others are stopped (their resume
// records keep what ECR acknowledged). Bad input (an invalid target, an
// *InvalidBlobError) is refused before any request; a failed availability
// check is an *OperationError. Canceling ctx stops every upload at once.
func (p *Pusher) Push(ctx context.Context, target Target, blobs []Blob) ([]BlobResult, error) {
	return p.push(ctx, target, blobs, nil)
}

// PushBlob pushes one blob like Push. When upload is not nil, the blob is
// sent through that upload (an upload ID and part size from
// InitiateLayerUpload, handed in by whoever opened it) instead of a new one,
// unless a resume record names an upload ECR still knows, which goes first.
// If ECR no longer knows the handed-in upload, a new one is started. The
// upload's part size is checked against the blob before any request.
func (p *Pusher) PushBlob(ctx context.Context, target Target, blob Blob, upload *Upload) (BlobResult, error) {
	results, err := p.push(ctx, target, []Blob{blob}, upload)
	if len(results) == 0 {
		return BlobResult{Name: blob.Name, Digest: strings.ToLower(blob.Digest), Size: blob.Size}, err
	}
	return results[0], err
}

// job is one distinct blob of a push.
type job struct {
	blob    Blob // Digest filled in and lower-cased
	index   int  // in the list of distinct blobs, for progress
	missing bool // ECR does not have it
	result  BlobResult
	err     error
}

// errAnotherBlobFailed ends the other blobs of a push when one fails.
var errAnotherBlobFailed = errors.New("another blob of the push failed")

func (p *Pusher) parallelism() int {
	if p.Parallelism > 0 {
		return p.Parallelism
	}
	return DefaultParallelism
}

func (p *Pusher) push(ctx context.Context, target Target, blobs []Blob, upload *Upload) ([]BlobResult, error) {
	if p.API == nil {
		return nil, errors.New("ecrpush: Pusher.API is nil")
	}
	if err := target.Validate(); err != nil {
		return nil, err
	}
	if err := checkBlobs(blobs); err != nil {
		return nil, err
	}
	if upload != nil {
		if !UploadIDRegexp.MatchString(upload.ID) {
			return nil, &InvalidUploadError{UploadID: upload.ID}
		}
		if err := CheckPartSize(blobs[0].Size, upload.PartSize, true); err != nil {
			return nil, &BlobError{Name: blobs[0].Name, Digest: strings.ToLower(blobs[0].Digest), Size: blobs[0].Size,
				Target: target, UploadID: upload.ID, Err: err}
		}
	}
	blobs = slices.Clone(blobs) // digests are filled in below
	sizes := make([]int64, len(blobs))
	for i, b := range blobs {
		sizes[i] = b.Size
	}
	prog := newProgress(p.Progress, sizes)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Learn the digests not given.
	if err := p.hashUnknown(ctx, cancel, target, blobs, prog); err != nil {
		return nil, err
	}

	// One job per distinct digest.
	jobs, of, err := distinct(blobs)
	if err != nil {
		return nil, err
	}
	sizes = make([]int64, len(jobs))
	for i, j := range jobs {
		sizes[i] = j.blob.Size
	}
	prog.reset(sizes)

	if err := p.checkAvailability(ctx, target, jobs); err != nil {
		return nil, err
	}

	sem := make(chan struct{}, p.parallelism())
	sh := &share{}
	var wg sync.WaitGroup
	for _, j := range jobs {
		if !j.missing {
			j.result.Skipped = true
			prog.update(j.index, j.blob.Name, j.blob.Digest, j.blob.Size, PhaseSkipped, j.blob.Size)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			j.err = context.Cause(ctx)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			j.result, j.err = p.pushShared(ctx, target, j, upload, prog, sh)
			if j.err != nil {
				prog.update(j.index, j.blob.Name, j.blob.Digest, j.blob.Size, PhaseFailed, 0)
				cancel(errAnotherBlobFailed)
			}
		})
	}
	wg.Wait()

	results := make([]BlobResult, len(blobs))
	seen := make([]bool, len(jobs))
	for i, b := range blobs {
		j := jobs[of[i]]
		results[i] = j.result
		results[i].Name = b.Name
		results[i].Duplicate = seen[of[i]]
		seen[of[i]] = true
	}
	// When one blob failed, the others were stopped: their cancellations are
	// not errors of their own.
	stopped := errors.Is(context.Cause(ctx), errAnotherBlobFailed)
	var errs []error
	for _, j := range jobs {
		if j.err == nil || stopped && (errors.Is(j.err, context.Canceled) || errors.Is(j.err, errAnotherBlobFailed)) {
			continue
		}
		errs = append(errs, &BlobError{Name: j.blob.Name, Digest: j.blob.Digest, Size: j.blob.Size, Target: target,
			UploadID: j.result.UploadID, Err: j.err})
	}
	return results, errors.Join(errs...)
}

// checkBlobs refuses blobs described wrongly, before anything is read or sent.
func checkBlobs(blobs []Blob) error {
	var errs []error
	for i, b := range blobs {
		var reason string
		switch {
		case b.Size < 0:
			reason = fmt.Sprintf("size %d is negative", b.Size)
		case b.Content == nil && b.Open == nil && b.Size > 0:
			reason = "it has no content to read"
		case b.Content == nil && b.Open != nil && b.Digest == "":
			reason = "it streams and gives no digest: a stream is read once, to be sent"
		case b.Digest != "":
			reason = checkDigest(b.Digest)
		}
		if reason != "" {
			errs = append(errs, &InvalidBlobError{Index: i, Name: b.Name, Digest: b.Digest, Reason: reason})
		}
	}
	return errors.Join(errs...)
}

// hashUnknown fills in the digests not given, Parallelism blobs at a time.
func (p *Pusher) hashUnknown(ctx context.Context, cancel context.CancelCauseFunc, target Target, blobs []Blob,
	prog *progress) error {
	sem := make(chan struct{}, p.parallelism())
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i := range blobs {
		if blobs[i].Digest != "" {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			b := &blobs[i]
			d, err := HashBlob(ctx, b.Content, b.Size, func(done int64) {
				prog.update(-1, b.Name, "", b.Size, PhaseHashing, done)
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, &BlobError{Name: b.Name, Size: b.Size, Target: target, Err: err})
				mu.Unlock()
				cancel(errAnotherBlobFailed)
				return
			}
			b.Digest = d
		})
	}
	wg.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return errors.Join(errs...)
}

// distinct groups blobs by digest: jobs, and for each blob its job's index.
// The caller's slice is not changed beyond the digests hashUnknown filled in.
func distinct(blobs []Blob) ([]*job, []int, error) {
	byDigest := map[string]int{}
	var jobs []*job
	of := make([]int, len(blobs))
	var errs []error
	for i, b := range blobs {
		d := strings.ToLower(b.Digest)
		if k, ok := byDigest[d]; ok {
			if jobs[k].blob.Size != b.Size {
				errs = append(errs, &InvalidBlobError{Index: i, Name: b.Name, Digest: d, Reason: fmt.Sprintf(
					"digest %s is listed with size %d and, earlier, with size %d", d, b.Size, jobs[k].blob.Size)})
			}
			of[i] = k
			continue
		}
		b.Digest = d
		byDigest[d] = len(jobs)
		of[i] = len(jobs)
		jobs = append(jobs, &job{blob: b, index: len(jobs),
			result: BlobResult{Name: b.Name, Digest: d, Size: b.Size}})
	}
	return jobs, of, errors.Join(errs...)
}

// checkAvailability asks ECR which blobs it has, AvailabilityBatch at a
// time, and marks the others missing. A layer ECR lists as UNAVAILABLE or
// ARCHIVED is pushed again (completing it then reports that it exists,
// which is success).
func (p *Pusher) checkAvailability(ctx context.Context, target Target, jobs []*job) error {
	for start := 0; start < len(jobs); start += AvailabilityBatch {
		batch := jobs[start:min(start+AvailabilityBatch, len(jobs))]
		digests := make([]string, len(batch))
		for i, j := range batch {
			digests[i] = j.blob.Digest
			j.missing = true
		}
		out, err := p.API.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
			RepositoryName: aws.String(target.Repository),
			RegistryId:     target.registryID(),
			LayerDigests:   digests,
		}, target.options)
		if err != nil {
			return operationError(ctx, "BatchCheckLayerAvailability", target, err)
		}
		available := map[string]bool{}
		for _, l := range out.Layers {
			if l.LayerAvailability == types.LayerAvailabilityAvailable {
				available[strings.ToLower(aws.ToString(l.LayerDigest))] = true
			}
		}
		for _, j := range batch {
			j.missing = !available[j.blob.Digest]
		}
	}
	return nil
}

// has asks ECR whether the target repository has the blob with digest.
func (p *Pusher) has(ctx context.Context, target Target, digest string) (bool, error) {
	j := &job{blob: Blob{Digest: digest}}
	if err := p.checkAvailability(ctx, target, []*job{j}); err != nil {
		return false, err
	}
	return !j.missing, nil
}

// operationError is a failed ECR call, for the caller to explain.
func operationError(ctx context.Context, operation string, target Target, err error) error {
	return &OperationError{Operation: operation, Action: "ecr:" + operation, Target: target, Err: err,
		Canceled: ctx.Err() != nil}
}

// flight is one blob being pushed to one repository by this Pusher.
type flight struct {
	done   chan struct{}
	result BlobResult
	err    error
}

// pushShared pushes a job's blob unless another Push call sharing this
// Pusher's Scheduler is pushing the same blob to the same repository; then it
// waits for that one, and pushes the blob itself only if that one failed.
// Only the push that sends holds one of the Scheduler's slots, so that
// waiting for another never keeps a slot from it.
func (p *Pusher) pushShared(ctx context.Context, target Target, j *job, upload *Upload,
	prog *progress, sh *share) (BlobResult, error) {
	s := p.scheduler()
	key := strings.Join([]string{target.RegistryID, target.Region, target.Repository, j.blob.Digest}, "\n")
	for {
		s.flightsMu.Lock()
		if s.flights == nil {
			s.flights, s.sent = map[string]*flight{}, map[string]bool{}
		}
		if s.sent[key] {
			s.flightsMu.Unlock()
			r := j.result
			r.Skipped = true
			prog.update(j.index, j.blob.Name, j.blob.Digest, j.blob.Size, PhaseSkipped, j.blob.Size)
			return r, nil
		}
		f, busy := s.flights[key]
		if !busy {
			f = &flight{done: make(chan struct{})}
			s.flights[key] = f
		}
		s.flightsMu.Unlock()

		if !busy {
			f.result, f.err = p.pushHoldingSlot(ctx, target, j, upload, prog, sh)
			s.flightsMu.Lock()
			delete(s.flights, key)
			if f.err == nil {
				s.sent[key] = true
			}
			s.flightsMu.Unlock()
			close(f.done)
			return f.result, f.err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return j.result, context.Cause(ctx)
		}
		if f.err == nil {
			r := j.result
			r.Skipped = true
			prog.update(j.index, j.blob.Name, j.blob.Digest, j.blob.Size, PhaseSkipped, j.blob.Size)
			return r, nil
		}
	}
}

// pushHoldingSlot pushes a job's blob once the Scheduler gives it a slot.
func (p *Pusher) pushHoldingSlot(ctx context.Context, target Target, j *job, upload *Upload,
	prog *progress, sh *share) (BlobResult, error) {
	s := p.scheduler()
	if err := s.acquire(ctx, sh); err != nil {
		return j.result, err
	}
	defer s.release(sh)
	return p.pushOne(ctx, target, j, upload, prog)
}
