// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// pusher pushes layers part by part with the SDK's client, for the tests.
type pusher struct {
	t      *testing.T
	client *ecr.Client
	repo   string
}

func (p pusher) initiate() string {
	p.t.Helper()
	out, err := p.client.InitiateLayerUpload(context.Background(), &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(p.repo)})
	if err != nil {
		p.t.Fatal(err)
	}
	return aws.ToString(out.UploadId)
}

func (p pusher) part(id string, first int64, blob []byte) error {
	_, err := p.client.UploadLayerPart(context.Background(), &ecr.UploadLayerPartInput{RepositoryName: aws.String(p.repo),
		UploadId: aws.String(id), LayerPartBlob: blob, PartFirstByte: aws.Int64(first), PartLastByte: aws.Int64(first + int64(len(blob)) - 1)})
	return err
}

func (p pusher) complete(id, digest string) error {
	_, err := p.client.CompleteLayerUpload(context.Background(), &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(p.repo),
		UploadId: aws.String(id), LayerDigests: []string{digest}})
	return err
}

// push sends blob in parts of the smallest size ECR takes and completes it.
func (p pusher) push(blob []byte) {
	const partSize = minPartSize
	p.t.Helper()
	id := p.initiate()
	for first := 0; first < len(blob); first += partSize {
		if err := p.part(id, int64(first), blob[first:min(first+partSize, len(blob))]); err != nil {
			p.t.Fatal(err)
		}
	}
	if err := p.complete(id, digestOf(blob)); err != nil {
		p.t.Fatal(err)
	}
}

func randomBytes(n int, seed uint64) []byte {
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

func readBlob(t *testing.T, srv *Server, repo, digest string) []byte {
	t.Helper()
	rc, size, err := srv.Blob(testRegion, "", repo, digest)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Fatalf("Blob said %d bytes, read %d", size, len(b))
	}
	return b
}

func TestLayersAreStoredOnDiskByteForByte(t *testing.T) {
	parent := t.TempDir()
	srv, err := Start("127.0.0.1:0", Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Dir: parent})
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateRepository(testRegion, "", "disk/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "disk/app"}
	layer := randomBytes(2*minPartSize+12345, 1)
	p.push(layer)

	if got := readBlob(t, srv, "disk/app", digestOf(layer)); !bytes.Equal(got, layer) {
		t.Fatal("the stored layer differs from what was pushed")
	}
	path, ok := srv.BlobPath(testRegion, "", "disk/app", digestOf(layer))
	if !ok || !filepath.IsAbs(path) || !isUnder(path, parent) {
		t.Fatalf("BlobPath: %q %v, want a file under %s", path, ok, parent)
	}
	if n := srv.BytesReceived(); n != int64(len(layer)) {
		t.Errorf("BytesReceived: want %d, got %d", len(layer), n)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Fatalf("Close left %v in %s", entries, parent)
	}
}

func isUnder(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && !strings.HasPrefix(rel, "..")
}

// TestARefusedPartLeavesNoTrace: a part refused for its offset changes
// neither the file nor the digest, so the upload resumes from
// lastValidByteReceived and completes with the right bytes.
func TestARefusedPartLeavesNoTrace(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "resume/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "resume/app"}
	layer := randomBytes(minPartSize+100, 2)
	id := p.initiate()
	if err := p.part(id, 0, layer[:minPartSize]); err != nil {
		t.Fatal(err)
	}
	err := p.part(id, 0, layer[:minPartSize]) // sent again, as after a lost answer
	var invalid *types.InvalidLayerPartException
	if !errors.As(err, &invalid) || aws.ToInt64(invalid.LastValidByteReceived) != minPartSize-1 {
		t.Fatalf("want InvalidLayerPartException at %d, got %v", minPartSize-1, err)
	}
	if err := p.part(id, minPartSize, layer[minPartSize:]); err != nil {
		t.Fatal(err)
	}
	if err := p.complete(id, digestOf(layer)); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, srv, "resume/app", digestOf(layer)); !bytes.Equal(got, layer) {
		t.Fatal("the stored layer differs from what was pushed")
	}
	if got, want := srv.BytesReceivedFor(id), int64(2*minPartSize+100); got != want {
		t.Errorf("BytesReceivedFor counts refused parts too: want %d, got %d", want, got)
	}
	if got, want := srv.BytesReceivedIn(testRegion, "", "resume/app"), int64(2*minPartSize+100); got != want {
		t.Errorf("BytesReceivedIn: want %d, got %d", want, got)
	}
}

// TestDeletedLayersAreGone simulates drift: a layer removed at the endpoint
// is missing for BatchCheckLayerAvailability and can be pushed again, while
// the same digest in another repository stays.
func TestDeletedLayersAreGone(t *testing.T) {
	srv := startServer(t)
	client := sdkClient(srv, testAccessKey, testSecretKey)
	for _, repo := range []string{"drift/a", "drift/b"} {
		srv.CreateRepository(testRegion, "", repo)
	}
	layer := []byte("a small layer")
	pusher{t, client, "drift/a"}.push(layer)
	pusher{t, client, "drift/b"}.push(layer)

	if !srv.DeleteLayer(testRegion, "", "drift/a", digestOf(layer)) {
		t.Fatal("DeleteLayer did not find the layer")
	}
	check := func(repo string) bool {
		out, err := client.BatchCheckLayerAvailability(context.Background(), &ecr.BatchCheckLayerAvailabilityInput{
			RepositoryName: aws.String(repo), LayerDigests: []string{digestOf(layer)}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Layers) == 1
	}
	if check("drift/a") || !check("drift/b") {
		t.Fatalf("after deleting from drift/a: available in a=%v, b=%v", check("drift/a"), check("drift/b"))
	}
	if _, _, err := srv.Blob(testRegion, "", "drift/a", digestOf(layer)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Blob of a deleted layer: want fs.ErrNotExist, got %v", err)
	}
	if got := readBlob(t, srv, "drift/b", digestOf(layer)); !bytes.Equal(got, layer) {
		t.Fatal("deleting from one repository changed another")
	}
	pusher{t, client, "drift/a"}.push(layer) // no LayerAlreadyExistsException
	if !check("drift/a") {
		t.Fatal("the re-pushed layer is not available")
	}
}

// TestEndedUploadsLeaveNoFiles: an expired upload and the uploads of a
// deleted repository take their bytes with them.
func TestEndedUploadsLeaveNoFiles(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "ended/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "ended/app"}
	expired, dropped := p.initiate(), p.initiate()
	for _, id := range []string{expired, dropped} {
		if err := p.part(id, 0, []byte("bytes")); err != nil {
			t.Fatal(err)
		}
	}
	p.push([]byte("a layer"))
	srv.ExpireUpload(expired)
	if code := errorCode(t, p.part(expired, 5, []byte("more"))); code != "UploadNotFoundException" {
		t.Fatalf("after expiry: %s", code)
	}
	if _, err := p.client.DeleteRepository(context.Background(), &ecr.DeleteRepositoryInput{RepositoryName: aws.String("ended/app")}); err != nil {
		t.Fatal(err)
	}
	var files []string
	_ = filepath.WalkDir(srv.storeDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("files left behind: %v", files)
	}
}

func TestFaultAfterCutsAPushShort(t *testing.T) {
	srv := startServer(t)
	srv.CreateRepository(testRegion, "", "cut/app")
	p := pusher{t, sdkClient(srv, testAccessKey, testSecretKey), "cut/app"}
	srv.InjectFault("UploadLayerPart", Fault{Kind: FaultResetMidBody, After: 2})
	id := p.initiate()
	part := randomBytes(1024, 3) // small parts are taken until completion
	for i := range 3 {
		err := p.part(id, int64(i*len(part)), part)
		if (i < 2) != (err == nil) {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	if err := p.part(id, int64(2*len(part)), part); err != nil {
		t.Fatalf("the fault should be used up: %v", err)
	}
}
