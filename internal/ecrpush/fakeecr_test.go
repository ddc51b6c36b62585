// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// fakeECR is ECR's layer upload semantics in memory, with no HTTP, JSON or
// base64 in the way: the same rules the local endpoint keeps (parts in
// order, InvalidLayerPartException with lastValidByteReceived, 5 MiB for all
// parts but the last, 4,200 parts, the digest checked at completion,
// uploads consumed), for tests that push many parts or many cases cheaply,
// above all under the race detector, where every byte through the endpoint
// costs. Each semantic is also tested once against the local endpoint.
type fakeECR struct {
	partSize int64
	// beforePart, when set, may answer a part instead of ECR: it gets the
	// part and the upload's state, and returns a non-nil error to refuse it.
	// keep > 0 makes ECR take only the part's first keep bytes, then refuse
	// with InvalidLayerPartException.
	beforePart func(first int64, n int, held int64) (keep int64, err error)

	mu       sync.Mutex
	uploads  map[string]*fakeUpload
	layers   map[string]int64
	calls    map[string]int
	received int64 // layer bytes accepted
	nextID   int
}

type fakeUpload struct {
	h        hash.Hash
	received int64
	parts    int
	lastPart int64
	tooSmall bool
}

func newFakeECR(partSize int64) *fakeECR {
	return &fakeECR{partSize: partSize, uploads: map[string]*fakeUpload{}, layers: map[string]int64{}, calls: map[string]int{}}
}

func (f *fakeECR) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeECR) bytesReceived() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.received
}

func (f *fakeECR) BatchCheckLayerAvailability(_ context.Context, in *ecr.BatchCheckLayerAvailabilityInput,
	_ ...func(*ecr.Options)) (*ecr.BatchCheckLayerAvailabilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["BatchCheckLayerAvailability"]++
	if len(in.LayerDigests) == 0 || len(in.LayerDigests) > 100 {
		return nil, &types.InvalidParameterException{Message: aws.String("1 to 100 digests")}
	}
	out := &ecr.BatchCheckLayerAvailabilityOutput{}
	for _, d := range in.LayerDigests {
		if size, ok := f.layers[d]; ok {
			out.Layers = append(out.Layers, types.Layer{LayerDigest: aws.String(d), LayerSize: aws.Int64(size),
				LayerAvailability: types.LayerAvailabilityAvailable})
		} else {
			out.Failures = append(out.Failures, types.LayerFailure{LayerDigest: aws.String(d),
				FailureCode: types.LayerFailureCodeMissingLayerDigest})
		}
	}
	return out, nil
}

func (f *fakeECR) InitiateLayerUpload(context.Context, *ecr.InitiateLayerUploadInput,
	...func(*ecr.Options)) (*ecr.InitiateLayerUploadOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["InitiateLayerUpload"]++
	f.nextID++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.nextID)
	f.uploads[id] = &fakeUpload{h: sha256.New()}
	return &ecr.InitiateLayerUploadOutput{UploadId: aws.String(id), PartSize: aws.Int64(f.partSize)}, nil
}

func (u *fakeUpload) invalid(msg string) error {
	e := &types.InvalidLayerPartException{Message: aws.String(msg)}
	if u.received > 0 {
		e.LastValidByteReceived = aws.Int64(u.received - 1)
	}
	return e
}

func (u *fakeUpload) take(blob []byte) {
	if u.parts > 0 && u.lastPart < MinPartSize {
		u.tooSmall = true
	}
	u.h.Write(blob)
	u.received += int64(len(blob))
	u.parts++
	u.lastPart = int64(len(blob))
}

func (f *fakeECR) UploadLayerPart(ctx context.Context, in *ecr.UploadLayerPartInput,
	_ ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["UploadLayerPart"]++
	u := f.uploads[aws.ToString(in.UploadId)]
	if u == nil {
		return nil, &types.UploadNotFoundException{Message: aws.String("no such upload")}
	}
	first, last, blob := aws.ToInt64(in.PartFirstByte), aws.ToInt64(in.PartLastByte), in.LayerPartBlob
	if f.beforePart != nil {
		keep, err := f.beforePart(first, len(blob), u.received)
		if err != nil {
			return nil, err
		}
		if keep > 0 && first == u.received && keep < int64(len(blob)) {
			u.take(blob[:keep])
			f.received += keep
			return nil, u.invalid("the part arrived incomplete")
		}
	}
	switch {
	case first != u.received:
		return nil, u.invalid(fmt.Sprintf("part starts at %d, upload expects %d", first, u.received))
	case len(blob) == 0 || last-first+1 != int64(len(blob)):
		return nil, u.invalid("bad part range")
	case len(blob) > MaxPartSize:
		return nil, &types.InvalidParameterException{Message: aws.String("part too large")}
	case u.parts >= MaxParts:
		return nil, &types.LimitExceededException{Message: aws.String("too many parts")}
	}
	u.take(blob)
	f.received += int64(len(blob))
	return &ecr.UploadLayerPartOutput{LastByteReceived: aws.Int64(u.received - 1), UploadId: in.UploadId}, nil
}

func (f *fakeECR) CompleteLayerUpload(_ context.Context, in *ecr.CompleteLayerUploadInput,
	_ ...func(*ecr.Options)) (*ecr.CompleteLayerUploadOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["CompleteLayerUpload"]++
	id := aws.ToString(in.UploadId)
	u := f.uploads[id]
	switch {
	case u == nil:
		return nil, &types.UploadNotFoundException{Message: aws.String("no such upload")}
	case u.received == 0:
		return nil, &types.EmptyUploadException{Message: aws.String("no parts")}
	case u.tooSmall:
		return nil, &types.LayerPartTooSmallException{Message: aws.String("part under 5 MiB")}
	}
	got := "sha256:" + hex.EncodeToString(u.h.Sum(nil))
	if len(in.LayerDigests) != 1 || in.LayerDigests[0] != got {
		return nil, &types.InvalidLayerException{Message: aws.String("digest " + got + " does not match")}
	}
	delete(f.uploads, id)
	if _, ok := f.layers[got]; ok {
		return nil, &types.LayerAlreadyExistsException{Message: aws.String("exists")}
	}
	f.layers[got] = u.received
	return &ecr.CompleteLayerUploadOutput{LayerDigest: aws.String(got), UploadId: in.UploadId}, nil
}

func (f *fakeECR) has(digest string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.layers[digest]
	return ok
}
