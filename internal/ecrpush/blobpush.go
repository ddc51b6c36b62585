// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

const (
	// pipelineDepth is how many part buffers one blob's upload uses: one
	// being sent while the next is read (and its payload hash begun). A
	// buffer holds a part's base64 text (4/3 of a part) when the client is
	// the SDK's, the part itself otherwise: memory for buffers is at most
	// pipelineDepth x 4/3 x part size per blob in flight, plus the reader's
	// scratch (presignScratch).
	pipelineDepth = 2
	// maxStalls bounds InvalidLayerPartException answers in a row that move
	// the upload no further than it stood.
	maxStalls = 5
	// presignScratch is the base64 the reader encodes at a time to begin a
	// part's payload hash; when it keeps only the base64 of parts, 3/4 of it
	// is the content read at a time.
	presignScratch = 128 << 10
	// maxRestarts bounds new uploads started for one blob after ECR lost the
	// previous one (UploadNotFoundException) or, for one an earlier run
	// began, refused to complete it.
	maxRestarts = 3
)

// blobPush is one blob's way through ECR's upload API.
type blobPush struct {
	p      *Pusher
	target Target
	blob   Blob
	index  int
	prog   *progress
	res    BlobResult

	uploadID string
	partSize int64
	// fromRecord is true while the upload in use is one an earlier run
	// started: the bytes it holds were read then, maybe from other content.
	fromRecord bool
	// records is where this push keeps its resume record: the Pusher's
	// store, or nil when another process holds the record's lock.
	records *ResumeStore
	// noPresign is set once a part went to an API that did not use its
	// presigned hash (see presigned.used), or was handed a copy of the part
	// (presigned.matched): parts are then read into plain buffers only.
	noPresign atomic.Bool
	// encodeOnly is set once a part went through the SDK's serializer as
	// the engine's own slice, with its presigned hash: the reader then keeps
	// only the base64 text of the next parts (see presignEncoded), encoded
	// once, instead of the part and a second encoding in the body.
	encodeOnly atomic.Bool
}

// resumeAt is an upload that must go on from another byte than the next one:
// ECR said so (InvalidLayerPartException, or a lastByteReceived short of the
// part sent).
type resumeAt struct {
	next int64
	err  error
}

func (r *resumeAt) Error() string { return fmt.Sprintf("resume at byte %d: %v", r.next, r.err) }

func (p *Pusher) pushOne(ctx context.Context, target Target, j *job, handed *Upload, prog *progress) (BlobResult, error) {
	b := &blobPush{p: p, target: target, blob: j.blob, index: j.index, prog: prog, res: j.result}
	err := b.run(ctx, handed)
	b.res.UploadID = b.uploadID
	if err != nil {
		return b.res, err
	}
	b.progress(PhaseDone, b.blob.Size)
	return b.res, nil
}

func (b *blobPush) progress(phase Phase, done int64) {
	b.prog.update(b.index, b.blob.Name, b.blob.Digest, b.blob.Size, phase, done)
}

func (b *blobPush) run(ctx context.Context, handed *Upload) error {
	size := b.blob.Size
	if size == 0 {
		// ECR refuses an upload with no parts (EmptyUploadException) and a
		// part with no bytes; availability was checked first, so a zero-byte
		// blob the repository has is skipped before this.
		return &EmptyBlobError{Digest: b.blob.Digest}
	}
	// Records are this push's only while it holds their lock: another
	// process pushing the blob with the record is left to it.
	b.records = b.p.Resume
	if b.records != nil {
		unlock, ok := b.records.lock(ctx, b.target, b.blob.Digest)
		if !ok {
			b.records, b.res.RecordInUse = nil, true
		} else {
			defer unlock()
		}
	}
	var start int64
	if rec := b.loadRecord(ctx); rec != nil {
		b.uploadID, b.partSize, b.fromRecord = rec.UploadID, rec.PartSize, true
		start = rec.LastByteReceived + 1
		b.res.Resumed, b.res.ResumedFrom = true, start
	} else if handed != nil {
		b.uploadID, b.partSize = handed.ID, handed.PartSize
	}

	restarts := 0
	for {
		if b.uploadID == "" {
			if err := b.initiate(ctx); err != nil {
				return err
			}
			start = 0
		}
		err := b.sendFrom(ctx, start)
		if err == nil {
			err = b.complete(ctx)
			if err == nil {
				b.removeRecord()
				return nil
			}
		}
		if !b.startOver(err) {
			if errors.As(err, new(*DigestMismatchError)) {
				// ECR will not complete this upload: a record of it
				// would only make the next run send its last part again.
				b.removeRecord()
			}
			return err
		}
		// Before any byte goes again, ask ECR: the completion may have
		// landed with its answer lost, or another process pushed the blob.
		if has, checkErr := b.p.has(ctx, b.target, b.blob.Digest); checkErr == nil && has {
			b.removeRecord()
			b.res.CompletedElsewhere = true
			return nil
		}
		restarts++
		if restarts > maxRestarts {
			return &NoProgressError{Operation: operationOf(err), Attempts: restarts, Offset: 0, Err: err}
		}
		b.removeRecord()
		if b.fromRecord {
			// The bytes the earlier run sent may be what made the digest
			// wrong (the content changed between the runs): send them all
			// again, read now.
			b.fromRecord = false
			b.res.Resumed, b.res.ResumedFrom = false, 0
		}
		b.uploadID = ""
		b.progress(PhaseUploading, 0)
	}
}

// startOver reports whether err is answered by a new upload from byte 0:
// ECR no longer knows this one; or it holds a part under 5 MiB before the
// last (it received only the start of a part, and said so with
// lastValidByteReceived); or, for an upload an earlier run began, ECR
// refused to complete it (its first bytes were read by that run, maybe from
// content changed since).
func (b *blobPush) startOver(err error) bool {
	var (
		notFound *types.UploadNotFoundException
		tooSmall *types.LayerPartTooSmallException
		mismatch *DigestMismatchError
	)
	if errors.As(err, &notFound) || errors.As(err, &tooSmall) {
		return true
	}
	return b.fromRecord && errors.As(err, &mismatch)
}

func operationOf(err error) string {
	var op *OperationError
	if errors.As(err, &op) {
		return op.Operation
	}
	return "the upload"
}

func (b *blobPush) initiate(ctx context.Context) error {
	out, err := b.p.API.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{
		RepositoryName: aws.String(b.target.Repository),
		RegistryId:     b.target.registryID(),
	}, b.target.options)
	if err != nil {
		return operationError(ctx, "InitiateLayerUpload", b.target, err)
	}
	if out.UploadId == nil || out.PartSize == nil {
		return &UnexpectedAnswerError{Operation: "InitiateLayerUpload", What: "the answer has no uploadId or partSize"}
	}
	b.res.Uploads++
	b.uploadID, b.partSize = aws.ToString(out.UploadId), aws.ToInt64(out.PartSize)
	return CheckPartSize(b.blob.Size, b.partSize, false)
}

// sendFrom sends the blob's bytes from start to the end, going on from
// wherever ECR says it stands. It does not hash the content: ECR checks the
// digest at CompleteLayerUpload (see complete).
func (b *blobPush) sendFrom(ctx context.Context, start int64) error {
	size := b.blob.Size
	stalls := 0
	for start < size {
		b.progress(PhaseUploading, start)
		before := start
		err := b.pipeline(ctx, start)
		var resume *resumeAt
		if !errors.As(err, &resume) {
			return err
		}
		if resume.next < 0 || resume.next > size {
			return &UnexpectedAnswerError{Operation: "UploadLayerPart", What: fmt.Sprintf(
				"ECR holds bytes up to %d of a blob of %d bytes", resume.next-1, size)}
		}
		if resume.next <= before {
			stalls++
			if stalls >= maxStalls {
				return &NoProgressError{Operation: "UploadLayerPart", Attempts: stalls, Offset: resume.next, Err: resume.err}
			}
		} else {
			stalls = 0
		}
		start = resume.next
	}
	return nil
}

// part is a part read, ready to send.
type part struct {
	buf *[]byte
	off int64
	n   int64
	pre *presigned // its request's payload hash, begun
	err error
}

// pipeline sends parts from start to the end of the blob, in order, while a
// second goroutine reads the next part. It returns a *resumeAt when ECR
// wants another byte next.
func (b *blobPush) pipeline(ctx context.Context, start int64) error {
	size := b.blob.Size
	pctx, cancel := context.WithCancel(ctx)
	parts := make(chan part, pipelineDepth-1)
	free := make(chan *[]byte, pipelineDepth)
	bufSize := min(b.partSize, size-start)
	if !b.noPresign.Load() {
		bufSize = int64(base64.StdEncoding.EncodedLen(int(bufSize)))
	}
	for range min(pipelineDepth, ceilDiv(size-start, b.partSize)) {
		free <- b.p.parts().get(bufSize)
	}
	var wg sync.WaitGroup
	wg.Go(func() { b.read(pctx, start, parts, free) })
	defer func() {
		cancel()
		for pt := range parts {
			free <- pt.buf
		}
		wg.Wait()
		close(free)
		for buf := range free {
			b.p.parts().put(buf)
		}
	}()

	next := start
	for pt := range parts {
		if pt.err != nil {
			free <- pt.buf
			return pt.err
		}
		last := pt.off + pt.n - 1
		out, err := b.p.API.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{
			RepositoryName: aws.String(b.target.Repository),
			RegistryId:     b.target.registryID(),
			UploadId:       aws.String(b.uploadID),
			PartFirstByte:  aws.Int64(pt.off),
			PartLastByte:   aws.Int64(last),
			LayerPartBlob:  (*pt.buf)[:pt.n],
		}, b.target.options, streamPart(pt.pre))
		// Before the buffer goes back: the reader's next part is read the
		// way this call showed.
		if pt.pre != nil {
			if pt.pre.used.Load() && pt.pre.matched.Load() {
				b.encodeOnly.Store(true)
			} else {
				b.noPresign.Store(true)
			}
		}
		free <- pt.buf
		if errors.Is(err, errPartCopied) && ctx.Err() == nil {
			// Nothing was sent: send the part again, read into a plain
			// buffer for the wrapper to copy.
			return &resumeAt{next: pt.off, err: operationError(ctx, "UploadLayerPart", b.target, err)}
		}
		b.res.BytesSent += pt.n
		if err != nil {
			opErr := operationError(ctx, "UploadLayerPart", b.target, err)
			var invalid *types.InvalidLayerPartException
			if errors.As(err, &invalid) && ctx.Err() == nil {
				// Without lastValidByteReceived, ECR holds nothing.
				held := int64(-1)
				if invalid.LastValidByteReceived != nil {
					held = *invalid.LastValidByteReceived
				}
				return &resumeAt{next: held + 1, err: opErr}
			}
			return opErr
		}
		if got := aws.ToInt64(out.LastByteReceived); out.LastByteReceived != nil && got != last {
			return &resumeAt{next: got + 1, err: &UnexpectedAnswerError{Operation: "UploadLayerPart", What: fmt.Sprintf(
				"it acknowledged byte %d after a part of bytes %d-%d", got, pt.off, last)}}
		}
		next = last + 1
		b.acknowledged(ctx, next)
	}
	if next < size {
		// The reader stopped early: only cancellation does that.
		if err := context.Cause(ctx); err != nil {
			return err
		}
		return fmt.Errorf("the part reader stopped at byte %d of %d", next, size)
	}
	return nil
}

// read reads parts from start into free buffers and hands them to the
// sender, until the end of the blob, a read error or cancellation.
func (b *blobPush) read(ctx context.Context, start int64, parts chan<- part, free chan *[]byte) {
	defer close(parts)
	content := b.blob.Content
	if content == nil {
		// A stream is opened at the byte ECR wants and read once, in order;
		// nothing of it is kept but the parts in flight.
		r, err := b.blob.Open(ctx, start)
		if err != nil {
			select {
			case parts <- part{buf: <-free, off: start, err: &BlobReadError{Offset: start, Size: b.blob.Size, Err: err}}:
			case <-ctx.Done():
			}
			return
		}
		defer func() { _ = r.Close() }()
		content = &streamReaderAt{r: r, pos: start}
	}
	scratch := make([]byte, presignScratch)
	for off := start; off < b.blob.Size; {
		var buf *[]byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return
		}
		n := min(b.partSize, b.blob.Size-off)
		pt := part{buf: buf, off: off, n: n}
		presigning := !b.noPresign.Load()
		if presigning && b.encodeOnly.Load() {
			encLen := int64(base64.StdEncoding.EncodedLen(int(n)))
			if int64(cap(*buf)) < encLen {
				*buf = make([]byte, encLen)
			}
			pt.pre, pt.err = presignEncoded(content, off, n, b.blob.Size, (*buf)[:encLen], scratch[:len(scratch)/4*3])
		} else {
			if int64(cap(*buf)) < n {
				*buf = make([]byte, n)
			}
			pt.err = readFull(content, (*buf)[:n], off, b.blob.Size)
			if pt.err == nil && presigning {
				pt.pre, pt.err = presign((*buf)[:n], scratch)
			}
		}
		select {
		case parts <- pt:
		case <-ctx.Done():
			free <- buf
			return
		}
		if pt.err != nil {
			return
		}
		off += n
	}
}

// acknowledged records that ECR holds the blob's bytes before next, in the
// resume record first, then in progress.
func (b *blobPush) acknowledged(ctx context.Context, next int64) {
	if b.records != nil && next < b.blob.Size {
		err := b.records.save(ctx, &resumeRecord{
			RegistryID: b.target.RegistryID, Region: b.target.Region, Repository: b.target.Repository,
			Digest: b.blob.Digest, Size: b.blob.Size, UploadID: b.uploadID, PartSize: b.partSize,
			LastByteReceived: next - 1, Updated: time.Now().UTC(),
		})
		if err != nil && b.res.RecordError == nil {
			b.res.RecordError = err
		}
	}
	b.progress(PhaseUploading, next)
}

func (b *blobPush) loadRecord(ctx context.Context) *resumeRecord {
	if b.records == nil {
		return nil
	}
	rec := b.records.load(ctx, b.target, b.blob.Digest, b.blob.Size)
	if rec == nil || CheckPartSize(b.blob.Size, rec.PartSize, true) != nil {
		return nil
	}
	return rec
}

func (b *blobPush) removeRecord() {
	if b.records == nil {
		return
	}
	if err := b.records.remove(b.target, b.blob.Digest); err != nil && b.res.RecordError == nil {
		b.res.RecordError = err
	}
}

// complete asks ECR to assemble the layer. A layer that exists already is
// success: another push got there first. ECR hashes the bytes it holds and
// refuses a digest they do not have (InvalidLayerException): that is the
// push's only digest check, a *DigestMismatchError.
func (b *blobPush) complete(ctx context.Context) error {
	out, err := b.p.API.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{
		RepositoryName: aws.String(b.target.Repository),
		RegistryId:     b.target.registryID(),
		UploadId:       aws.String(b.uploadID),
		LayerDigests:   []string{b.blob.Digest},
	}, b.target.options)
	var (
		exists  *types.LayerAlreadyExistsException
		invalid *types.InvalidLayerException
	)
	switch {
	case errors.As(err, &exists):
		return nil
	case errors.As(err, &invalid):
		return &DigestMismatchError{Want: b.blob.Digest, Size: b.blob.Size, ByECR: true,
			Err: operationError(ctx, "CompleteLayerUpload", b.target, err)}
	case err != nil:
		return operationError(ctx, "CompleteLayerUpload", b.target, err)
	case out.LayerDigest != nil && !sameDigest(aws.ToString(out.LayerDigest), b.blob.Digest):
		return &UnexpectedAnswerError{Operation: "CompleteLayerUpload", What: fmt.Sprintf(
			"it completed layer %s when %s was asked for", aws.ToString(out.LayerDigest), b.blob.Digest)}
	}
	return nil
}
