// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import "sync"

// ECR's limits on a layer upload (the API model's LayerPartBlob and the
// service's documented quotas).
const (
	// MaxPartSize is the largest part UploadLayerPart accepts (the model's
	// LayerPartBlob maximum).
	MaxPartSize = 20_971_520
	// MinPartSize is the smallest part ECR accepts, except the last one
	// (LayerPartTooSmallException otherwise).
	MinPartSize = 5 * 1024 * 1024
	// MaxParts is the most parts one upload may have.
	MaxParts = 4200
)

// CheckPartSize reports whether a blob of blobSize bytes can be uploaded in
// parts of partSize bytes: a *PartSizeError or a *TooManyPartsError when it
// cannot. handedIn says where the part size came from, for the message. An
// empty blob needs no part and passes any positive size within the maximum.
func CheckPartSize(blobSize, partSize int64, handedIn bool) error {
	if partSize <= 0 || partSize > MaxPartSize || (partSize < MinPartSize && blobSize > partSize) {
		return &PartSizeError{PartSize: partSize, BlobSize: blobSize, HandedIn: handedIn}
	}
	if parts := ceilDiv(blobSize, partSize); parts > MaxParts {
		return &TooManyPartsError{BlobSize: blobSize, PartSize: partSize, Parts: parts}
	}
	return nil
}

// partBuffers hands out part buffers and takes them back, so that a push
// allocates a few part-sized buffers in all, not one per part. A buffer too
// small for the part size asked for is dropped and a new one made.
type partBuffers struct {
	pool sync.Pool
}

func (b *partBuffers) get(size int64) *[]byte {
	if v, ok := b.pool.Get().(*[]byte); ok && int64(cap(*v)) >= size {
		*v = (*v)[:size]
		return v
	}
	buf := make([]byte, size)
	return &buf
}

func (b *partBuffers) put(buf *[]byte) { b.pool.Put(buf) }
