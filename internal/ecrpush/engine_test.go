// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// The tests in this file run the engine against fakeECR (fakeecr_test.go):
// many offsets, many parts, many blobs, at no cost per byte beyond hashing.

const fakePart = 10 * mib // ECR's part size today

// refuseOnce makes the fake refuse the first part that starts at or after
// at, claiming lastValidByteReceived = claim (-1: none).
func refuseOnce(at, claim int64) func(int64, int, int64) (int64, error) {
	var done atomic.Bool
	return func(first int64, _ int, _ int64) (int64, error) {
		if first < at || !done.CompareAndSwap(false, true) {
			return 0, nil
		}
		e := &types.InvalidLayerPartException{Message: aws.String("refused by the test")}
		if claim >= 0 {
			e.LastValidByteReceived = aws.Int64(claim)
		}
		return 0, e
	}
}

// keepOnce makes the fake take only the first keep bytes of the first part
// that starts at or after at, then refuse it with what it holds.
func keepOnce(at, keep int64) func(int64, int, int64) (int64, error) {
	var done atomic.Bool
	return func(first int64, _ int, _ int64) (int64, error) {
		if first < at || !done.CompareAndSwap(false, true) {
			return 0, nil
		}
		return keep, nil
	}
}

// TestResumeAtOffsets answers InvalidLayerPartException at many points and
// claims: each push must end with the layer complete (the fake checks the
// digest of exactly the bytes it accepted) and the expected number of uploads.
func TestResumeAtOffsets(t *testing.T) {
	size := int64(4*fakePart + 321)
	blob, content := randomBlob(int(size), 3)
	for _, tc := range []struct {
		name    string
		hook    func(int64, int, int64) (int64, error)
		uploads int
	}{
		{"first part, nothing held", refuseOnce(0, -1), 1},
		{"claims nothing held after 2 parts", refuseOnce(2*fakePart, -1), 1},
		{"claims a part boundary behind", refuseOnce(3*fakePart, fakePart-1), 1},
		{"claims inside a part behind", refuseOnce(3*fakePart, fakePart+999), 1},
		{"claims inside a part ahead", refuseOnce(fakePart, 3*fakePart+5), 1},
		{"claims the last byte but one", refuseOnce(fakePart, size-2), 1},
		{"holds the start of a middle part", keepOnce(fakePart, 6*mib+1), 1},
		{"holds the start of the last part", keepOnce(4*fakePart, 100), 2},
		{"holds under 5 MiB of a middle part", keepOnce(2*fakePart, 1*mib), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeECR(fakePart)
			f.beforePart = tc.hook
			blob.Content = bytes.NewReader(content)
			res, err := (&Pusher{API: f}).PushBlob(context.Background(), pushTarget, blob, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !f.has(blob.Digest) || res.Uploads != tc.uploads {
				t.Fatalf("layer complete: %v, result %+v", f.has(blob.Digest), res)
			}
		})
	}
}

// TestResumeReadsOnlyWhatItSendsAgain checks that going on after a refusal
// at a part boundary reads no byte but those it sends: the engine does not
// hash the content (ECR checks the digest at completion), so neither the
// prefix nor anything else is read again, and every byte read is sent.
func TestResumeReadsOnlyWhatItSendsAgain(t *testing.T) {
	f := newFakeECR(fakePart)
	// As after a part whose answer was lost: the fake holds part 3 when
	// the push sends it, and says so.
	f.beforePart = refuseOnce(3*fakePart, 3*fakePart-1)
	blob, content := randomBlob(4*fakePart, 4)
	reads := &readCounter{r: bytes.NewReader(content)}
	blob.Content = reads
	res, err := (&Pusher{API: f}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Parts 0-3 once, then part 3 again to send it again.
	if got, want := reads.total(), int64(5*fakePart); got != want || res.BytesSent != want || !f.has(blob.Digest) {
		t.Fatalf("read %d bytes, sent %d; want %d both (result %+v)", got, res.BytesSent, want, res)
	}
}

// readCounter counts the bytes read from r, and the distinct buffers read
// into and the reads at once.
type readCounter struct {
	r io.ReaderAt

	mu      sync.Mutex
	n       int64
	buffers map[*byte]bool
	delay   time.Duration
	readAt  []time.Time
}

func (c *readCounter) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.n += int64(len(p))
	if c.buffers == nil {
		c.buffers = map[*byte]bool{}
	}
	if len(p) > 0 {
		c.buffers[&p[:1][0]] = true
	}
	c.readAt = append(c.readAt, time.Now())
	c.mu.Unlock()
	time.Sleep(c.delay)
	return c.r.ReadAt(p, off)
}

func (c *readCounter) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestManyParts(t *testing.T) {
	const part = 5 * mib
	n := 40
	if raceEnabled {
		n = 12
	}
	f := newFakeECR(part)
	blob, content := randomBlob(n*part+1, 5)
	reads := &readCounter{r: bytes.NewReader(content)}
	blob.Content = reads
	res, err := (&Pusher{API: f}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.has(blob.Digest) || f.count("UploadLayerPart") != n+1 || res.BytesSent != blob.Size {
		t.Fatalf("parts %d, result %+v", f.count("UploadLayerPart"), res)
	}
	// The parts are read into pipelineDepth buffers, reused.
	if got := len(reads.buffers); got > pipelineDepth {
		t.Fatalf("%d distinct part buffers for %d parts; want at most %d", got, n+1, pipelineDepth)
	}
}

// slowParts delays each UploadLayerPart, as a network would, and records
// when each began and ended.
type slowParts struct {
	PushAPI
	delay time.Duration

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	spans       [][2]time.Time
}

func (s *slowParts) UploadLayerPart(ctx context.Context, in *ecr.UploadLayerPartInput,
	opts ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error) {
	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	begin := time.Now()
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
	}
	out, err := s.PushAPI.UploadLayerPart(ctx, in, opts...)
	s.mu.Lock()
	s.inFlight--
	s.spans = append(s.spans, [2]time.Time{begin, time.Now()})
	s.mu.Unlock()
	return out, err
}

// TestNextPartIsReadWhileOneIsSent checks the pipeline: while part i is in
// flight, part i+1 is read (and hashed), so each part's read starts before
// the previous part's request ends.
func TestNextPartIsReadWhileOneIsSent(t *testing.T) {
	const part = 5 * mib
	f := newFakeECR(part)
	slow := &slowParts{PushAPI: f, delay: 50 * time.Millisecond}
	blob, content := randomBlob(4*part, 6)
	reads := &readCounter{r: bytes.NewReader(content)}
	blob.Content = reads
	if _, err := (&Pusher{API: slow}).PushBlob(context.Background(), pushTarget, blob, nil); err != nil {
		t.Fatal(err)
	}
	if len(reads.readAt) != 4 || len(slow.spans) != 4 {
		t.Fatalf("%d reads, %d parts", len(reads.readAt), len(slow.spans))
	}
	for i := 1; i < 4; i++ {
		if !reads.readAt[i].Before(slow.spans[i-1][1]) {
			t.Fatalf("part %d was read after part %d's request ended: no overlap", i, i-1)
		}
	}
}

// TestParallelBlobsShareOneClient pushes dozens of blobs, some listed
// twice, Parallelism at a time, through one client: every distinct digest
// is uploaded once, no more than Parallelism at once, and more than one at
// once.
func TestParallelBlobsShareOneClient(t *testing.T) {
	f := newFakeECR(5 * mib)
	slow := &slowParts{PushAPI: f, delay: 5 * time.Millisecond}
	var blobs []Blob
	for i := range 48 {
		size := 1 + i%40*1000
		if i%8 == 0 {
			size = 5*mib + i%40 // two parts
		}
		b, _ := randomBlob(size, uint64(i%40)) // blobs 40..47 repeat 0..7
		b.Name = fmt.Sprint("blob ", i)
		blobs = append(blobs, b)
	}
	var last Progress
	var reports atomic.Int64
	p := &Pusher{API: slow, Parallelism: 6, Progress: func(pr Progress) { last = pr; reports.Add(1) }}
	res, err := p.Push(context.Background(), pushTarget, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count("InitiateLayerUpload"); n != 40 {
		t.Fatalf("%d uploads for 40 distinct blobs", n)
	}
	if n := f.count("CompleteLayerUpload"); n != 40 {
		t.Fatalf("%d completions for 40 distinct blobs", n)
	}
	if slow.maxInFlight > 6 || slow.maxInFlight < 2 {
		t.Fatalf("%d parts in flight at most; want 2 to 6", slow.maxInFlight)
	}
	for i, r := range res {
		if r.Digest != blobs[i].Digest || r.Name != blobs[i].Name || r.Duplicate != (i >= 40) || r.Skipped {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if last.AllDone != last.AllTotal || last.BlobsDone != 40 || last.Blobs != 40 {
		t.Fatalf("last progress %+v", last)
	}
}

// TestConcurrentPushesOfOneBlob pushes the same blob from two Push calls at
// once through one Pusher: it is uploaded once; the other call waits and
// reports it skipped.
func TestConcurrentPushesOfOneBlob(t *testing.T) {
	f := newFakeECR(5 * mib)
	slow := &slowParts{PushAPI: f, delay: 100 * time.Millisecond}
	blob, _ := randomBlob(1000, 1)
	p := &Pusher{API: slow}
	var wg sync.WaitGroup
	results := make([]BlobResult, 2)
	for i := range results {
		wg.Go(func() {
			r, err := p.Push(context.Background(), pushTarget, []Blob{blob})
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = r[0]
		})
	}
	wg.Wait()
	if n := f.count("InitiateLayerUpload"); n != 1 {
		t.Fatalf("%d uploads", n)
	}
	if results[0].Skipped == results[1].Skipped {
		t.Fatalf("want one pushed and one skipped: %+v", results)
	}
}

// TestOneFailureStopsTheOthers fails one blob's part with an error no retry
// mends: the push returns that error alone, and the other blobs stop.
func TestOneFailureStopsTheOthers(t *testing.T) {
	f := newFakeECR(5 * mib)
	f.beforePart = func(first int64, n int, held int64) (int64, error) {
		if n == 777 {
			return 0, &types.RepositoryNotFoundException{Message: aws.String("gone")}
		}
		return 0, nil
	}
	slow := &slowParts{PushAPI: f, delay: 20 * time.Millisecond}
	var blobs []Blob
	bad, _ := randomBlob(777, 99)
	bad.Name = "bad"
	blobs = append(blobs, bad)
	for i := range 5 {
		b, _ := randomBlob(4*5*mib+i, uint64(i))
		blobs = append(blobs, b)
	}
	_, err := (&Pusher{API: slow, Parallelism: 6}).Push(context.Background(), pushTarget, blobs)
	var be *BlobError
	var notFound *types.RepositoryNotFoundException
	if !errors.As(err, &be) || be.Name != "bad" || !errors.As(err, &notFound) {
		t.Fatalf("want the bad blob's error, got %v", err)
	}
	if joined, ok := err.(interface{ Unwrap() []error }); !ok || len(joined.Unwrap()) != 1 {
		t.Fatalf("want the one failure, not the others' cancellations: %v", err)
	}
	if n := f.count("CompleteLayerUpload"); n != 0 {
		t.Fatalf("%d other blobs completed after one failed", n)
	}
}

func TestOpenFileBlob(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "layer.tar.gz")
	_, content := randomBlob(3*mib+5, 40)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	blob, f, err := OpenFileBlob(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if blob.Name != path || blob.Size != int64(len(content)) || blob.Digest != "" {
		t.Fatalf("blob %+v", blob)
	}
	fake := newFakeECR(fakePart)
	res, err := (&Pusher{API: fake}).Push(context.Background(), pushTarget, []Blob{blob})
	if err != nil || res[0].Digest != digestOf(content) || !fake.has(digestOf(content)) {
		t.Fatalf("result %+v, error %v", res, err)
	}
	if _, _, err := OpenFileBlob(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a directory: %v", err)
	}
	if _, _, err := OpenFileBlob(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// TestABlobShorterThanItsSize: content that ends before its size (a file
// truncated while being pushed) is a *BlobReadError, not a short layer.
func TestABlobShorterThanItsSize(t *testing.T) {
	_, content := randomBlob(fakePart+10, 41)
	blob := Blob{Digest: digestOf(content), Size: int64(len(content)) + 5, Content: bytes.NewReader(content)}
	fake := newFakeECR(fakePart)
	_, err := (&Pusher{API: fake}).PushBlob(context.Background(), pushTarget, blob, nil)
	var readErr *BlobReadError
	if !errors.As(err, &readErr) || readErr.Offset != fakePart || fake.count("CompleteLayerUpload") != 0 {
		t.Fatalf("want a *BlobReadError at byte %d, got %v", fakePart, err)
	}
}
