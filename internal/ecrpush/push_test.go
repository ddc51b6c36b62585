// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

const mib = 1 << 20

var pushTarget = Target{Repository: "team/app", Region: region}

// pushEndpoint is a local endpoint with the repository pushTarget names,
// answering the given part size.
func pushEndpoint(t testing.TB, partSize int64) *ecrlocal.Server {
	t.Helper()
	srv, err := startBenchEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.CreateRepository(region, "", pushTarget.Repository)
	srv.SetPartSize(partSize)
	return srv
}

// randomBlob is n random bytes (the same for the same seed) as a Blob with
// its digest.
func randomBlob(n int, seed uint64) (Blob, []byte) {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(b)
	return Blob{Digest: digestOf(b), Size: int64(n), Content: bytes.NewReader(b)}, b
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// sentPart is one UploadLayerPart request the endpoint answered.
type sentPart struct {
	first, last, size int64
	errorCode         string
}

// partsSent lists the UploadLayerPart requests the endpoint recorded, from
// the from-th request on (of all operations).
func partsSent(t testing.TB, srv *ecrlocal.Server, from int) []sentPart {
	t.Helper()
	var out []sentPart
	for _, r := range srv.Requests()[from:] {
		if r.Operation != "UploadLayerPart" || r.Input == nil {
			continue
		}
		var p sentPart
		if _, err := fmt.Sscanf(fmt.Sprint(r.Input["layerPartBlob"]), "<%d bytes>", &p.size); err != nil {
			t.Fatalf("layerPartBlob recorded as %v", r.Input["layerPartBlob"])
		}
		_, _ = fmt.Sscan(fmt.Sprint(r.Input["partFirstByte"]), &p.first)
		_, _ = fmt.Sscan(fmt.Sprint(r.Input["partLastByte"]), &p.last)
		p.errorCode = r.ErrorCode
		out = append(out, p)
	}
	return out
}

// acceptedBytes sums the bytes of the parts the endpoint accepted.
func acceptedBytes(parts []sentPart) int64 {
	var n int64
	for _, p := range parts {
		if p.errorCode == "" {
			n += p.size
		}
	}
	return n
}

// countOps counts the endpoint's recorded requests of one operation from
// the from-th on.
func countOps(srv *ecrlocal.Server, from int, operation string) int {
	n := 0
	for _, r := range srv.Requests()[from:] {
		if r.Operation == operation {
			n++
		}
	}
	return n
}

// storedIs checks that the endpoint stored exactly content as the layer.
func storedIs(t testing.TB, srv *ecrlocal.Server, digest string, content []byte) {
	t.Helper()
	r, size, err := srv.Blob(region, "", pushTarget.Repository, digest)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(content)) || !bytes.Equal(got, content) {
		t.Fatalf("the endpoint stored %d bytes that differ from the %d pushed", len(got), len(content))
	}
}

// isAvailable asks the endpoint whether it holds a layer.
func isAvailable(t testing.TB, srv *ecrlocal.Server, digest string) bool {
	t.Helper()
	out, err := client(srv, 1).BatchCheckLayerAvailability(context.Background(), &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: aws.String(pushTarget.Repository), LayerDigests: []string{digest}})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Layers) == 1 && out.Layers[0].LayerAvailability == types.LayerAvailabilityAvailable
}

func TestPushPartBoundaries(t *testing.T) {
	const part = 5 * mib
	sizes := []int{1, part - 1, part, part + 1, 2*part + 123}
	if raceEnabled {
		sizes = []int{1, part, part + 1} // the rest, without -race
	}
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			srv := pushEndpoint(t, part)
			blob, content := randomBlob(size, uint64(size))
			p := &Pusher{API: client(srv, 1)}
			res, err := p.PushBlob(context.Background(), pushTarget, blob, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Skipped || res.BytesSent != int64(size) || res.Digest != blob.Digest || res.Uploads != 1 {
				t.Fatalf("result %+v", res)
			}
			parts := partsSent(t, srv, 0)
			if want := (size + part - 1) / part; len(parts) != want {
				t.Fatalf("want %d parts, got %d: %+v", want, len(parts), parts)
			}
			var next int64
			for i, p := range parts {
				want := min(int64(part), int64(size)-next)
				if p.errorCode != "" || p.first != next || p.size != want || p.last != next+want-1 {
					t.Fatalf("part %d: want bytes %d-%d, got %+v", i, next, next+want-1, p)
				}
				next += want
			}
			complete := srv.RequestsFor("CompleteLayerUpload")
			if len(complete) != 1 || complete[0].ErrorCode != "" {
				t.Fatalf("CompleteLayerUpload: %+v", complete)
			}
			if !isAvailable(t, srv, blob.Digest) {
				t.Fatal("the layer is not available after the push")
			}
			storedIs(t, srv, blob.Digest, content)
			if got := srv.BytesReceived(); got != int64(size) {
				t.Fatalf("the endpoint received %d bytes, want %d", got, size)
			}
		})
	}
}

// TestPushPartSizes pushes with ECR's largest part (TestPushPartBoundaries
// uses the smallest, 5 MiB; the fake ECR tests use 10 MiB, ECR's default).
func TestPushPartSizes(t *testing.T) {
	if raceEnabled {
		t.Skip("20 MiB through the endpoint: run without -race (make test-unit)")
	}
	for _, part := range []int64{MaxPartSize} {
		t.Run(fmt.Sprint(part), func(t *testing.T) {
			srv := pushEndpoint(t, part)
			size := int(part) + 7
			blob, _ := randomBlob(size, 7)
			if _, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, blob, nil); err != nil {
				t.Fatal(err)
			}
			parts := partsSent(t, srv, 0)
			if len(parts) != 2 || parts[0].size != part || parts[1].size != 7 {
				t.Fatalf("parts %+v", parts)
			}
		})
	}
}

func TestPushEmptyBlob(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	empty := Blob{Name: "empty", Digest: digestOf(nil), Size: 0, Content: bytes.NewReader(nil)}
	_, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, empty, nil)
	var emptyErr *EmptyBlobError
	if !errors.As(err, &emptyErr) || emptyErr.Digest != digestOf(nil) {
		t.Fatalf("want an *EmptyBlobError, got %v", err)
	}
	if n := countOps(srv, 0, "BatchCheckLayerAvailability"); n != 1 || len(srv.Requests()) != 1 {
		t.Fatalf("want only the availability check, got %+v", srv.Requests())
	}
	// A zero-byte blob the repository has is skipped like any other.
	api := &hasLayers{PushAPI: client(srv, 1), digests: []string{digestOf(nil)}}
	res, err := (&Pusher{API: api}).PushBlob(context.Background(), pushTarget, empty, nil)
	if err != nil || !res.Skipped {
		t.Fatalf("result %+v, error %v", res, err)
	}
}

// hasLayers answers that the repository has the given digests.
type hasLayers struct {
	PushAPI
	digests []string
}

func (h *hasLayers) BatchCheckLayerAvailability(ctx context.Context, in *ecr.BatchCheckLayerAvailabilityInput,
	opts ...func(*ecr.Options)) (*ecr.BatchCheckLayerAvailabilityOutput, error) {
	out := &ecr.BatchCheckLayerAvailabilityOutput{}
	for _, d := range in.LayerDigests {
		if strings.Contains(strings.Join(h.digests, " "), d) {
			out.Layers = append(out.Layers, types.Layer{LayerDigest: aws.String(d), LayerAvailability: types.LayerAvailabilityAvailable})
		}
	}
	return out, nil
}

func TestPushSkipsWhatECRHas(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	blob, _ := randomBlob(1000, 1)
	p := &Pusher{API: client(srv, 1)}
	if _, err := p.PushBlob(context.Background(), pushTarget, blob, nil); err != nil {
		t.Fatal(err)
	}
	before := len(srv.Requests())
	res, err := p.Push(context.Background(), pushTarget, []Blob{blob, blob})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.Skipped || r.BytesSent != 0 || r.UploadID != "" {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if !res[1].Duplicate || res[0].Duplicate {
		t.Fatalf("duplicates: %+v", res)
	}
	reqs := srv.Requests()[before:]
	if len(reqs) != 1 || reqs[0].Operation != "BatchCheckLayerAvailability" {
		t.Fatalf("want one availability check and nothing else, got %+v", reqs)
	}
	if got := reqs[0].Input["layerDigests"]; fmt.Sprint(got) != fmt.Sprint([]any{blob.Digest}) {
		t.Fatalf("a digest listed twice must be asked about once: %v", got)
	}
}

func TestPushChecksAvailabilityInBatchesOf100(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	var blobs []Blob
	for i := range 250 {
		b, _ := randomBlob(16+i%7, uint64(i))
		blobs = append(blobs, b)
	}
	api := &hasLayers{PushAPI: client(srv, 1)}
	for _, b := range blobs {
		api.digests = append(api.digests, b.Digest)
	}
	counting := &countingAPI{PushAPI: api}
	res, err := (&Pusher{API: counting}).Push(context.Background(), pushTarget, blobs)
	if err != nil {
		t.Fatal(err)
	}
	if got := counting.batches(); fmt.Sprint(got) != "[100 100 50]" {
		t.Fatalf("batch sizes %v", got)
	}
	for i, r := range res {
		if !r.Skipped {
			t.Fatalf("blob %d not skipped: %+v", i, r)
		}
	}
}

// spyAPI records each UploadLayerPart call: its first byte and size, and the
// error code or last byte received of the answer.
type spyAPI struct {
	PushAPI
	mu    sync.Mutex
	calls []string
}

func (s *spyAPI) UploadLayerPart(ctx context.Context, in *ecr.UploadLayerPartInput,
	opts ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error) {
	out, err := s.PushAPI.UploadLayerPart(ctx, in, opts...)
	answer := "error"
	var apiErr interface{ ErrorCode() string }
	switch {
	case errors.As(err, &apiErr):
		answer = apiErr.ErrorCode()
	case err == nil:
		answer = fmt.Sprint(aws.ToInt64(out.LastByteReceived) - aws.ToInt64(in.PartLastByte))
	}
	s.mu.Lock()
	s.calls = append(s.calls, fmt.Sprintf("%d+%d", aws.ToInt64(in.PartFirstByte), len(in.LayerPartBlob)), answer)
	s.mu.Unlock()
	return out, err
}

func (s *spyAPI) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.calls)
}

// countingAPI records the sizes of availability batches.
type countingAPI struct {
	PushAPI
	mu    sync.Mutex
	sizes []int
}

func (c *countingAPI) BatchCheckLayerAvailability(ctx context.Context, in *ecr.BatchCheckLayerAvailabilityInput,
	opts ...func(*ecr.Options)) (*ecr.BatchCheckLayerAvailabilityOutput, error) {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(in.LayerDigests))
	c.mu.Unlock()
	return c.PushAPI.BatchCheckLayerAvailability(ctx, in, opts...)
}

func (c *countingAPI) batches() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.sizes...)
}

// TestPushDigestMismatch: content that does not hash to the digest given is
// sent (the engine does not hash it) and refused by ECR at
// CompleteLayerUpload: the push fails with a *DigestMismatchError saying ECR
// refused it and naming the digest given, no layer exists in ECR under
// either digest, and no resume record is left to resume the refused upload.
func TestPushDigestMismatch(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	blob, content := randomBlob(5*mib+9, 3)
	if raceEnabled {
		blob, content = randomBlob(1009, 3)
	}
	other, _ := randomBlob(10, 4)
	blob.Digest = other.Digest
	store := &ResumeStore{Dir: t.TempDir()}
	_, err := (&Pusher{API: client(srv, 1), Resume: store}).PushBlob(context.Background(), pushTarget, blob, nil)
	var mismatch *DigestMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("want a *DigestMismatchError, got %v", err)
	}
	if mismatch.Want != other.Digest || !mismatch.ByECR || mismatch.Got != "" || mismatch.Size != blob.Size {
		t.Fatalf("mismatch %+v", mismatch)
	}
	var invalid *types.InvalidLayerException
	if !errors.As(err, &invalid) {
		t.Fatalf("the error does not carry ECR's refusal: %v", err)
	}
	if !strings.Contains(err.Error(), other.Digest) || !strings.Contains(err.Error(), "ECR refused") {
		t.Fatalf("the message must name the digest given and say ECR refused it: %v", err)
	}
	if n := countOps(srv, 0, "CompleteLayerUpload"); n != 1 {
		t.Fatalf("%d CompleteLayerUpload requests; want the one ECR refused", n)
	}
	if isAvailable(t, srv, other.Digest) || isAvailable(t, srv, digestOf(content)) {
		t.Fatal("a layer exists after the refusal")
	}
	if recordExists(store, other.Digest) {
		t.Fatal("a resume record of the refused upload is left")
	}
}

// TestDigestMismatchErrorNamesBothDigestsWhenKnown: a mismatch found with
// the bytes' own digest (as from a caller that hashed them) names both.
func TestDigestMismatchErrorNamesBothDigestsWhenKnown(t *testing.T) {
	err := &DigestMismatchError{Want: "sha256:" + strings.Repeat("a", 64), Got: "sha256:" + strings.Repeat("b", 64), Size: 3}
	if !strings.Contains(err.Error(), err.Want) || !strings.Contains(err.Error(), err.Got) {
		t.Fatal(err)
	}
}

func TestPushComputesUnknownDigests(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	blob, _ := randomBlob(1011, 5)
	want := blob.Digest
	blob.Digest = ""
	res, err := (&Pusher{API: client(srv, 1)}).Push(context.Background(), pushTarget, []Blob{blob})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Digest != want || !isAvailable(t, srv, want) {
		t.Fatalf("result %+v", res[0])
	}
}

func TestPushRefusesBadInputBeforeAnyRequest(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	good, _ := randomBlob(10, 1)
	for name, blob := range map[string]Blob{
		"negative size":   {Size: -1, Content: bytes.NewReader(nil)},
		"no content":      {Size: 3},
		"digest form":     {Digest: "sha256:abc", Size: 10, Content: good.Content},
		"digest algo":     {Digest: "sha512:" + strings.Repeat("a", 64), Size: 10, Content: good.Content},
		"digest no colon": {Digest: strings.Repeat("a", 71), Size: 10, Content: good.Content},
	} {
		_, err := (&Pusher{API: client(srv, 1)}).Push(context.Background(), pushTarget, []Blob{good, blob})
		var invalid *InvalidBlobError
		if !errors.As(err, &invalid) || invalid.Index != 1 {
			t.Errorf("%s: want an *InvalidBlobError for blob 1, got %v", name, err)
		}
	}
	_, err := (&Pusher{API: client(srv, 1)}).Push(context.Background(), pushTarget,
		[]Blob{good, {Digest: good.Digest, Size: 11, Content: good.Content}})
	var invalid *InvalidBlobError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "size 11") {
		t.Errorf("one digest with two sizes: got %v", err)
	}
	if _, err := (&Pusher{API: client(srv, 1)}).Push(context.Background(), Target{Repository: "Bad"}, []Blob{good}); err == nil {
		t.Error("a bad target was accepted")
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests reached the endpoint", n)
	}
}

func TestPushRefusesUnusablePartSizes(t *testing.T) {
	blob, _ := randomBlob(8*mib, 2)
	for _, tc := range []struct {
		partSize int64
		want     string
	}{
		{0, "must be positive"},
		{-5, "must be positive"},
		{MaxPartSize + 1, "at most 20,971,520 bytes"},
		{4 * mib, "refuses parts under 5,242,880 bytes"},
	} {
		t.Run(fmt.Sprint(tc.partSize), func(t *testing.T) {
			// Answered by ECR: refused after InitiateLayerUpload, before any part.
			srv := pushEndpoint(t, tc.partSize)
			_, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, blob, nil)
			var ps *PartSizeError
			if !errors.As(err, &ps) || ps.PartSize != tc.partSize || ps.HandedIn ||
				!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), commas(tc.partSize)) {
				t.Fatalf("want a *PartSizeError saying %q, got %v", tc.want, err)
			}
			if n := countOps(srv, 0, "UploadLayerPart"); n != 0 {
				t.Fatalf("%d parts sent", n)
			}
			// Handed in: refused before any request.
			srv = pushEndpoint(t, 5*mib)
			up := &Upload{ID: "0f0e0d0c-0b0a-4908-8706-050403020100", PartSize: tc.partSize}
			_, err = (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, blob, up)
			if !errors.As(err, &ps) || !ps.HandedIn || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handed in: want a *PartSizeError saying %q, got %v", tc.want, err)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Fatalf("handed in: %d requests sent", n)
			}
		})
	}
	// A part size under 5 MiB is fine for a blob that fits in one part.
	srv := pushEndpoint(t, 4*mib)
	small, _ := randomBlob(3*mib, 9)
	if _, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, small, nil); err != nil {
		t.Fatal(err)
	}
}

// noParts refuses to send any part: a test that must send none ends at the
// first instead of sending gigabytes.
type noParts struct{ PushAPI }

func (noParts) UploadLayerPart(context.Context, *ecr.UploadLayerPartInput, ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error) {
	return nil, errors.New("the test allows no part to be sent")
}

// zeros is a ReaderAt of zero bytes of any size, taking no memory.
type zeros struct{}

func (zeros) ReadAt(p []byte, _ int64) (int, error) {
	clear(p)
	return len(p), nil
}

func TestPushRefusesMoreThan4200Parts(t *testing.T) {
	const part = 5 * mib
	huge := Blob{Name: "huge", Digest: "sha256:" + strings.Repeat("0", 64), Size: MaxParts*part + 1, Content: zeros{}}

	srv := pushEndpoint(t, part)
	up := &Upload{ID: "0f0e0d0c-0b0a-4908-8706-050403020100", PartSize: part}
	_, err := (&Pusher{API: noParts{client(srv, 1)}}).PushBlob(context.Background(), pushTarget, huge, up)
	var tooMany *TooManyPartsError
	if !errors.As(err, &tooMany) || tooMany.Parts != MaxParts+1 {
		t.Fatalf("want a *TooManyPartsError, got %v", err)
	}
	for _, want := range []string{"22,020,096,001 bytes", "ceil(22020096001 / 5242880) = 4,201 parts", "at most 4,200 parts",
		"4,200 x 5,242,880 = 22,020,096,000 bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("handed in: %d requests sent", n)
	}

	// With ECR's part size, the blob is refused after InitiateLayerUpload,
	// before any part (noParts fails the push at once if one were sent).
	_, err = (&Pusher{API: noParts{client(srv, 1)}}).PushBlob(context.Background(), pushTarget, huge, nil)
	if !errors.As(err, &tooMany) {
		t.Fatalf("want a *TooManyPartsError, got %v", err)
	}
	if n := countOps(srv, 0, "UploadLayerPart"); n != 0 {
		t.Fatalf("%d parts sent", n)
	}
}

func TestCheckPartSize(t *testing.T) {
	for _, tc := range []struct {
		blob, part int64
		ok         bool
	}{
		{0, 1, true},
		{1, 1, true},
		{2, 1, false},
		{5 * mib, 5 * mib, true},
		{5*mib + 1, 5*mib - 1, false},
		{MaxParts * MaxPartSize, MaxPartSize, true},
		{MaxParts*MaxPartSize + 1, MaxPartSize, false},
		{1 << 62, MaxPartSize, false},
		{10, MaxPartSize + 1, false},
		{10, 0, false},
	} {
		if err := CheckPartSize(tc.blob, tc.part, false); (err == nil) != tc.ok {
			t.Errorf("blob %d, part %d: %v", tc.blob, tc.part, err)
		}
	}
}

func TestPushExpiredUploadMidPush(t *testing.T) {
	const part = 5 * mib
	srv := pushEndpoint(t, part)
	blob, _ := randomBlob(part+5, 11)
	var once sync.Once
	p := &Pusher{API: client(srv, 1), Progress: func(pr Progress) {
		if pr.Phase == PhaseUploading && pr.Done >= part {
			once.Do(func() {
				id := srv.RequestsFor("InitiateLayerUpload")[0].Output["uploadId"].(string) //nolint:forcetypeassert // test
				srv.ExpireUpload(id)
			})
		}
	}}
	res, err := p.PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploads != 2 || countOps(srv, 0, "InitiateLayerUpload") != 2 {
		t.Fatalf("want a second upload after the first expired: %+v", res)
	}
	parts := partsSent(t, srv, 0)
	var notFound int
	for _, p := range parts {
		if p.errorCode == "UploadNotFoundException" {
			notFound++
		}
	}
	if notFound != 1 || acceptedBytes(parts) != part+blob.Size {
		t.Fatalf("parts %+v", parts)
	}
	if !isAvailable(t, srv, blob.Digest) {
		t.Fatal("not available")
	}
}

// TestPushResumesAfterInvalidLayerPart has the endpoint answer
// InvalidLayerPartException claiming less than it holds (byte 17, inside the
// first part), then more (inside the part it has not received): the push
// must follow each claim, be corrected by the endpoint's real answer, and
// restore the running digest at every point (the endpoint checks it).
// TestResumeAtOffsets covers more offsets against the fake ECR.
func TestPushResumesAfterInvalidLayerPart(t *testing.T) {
	const part = 5 * mib
	srv := pushEndpoint(t, part)
	blob, content := randomBlob(part+321, 21)
	invalid := func(last int64) ecrlocal.Fault {
		return ecrlocal.Fault{Code: "InvalidLayerPartException", Message: "injected",
			Extra: map[string]any{"lastValidByteReceived": last}}
	}
	var once sync.Once
	spy := &spyAPI{PushAPI: client(srv, 1)}
	p := &Pusher{API: spy, Progress: func(pr Progress) {
		if pr.Phase == PhaseUploading && pr.Done == part {
			once.Do(func() {
				srv.InjectFault("UploadLayerPart", invalid(17))
				srv.InjectFault("UploadLayerPart", invalid(part+77))
			})
		}
	}}
	res, err := p.PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploads != 1 || !isAvailable(t, srv, blob.Digest) {
		t.Fatalf("result %+v", res)
	}
	storedIs(t, srv, blob.Digest, content)
	want := fmt.Sprintf("[0+%d 0 %d+321 InvalidLayerPartException 18+%d InvalidLayerPartException "+
		"%d+243 InvalidLayerPartException %d+321 0]", part, part, part, part+78, part)
	if got := spy.String(); got != want {
		t.Fatalf("parts sent (first byte+size, error or last byte received):\n got %s\nwant %s", got, want)
	}
}

func TestPushGivesUpWhenECRRefusesWithoutProgress(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Code: "InvalidLayerPartException", Times: 100})
	blob, _ := randomBlob(100, 2)
	_, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, blob, nil)
	var stuck *NoProgressError
	if !errors.As(err, &stuck) || stuck.Attempts != maxStalls {
		t.Fatalf("want a *NoProgressError, got %v", err)
	}
	if n := srv.ArrivalsFor("UploadLayerPart"); n != maxStalls {
		t.Fatalf("want %d parts sent, got %d", maxStalls, n)
	}
}

func TestPushGivesUpWhenUploadsKeepVanishing(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Code: "UploadNotFoundException", Times: 100})
	blob, _ := randomBlob(10, 2)
	_, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, blob, nil)
	var stuck *NoProgressError
	if !errors.As(err, &stuck) || stuck.Operation != "UploadLayerPart" {
		t.Fatalf("want a *NoProgressError, got %v", err)
	}
	if n := countOps(srv, 0, "InitiateLayerUpload"); n != maxRestarts+1 {
		t.Fatalf("want %d uploads, got %d", maxRestarts+1, n)
	}
}

// TestPushPartFaultsWithinAndBeyondTheRetryBudget injects each fault on
// UploadLayerPart, fewer times than the client attempts (the push must
// succeed) and as many (it must fail, saying which call, how many attempts
// and the last error).
func TestPushPartFaultsWithinAndBeyondTheRetryBudget(t *testing.T) {
	const attempts = 3
	for _, tc := range []struct {
		fault ecrlocal.Fault
		kind  Kind
	}{
		{ecrlocal.Fault{Code: "ThrottlingException"}, KindThrottled},
		{ecrlocal.Fault{Code: "ServerException"}, KindServerFault},
		{ecrlocal.Fault{Kind: ecrlocal.FaultResetMidBody}, KindUnreachable},
		{ecrlocal.Fault{Kind: ecrlocal.FaultDropConnection}, KindUnreachable},
		{ecrlocal.Fault{Kind: ecrlocal.FaultTruncatedResponse}, KindUnreadable},
	} {
		t.Run(tc.fault.Kind.String()+"/"+tc.fault.Code, func(t *testing.T) {
			srv := pushEndpoint(t, 5*mib)
			blob, _ := randomBlob(1000, 8)
			f := tc.fault
			f.Times = attempts - 1
			srv.InjectFault("UploadLayerPart", f)
			p := &Pusher{API: client(srv, attempts)}
			if _, err := p.PushBlob(context.Background(), pushTarget, blob, nil); err != nil {
				t.Fatalf("%d faults within %d attempts: %v", attempts-1, attempts, err)
			}
			if !isAvailable(t, srv, blob.Digest) {
				t.Fatal("not available")
			}

			other, _ := randomBlob(1000, 9)
			f.Times = attempts
			srv.InjectFault("UploadLayerPart", f)
			_, err := p.PushBlob(context.Background(), pushTarget, other, nil)
			var op *OperationError
			if !errors.As(err, &op) || op.Operation != "UploadLayerPart" {
				t.Fatalf("want an UploadLayerPart *OperationError, got %v", err)
			}
			facts, ok := FactsOf(err)
			if !ok || facts.Kind != tc.kind || facts.Attempts != attempts || facts.Operation != "UploadLayerPart" {
				t.Fatalf("facts %+v (ok %v), want kind %v after %d attempts", facts, ok, tc.kind, attempts)
			}
			if isAvailable(t, srv, other.Digest) {
				t.Fatal("a failed push completed the layer")
			}
		})
	}
}

func TestPushCancellationMidPart(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Kind: ecrlocal.FaultHang, Times: 100})
	var blobs []Blob
	for i := range 6 {
		b, _ := randomBlob(64<<10+i, uint64(i))
		blobs = append(blobs, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var canceledAt atomic.Int64
	go func() {
		for srv.ArrivalsFor("UploadLayerPart") < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		canceledAt.Store(time.Now().UnixNano())
		cancel()
	}()
	p := &Pusher{API: client(srv, 3), Parallelism: 3}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Push(ctx, pushTarget, blobs)
		errc <- err
	}()
	var err error
	select {
	case err = <-errc:
	case <-time.After(20 * time.Second):
		t.Fatal("Push did not return after the cancellation")
	}
	took := time.Since(time.Unix(0, canceledAt.Load()))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancellation, got %v", err)
	}
	if took > time.Second {
		t.Fatalf("Push returned %v after the cancellation", took)
	}
	if facts, ok := FactsOf(err); !ok || facts.Kind != KindCanceled {
		t.Fatalf("facts %+v (ok %v)", facts, ok)
	}
	if n := countOps(srv, 0, "CompleteLayerUpload"); n != 0 {
		t.Fatalf("%d uploads completed after the cancellation", n)
	}
}

// lacksLayers answers that the repository has none of the digests asked
// about, as when another pusher completes a layer after the check.
type lacksLayers struct{ PushAPI }

func (lacksLayers) BatchCheckLayerAvailability(_ context.Context, in *ecr.BatchCheckLayerAvailabilityInput,
	_ ...func(*ecr.Options)) (*ecr.BatchCheckLayerAvailabilityOutput, error) {
	out := &ecr.BatchCheckLayerAvailabilityOutput{}
	for _, d := range in.LayerDigests {
		out.Failures = append(out.Failures, types.LayerFailure{LayerDigest: aws.String(d),
			FailureCode: types.LayerFailureCodeMissingLayerDigest})
	}
	return out, nil
}

// TestLayerAlreadyExistsAtCompletionIsSuccess: another pusher completed the
// layer between the availability check and this push's completion; ECR
// answers LayerAlreadyExistsException, which is success.
func TestLayerAlreadyExistsAtCompletionIsSuccess(t *testing.T) {
	srv := pushEndpoint(t, 5*mib)
	blob, content := randomBlob(1000, 30)
	if _, err := (&Pusher{API: client(srv, 1)}).PushBlob(context.Background(), pushTarget, blob, nil); err != nil {
		t.Fatal(err)
	}
	res, err := (&Pusher{API: lacksLayers{client(srv, 1)}}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	complete := srv.RequestsFor("CompleteLayerUpload")
	if len(complete) != 2 || complete[1].ErrorCode != "LayerAlreadyExistsException" || res.Skipped || res.BytesSent != 1000 {
		t.Fatalf("result %+v, completions %+v", res, complete)
	}
	storedIs(t, srv, blob.Digest, content)
}
