// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// interruptAfter returns a Progress function that calls stop once, when ECR
// has acknowledged at least n bytes.
func interruptAfter(n int64, stop func()) func(Progress) {
	var once sync.Once
	return func(pr Progress) {
		if pr.Phase == PhaseUploading && pr.Done >= n {
			once.Do(stop)
		}
	}
}

func readRecord(t *testing.T, store *ResumeStore, digest string) *resumeRecord {
	t.Helper()
	b, err := os.ReadFile(store.path(pushTarget, digest))
	if err != nil {
		t.Fatal(err)
	}
	var r resumeRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func recordExists(store *ResumeStore, digest string) bool {
	_, err := os.Stat(store.path(pushTarget, digest))
	return err == nil
}

// TestResumeAcrossRuns interrupts a 60 MiB push (10 MiB under the race
// detector) after some parts with a failure the retries do not get past,
// then pushes again with the same store: the second run starts no upload,
// and sends only the bytes the endpoint does not have, counted there.
func TestResumeAcrossRuns(t *testing.T) {
	part, parts, done := int64(10*mib), 6, 3
	if raceEnabled {
		part, parts, done = 5*mib, 2, 1
	}
	srv := pushEndpoint(t, part)
	store := &ResumeStore{Dir: t.TempDir()}
	blob, content := randomBlob(parts*int(part), 60)

	// Run 1: ECR fails every attempt at the part after `done` parts.
	p := &Pusher{API: client(srv, 2), Resume: store, Progress: interruptAfter(int64(done)*part, func() {
		srv.InjectFault("UploadLayerPart", ecrlocal.Fault{Code: "ServerException", Times: 2})
	})}
	res, err := p.PushBlob(context.Background(), pushTarget, blob, nil)
	var op *OperationError
	if !errors.As(err, &op) || op.Operation != "UploadLayerPart" {
		t.Fatalf("run 1: want an UploadLayerPart failure, got %v", err)
	}
	if got := acceptedBytes(partsSent(t, srv, 0)); got != int64(done)*part {
		t.Fatalf("run 1: the endpoint accepted %d bytes, want %d", got, int64(done)*part)
	}
	rec := readRecord(t, store, blob.Digest)
	up := srv.RequestsFor("InitiateLayerUpload")[0].Output["uploadId"]
	if rec.UploadID != up || rec.LastByteReceived != int64(done)*part-1 || rec.PartSize != part ||
		rec.Size != blob.Size || rec.Repository != pushTarget.Repository || rec.Region != region || rec.Digest != blob.Digest {
		t.Fatalf("run 1: record %+v (upload %v)", rec, up)
	}
	if res.Resumed {
		t.Fatalf("run 1 resumed: %+v", res)
	}

	// Run 2, as a new process would: a new Pusher, the same store.
	before := len(srv.Requests())
	receivedBefore := srv.BytesReceived()
	p = &Pusher{API: client(srv, 2), Resume: store}
	res, err = p.PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := partsSent(t, srv, before)
	rest := blob.Size - int64(done)*part
	var all int64
	for _, s := range sent {
		all += s.size
	}
	if all != rest || acceptedBytes(sent) != rest || sent[0].first != int64(done)*part {
		t.Fatalf("run 2 sent %d bytes (%d accepted) from byte %d; want only the rest, %d bytes from %d",
			all, acceptedBytes(sent), sent[0].first, rest, int64(done)*part)
	}
	if got := srv.BytesReceived() - receivedBefore; got != rest {
		t.Fatalf("the endpoint counted %d bytes received in run 2, want %d", got, rest)
	}
	if n := countOps(srv, before, "InitiateLayerUpload"); n != 0 {
		t.Fatalf("run 2 started %d uploads", n)
	}
	if !res.Resumed || res.ResumedFrom != int64(done)*part || res.BytesSent != rest || res.Uploads != 0 || res.UploadID != up {
		t.Fatalf("run 2: %+v", res)
	}
	storedIs(t, srv, blob.Digest, content)
	if recordExists(store, blob.Digest) {
		t.Fatal("the record outlived the completed layer")
	}
	if entries, _ := os.ReadDir(store.Dir); len(entries) != 0 {
		t.Fatalf("files left in the store: %v", entries)
	}
}

// TestResumeAfterCancel interrupts by canceling the context, as Ctrl-C does.
func TestResumeAfterCancel(t *testing.T) {
	const part = 5 * mib
	srv := pushEndpoint(t, part)
	store := &ResumeStore{Dir: t.TempDir()}
	blob, _ := randomBlob(part+99, 61)
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pusher{API: client(srv, 2), Resume: store, Progress: interruptAfter(part, cancel)}
	if _, err := p.PushBlob(ctx, pushTarget, blob, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("run 1: want a cancellation, got %v", err)
	}
	held := acceptedBytes(partsSent(t, srv, 0))
	if held < part {
		t.Fatalf("run 1: the endpoint holds %d bytes", held)
	}
	before := len(srv.Requests())
	res, err := (&Pusher{API: client(srv, 2), Resume: store}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sent int64
	for _, s := range partsSent(t, srv, before) {
		sent += s.size
	}
	// The cancellation came before the next part was sent, so the record
	// says what the endpoint holds, and run 2 sends only the rest.
	if sent != blob.Size-held {
		t.Fatalf("run 2 sent %d bytes, want the %d the endpoint lacked", sent, blob.Size-held)
	}
	if !res.Resumed || countOps(srv, before, "InitiateLayerUpload") != 0 || !isAvailable(t, srv, blob.Digest) {
		t.Fatalf("run 2: %+v", res)
	}
}

// TestResumeWhenECRForgotTheUpload: between the runs the upload expired;
// the second run's first part finds it gone and the push starts afresh.
func TestResumeWhenECRForgotTheUpload(t *testing.T) {
	const part = 5 * mib
	srv := pushEndpoint(t, part)
	store := &ResumeStore{Dir: t.TempDir()}
	blob, _ := randomBlob(part+1, 62)
	ctx, cancel := context.WithCancel(context.Background())
	_, _ = (&Pusher{API: client(srv, 2), Resume: store, Progress: interruptAfter(part, cancel)}).
		PushBlob(ctx, pushTarget, blob, nil)
	rec := readRecord(t, store, blob.Digest)
	srv.ExpireUpload(rec.UploadID)

	before := len(srv.Requests())
	res, err := (&Pusher{API: client(srv, 2), Resume: store}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := partsSent(t, srv, before)
	if sent[0].errorCode != "UploadNotFoundException" || acceptedBytes(sent) != blob.Size ||
		countOps(srv, before, "InitiateLayerUpload") != 1 || res.Uploads != 1 || res.UploadID == rec.UploadID || res.Resumed {
		t.Fatalf("run 2: parts %+v, result %+v", sent, res)
	}
	if !isAvailable(t, srv, blob.Digest) || recordExists(store, blob.Digest) {
		t.Fatal("not complete")
	}
}

// TestResumeWhenTheRecordLagsECR: ECR acknowledged a part whose record was
// never written (the process died in between). The second run sends the
// recorded next part, ECR says it holds it already, and the push goes on
// after it, hashing forward from the record's state.
func TestResumeWhenTheRecordLagsECR(t *testing.T) {
	f := newFakeECR(fakePart)
	store := &ResumeStore{Dir: t.TempDir()}
	blob, _ := randomBlob(4*fakePart+5, 63)
	var saved []byte
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	p := &Pusher{API: f, Resume: store, Progress: func(pr Progress) {
		switch {
		case pr.Phase == PhaseUploading && pr.Done == fakePart:
			saved, _ = os.ReadFile(store.path(pushTarget, blob.Digest))
		case pr.Phase == PhaseUploading && pr.Done == 2*fakePart:
			once.Do(cancel)
		}
	}}
	if _, err := p.PushBlob(ctx, pushTarget, blob, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("run 1: %v", err)
	}
	if err := os.WriteFile(store.path(pushTarget, blob.Digest), saved, 0o600); err != nil {
		t.Fatal(err)
	}
	held := f.bytesReceived()
	spy := &spyAPI{PushAPI: f}
	res, err := (&Pusher{API: spy, Resume: store}).PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.has(blob.Digest) || !res.Resumed || res.ResumedFrom != fakePart || f.count("InitiateLayerUpload") != 1 {
		t.Fatalf("result %+v", res)
	}
	// One part sent in vain (ECR had it), then only what ECR lacked.
	if got, want := res.BytesSent, fakePart+blob.Size-held; got != want {
		t.Fatalf("run 2 sent %d bytes, want %d (%s)", got, want, spy)
	}
}

// TestResumeAfterTheContentChanged: an earlier run sent the first parts of
// other content under the digest (the file changed after it was hashed, and
// was written back before this run). ECR refuses to complete the resumed
// upload; the push must not fail nor complete a wrong layer: it sends the
// whole blob again in a new upload, once. If the content is still not the
// digest's, the second refusal is the push's failure.
func TestResumeAfterTheContentChanged(t *testing.T) {
	for _, fixed := range []bool{true, false} {
		t.Run(fmt.Sprintf("content right in run 2: %v", fixed), func(t *testing.T) {
			f := newFakeECR(fakePart)
			store := &ResumeStore{Dir: t.TempDir()}
			blob, content := randomBlob(2*fakePart+5, 64)
			changed, _ := randomBlob(int(blob.Size), 65)
			ctx, cancel := context.WithCancel(context.Background())
			run1 := blob
			run1.Content = changed.Content
			_, _ = (&Pusher{API: f, Resume: store, Progress: interruptAfter(fakePart, cancel)}).PushBlob(ctx, pushTarget, run1, nil)
			if rec := readRecord(t, store, blob.Digest); rec.LastByteReceived < fakePart-1 {
				t.Fatalf("run 1 left %+v", rec)
			}

			run2 := blob
			if !fixed {
				run2.Content = changed.Content
			}
			res, err := (&Pusher{API: f, Resume: store}).PushBlob(context.Background(), pushTarget, run2, nil)
			if fixed {
				if err != nil || !f.has(blob.Digest) || res.Uploads != 1 || res.Resumed {
					t.Fatalf("result %+v, error %v", res, err)
				}
				f.mu.Lock()
				got := f.layers[blob.Digest]
				f.mu.Unlock()
				if got != int64(len(content)) {
					t.Fatalf("layer of %d bytes", got)
				}
			} else {
				var mismatch *DigestMismatchError
				if !errors.As(err, &mismatch) || !mismatch.ByECR || mismatch.Want != blob.Digest || f.has(blob.Digest) {
					t.Fatalf("result %+v, error %v", res, err)
				}
				if res.Uploads != 1 || f.count("CompleteLayerUpload") != 2 {
					t.Fatalf("%d new uploads, %d completions; want 1 restart, then the failure", res.Uploads, f.count("CompleteLayerUpload"))
				}
			}
			if recordExists(store, blob.Digest) {
				t.Fatal("a record is left")
			}
		})
	}
}

// TestResumeRecordsWithAHashStateAreUsed: records written when the engine
// kept a sha256 state in them are still read; the state is ignored.
func TestResumeRecordsWithAHashStateAreUsed(t *testing.T) {
	for name, state := range map[string][]byte{"a state": nil, "garbage": []byte("garbage")} {
		t.Run(name, func(t *testing.T) {
			f := newFakeECR(fakePart)
			store := &ResumeStore{Dir: t.TempDir()}
			blob, content := randomBlob(2*fakePart+5, 66)
			ctx, cancel := context.WithCancel(context.Background())
			_, _ = (&Pusher{API: f, Resume: store, Progress: interruptAfter(fakePart, cancel)}).PushBlob(ctx, pushTarget, blob, nil)
			rec := readRecord(t, store, blob.Digest)
			if rec.SHA256State != nil {
				t.Fatal("a hash state was written")
			}
			if state == nil {
				h := sha256.New()
				h.Write(content[:rec.LastByteReceived+1])
				state, _ = marshalState(h)
			}
			rec.SHA256State = state
			if err := store.save(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			res, err := (&Pusher{API: f, Resume: store}).PushBlob(context.Background(), pushTarget, blob, nil)
			if err != nil || !f.has(blob.Digest) || !res.Resumed || res.ResumedFrom != rec.LastByteReceived+1 || res.Uploads != 0 {
				t.Fatalf("result %+v, error %v", res, err)
			}
		})
	}
}

// TestUnusableRecordsAreIgnored: a record that is not JSON, of another
// version or for other content is no reason to fail, nor to resume.
func TestUnusableRecordsAreIgnored(t *testing.T) {
	blob, _ := randomBlob(1000, 66)
	for name, content := range map[string]string{
		"not JSON":      "{half a rec",
		"other version": `{"version": 99}`,
		"other size": `{"version":1,"repository":"team/app","region":"eu-west-1","digest":"` + blob.Digest +
			`","size":5,"uploadId":"00000000-0000-4000-8000-000000000001","partSize":10485760,"lastByteReceived":1,"sha256State":"AAAA"}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeECR(fakePart)
			store := &ResumeStore{Dir: t.TempDir()}
			if err := os.WriteFile(store.path(pushTarget, blob.Digest), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := (&Pusher{API: f, Resume: store}).PushBlob(context.Background(), pushTarget, blob, nil)
			if err != nil || res.Resumed || !f.has(blob.Digest) || recordExists(store, blob.Digest) {
				t.Fatalf("result %+v, error %v", res, err)
			}
		})
	}
}

// TestRecordsAreKeyedByRepositoryRegistryRegionAndDigest: the same blob
// pushed to another repository, registry or region does not use the record.
func TestRecordsAreKeyedByRepositoryRegistryRegionAndDigest(t *testing.T) {
	store := &ResumeStore{Dir: t.TempDir()}
	blob, _ := randomBlob(10, 1)
	paths := map[string]bool{}
	for _, target := range []Target{
		pushTarget,
		{Repository: "team/other", Region: region},
		{Repository: pushTarget.Repository, Region: "us-east-1"},
		{Repository: pushTarget.Repository, Region: region, RegistryID: "210987654321"},
	} {
		paths[store.path(target, blob.Digest)] = true
	}
	other, _ := randomBlob(10, 2)
	paths[store.path(pushTarget, other.Digest)] = true
	if len(paths) != 5 {
		t.Fatalf("%d distinct record paths for 5 keys", len(paths))
	}
}

func TestDefaultResumeDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/cache-for-test")
	t.Setenv("HOME", "/tmp/home-for-test")
	store, err := NewResumeStore("")
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := os.UserCacheDir()
	if want := filepath.Join(cache, "terraform-provider-ecr", "uploads"); store.Dir != want {
		t.Fatalf("got %s, want %s", store.Dir, want)
	}
	if store, _ := NewResumeStore("/elsewhere"); store.Dir != "/elsewhere" {
		t.Fatalf("got %s", store.Dir)
	}
}

// TestUnwritableStoreDoesNotFailThePush: records are hints; a store that
// cannot be written is reported in the result, not as a failed push.
func TestUnwritableStoreDoesNotFailThePush(t *testing.T) {
	f := newFakeECR(5 * mib)
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	blob, _ := randomBlob(5*mib+1, 67)
	res, err := (&Pusher{API: f, Resume: &ResumeStore{Dir: filepath.Join(file, "uploads")}}).
		PushBlob(context.Background(), pushTarget, blob, nil)
	if err != nil || res.RecordError == nil || !f.has(blob.Digest) {
		t.Fatalf("result %+v, error %v", res, err)
	}
}
