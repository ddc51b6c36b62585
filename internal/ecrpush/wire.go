// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync/atomic"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// streamParts makes a client send UploadLayerPart's layerPartBlob as a
// stream, base64-encoded as it is read, instead of the SDK's way: the SDK
// encodes the whole part into a new buffer, appends that to a growing one and
// copies the result (about four part sizes allocated per part). Streamed, a
// part costs no memory beyond the caller's buffer. The body is seekable, so
// the SigV4 payload hash and retries read it again from the start.
//
// It is a per-call option: it wraps the client's protocol for this call only
// and leaves every other operation, and the shared client, alone. The JSON
// around the blob is still written by the SDK's own serializer.
func streamParts(o *ecr.Options) { streamPart(nil)(o) }

// streamPart is streamParts with the SigV4 payload hash of the body begun
// in advance (see presign): the signer then hashes only the few bytes after
// the blob instead of the whole base64 body, so that this work is done by
// the goroutine that reads the next part, not by the one that sends.
func streamPart(pre *presigned) func(*ecr.Options) {
	return func(o *ecr.Options) {
		if o.Protocol == nil {
			return
		}
		o.Protocol = partProtocol{ClientProtocol: o.Protocol, pre: pre}
		if pre != nil {
			o.APIOptions = append(o.APIOptions, usePresignedHash)
		}
	}
}

// blobHead opens an UploadLayerPart body. The blob goes first, so that the
// hash of everything up to its end can be computed before the request (and
// its other members) exist.
const blobHead = `{"layerPartBlob":"`

// presigned is the running sha256 of blobHead + base64(blob) + `"` for one
// part: the SigV4 payload hash of its request, but for the members after the
// blob.
type presigned struct {
	// blob is the LayerPartBlob it was computed for: the serializer knows
	// the engine's own part by this slice's memory and length.
	blob []byte
	// encoded, when not nil, is the part's base64 text, the only form of
	// its bytes the reader kept (see presignEncoded): blob is then only a
	// placeholder (it overlaps encoded), and the body streams encoded.
	encoded []byte
	state   []byte // sha256 state, binary-marshaled
	// used is set when a request was serialized with it: an API that does
	// not serialize (a fake, in tests) never sets it, and the engine stops
	// presigning for it.
	used atomic.Bool
	// matched is set when the request serialized was handed blob itself,
	// not a copy (a wrapper's): the engine may then keep later parts of the
	// blob in base64 only.
	matched atomic.Bool
}

// errPartCopied is the serializer's answer, before anything is sent, to a
// part kept in base64 only (presigned.encoded) but handed in as another
// slice than the engine's placeholder: a wrapper copied or changed
// LayerPartBlob, which held no content bytes. The engine reads the part again
// into a plain buffer and sends that (see blobPush.pipeline).
var errPartCopied = errors.New("the part was kept in base64 only, but a wrapper of the client copied its LayerPartBlob")

// presign computes a part's presigned hash, encoding the blob through
// scratch (a multiple of 4 bytes long) a piece at a time.
func presign(blob, scratch []byte) (*presigned, error) {
	h := sha256.New()
	h.Write([]byte(blobHead))
	step := len(scratch) / 4 * 3
	for i := 0; i < len(blob); i += step {
		src := blob[i:min(i+step, len(blob))]
		n := base64.StdEncoding.EncodedLen(len(src))
		base64.StdEncoding.Encode(scratch[:n], src)
		h.Write(scratch[:n])
	}
	h.Write([]byte{'"'})
	state, err := marshalState(h)
	if err != nil {
		return nil, err
	}
	return &presigned{blob: blob, state: state}, nil
}

// marshalState is a running sha256's state, to restore it later. Go's
// crypto/sha256 implements encoding.BinaryMarshaler (about 100 bytes).
func marshalState(h hash.Hash) ([]byte, error) {
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return nil, errors.New("the sha256 implementation cannot save its state")
	}
	return m.MarshalBinary()
}

// presignEncoded reads a part (n bytes of content at off; the blob is size
// bytes) and keeps only its base64 text, in enc (EncodedLen(n) bytes): it
// reads chunk bytes at a time (a multiple of 3), encodes them into their
// place in enc and hashes that text while it is in cache, so that the part is
// encoded once and hashed once. The presigned hash's blob is enc[:n], a
// placeholder with no content bytes.
func presignEncoded(content io.ReaderAt, off, n, size int64, enc, chunk []byte) (*presigned, error) {
	if int64(len(enc)) != int64(base64.StdEncoding.EncodedLen(int(n))) || len(chunk) < 3 {
		return nil, fmt.Errorf("presignEncoded: %d bytes for the base64 of %d, chunk of %d", len(enc), n, len(chunk))
	}
	h := sha256.New()
	h.Write([]byte(blobHead))
	step := int64(len(chunk) / 3 * 3)
	for done := int64(0); done < n; {
		m := min(step, n-done)
		if err := readFull(content, chunk[:m], off+done, size); err != nil {
			return nil, err
		}
		text := enc[done/3*4:][:base64.StdEncoding.EncodedLen(int(m))]
		base64.StdEncoding.Encode(text, chunk[:m])
		h.Write(text)
		done += m
	}
	h.Write([]byte{'"'})
	state, err := marshalState(h)
	if err != nil {
		return nil, err
	}
	return &presigned{blob: enc[:n], encoded: enc, state: state}, nil
}

// owns reports whether blob is the slice p was computed for: the same
// memory, the same length.
func (p *presigned) owns(blob []byte) bool {
	return len(p.blob) == len(blob) && len(blob) > 0 && &p.blob[0] == &blob[0]
}

// payloadHash finishes the presigned hash with the body's tail, or returns
// "" when it was computed for other bytes than blob (a wrapper changed the
// part): the signer then hashes the body itself.
func (p *presigned) payloadHash(blob, tail []byte) string {
	if p == nil {
		return ""
	}
	p.used.Store(true)
	if !p.owns(blob) {
		return ""
	}
	p.matched.Store(true)
	h := sha256.New()
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok || u.UnmarshalBinary(p.state) != nil {
		return ""
	}
	h.Write(tail)
	return hex.EncodeToString(h.Sum(nil))
}

// usePresignedHash hands a streamed part's presigned payload hash to the
// SigV4 signer, which then skips reading the body to hash it.
func usePresignedHash(stack *middleware.Stack) error {
	payloadHashID := (*v4.ComputePayloadSHA256)(nil).ID()
	if _, ok := stack.Finalize.Get(payloadHashID); !ok {
		return nil
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("ECRPresignedPartHash",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
			middleware.FinalizeOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				if body, ok := req.GetStream().(*base64Body); ok && body.payloadHash != "" {
					ctx = v4.SetPayloadHash(ctx, body.payloadHash)
				}
			}
			return next.HandleFinalize(ctx, in)
		}), payloadHashID, middleware.Before)
}

type partProtocol struct {
	smithyhttp.ClientProtocol
	pre *presigned
}

func (p partProtocol) SerializeRequest(ctx context.Context, schema *smithy.OperationSchema, in smithy.Serializable,
	req *smithyhttp.Request) error {
	part, ok := in.(*ecr.UploadLayerPartInput)
	if !ok || part.LayerPartBlob == nil {
		return p.ClientProtocol.SerializeRequest(ctx, schema, in, req)
	}
	rest := *part
	rest.LayerPartBlob = nil
	if err := p.ClientProtocol.SerializeRequest(ctx, schema, &rest, req); err != nil {
		return err
	}
	var members []byte
	if s := req.GetStream(); s != nil {
		b, err := io.ReadAll(s)
		if err != nil {
			return err
		}
		members = b
	}
	members = bytes.TrimSpace(members)
	if len(members) < 2 || members[0] != '{' || members[len(members)-1] != '}' {
		return fmt.Errorf("streaming layerPartBlob: the serializer wrote %q, not a JSON object", members)
	}
	// `"` closes the blob; the other members follow it.
	tail := []byte{'"'}
	if inner := bytes.TrimSpace(members[1 : len(members)-1]); len(inner) > 0 {
		tail = append(append(tail, ','), inner...)
	}
	tail = append(tail, '}')
	body := &base64Body{head: []byte(blobHead), blob: part.LayerPartBlob, tail: tail,
		payloadHash: p.pre.payloadHash(part.LayerPartBlob, tail[1:])}
	if p.pre != nil && p.pre.encoded != nil {
		if !p.pre.owns(part.LayerPartBlob) {
			return errPartCopied
		}
		body.encoded = p.pre.encoded
	}
	sreq, err := req.SetStream(body)
	if err != nil {
		return err
	}
	*req = *sreq
	return nil
}

// base64Body reads head, then blob in standard base64, then tail, without
// encoding blob anywhere but into the caller's buffer; or, when encoded is
// set, that text (blob's base64, encoded in advance) instead. It implements
// io.ReadSeeker; deliberately not io.WriterTo, so that the SDK's guard that
// stops reads once a request is over is never held by a long write.
type base64Body struct {
	head, blob, tail []byte
	// encoded, when not nil, is base64(blob), sent as it is: blob is then
	// not read.
	encoded []byte
	pos     int64
	// payloadHash is the body's sha256 (hex) when known in advance.
	payloadHash string
}

func (b *base64Body) encodedLen() int64 {
	if b.encoded != nil {
		return int64(len(b.encoded))
	}
	return int64(base64.StdEncoding.EncodedLen(len(b.blob)))
}

func (b *base64Body) size() int64 { return int64(len(b.head)) + b.encodedLen() + int64(len(b.tail)) }

func (b *base64Body) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		pos := b.pos
		switch {
		case pos < int64(len(b.head)):
			c := copy(p[n:], b.head[pos:])
			n += c
			b.pos += int64(c)
		case pos < int64(len(b.head))+b.encodedLen():
			c := b.readBlob(p[n:], pos-int64(len(b.head)))
			n += c
			b.pos += int64(c)
		case pos < b.size():
			c := copy(p[n:], b.tail[pos-int64(len(b.head))-b.encodedLen():])
			n += c
			b.pos += int64(c)
		default:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
	}
	return n, nil
}

// readBlob writes the base64 text from offset off (in encoded bytes) into p
// and reports how much it wrote. Whole 4-character groups are encoded straight
// into p; a group cut by p's end or by a previous read goes through scratch.
func (b *base64Body) readBlob(p []byte, off int64) int {
	if b.encoded != nil {
		return copy(p, b.encoded[off:])
	}
	enc := base64.StdEncoding
	group, within := off/4, int(off%4)
	if within != 0 || len(p) < 4 {
		var scratch [4]byte
		src := b.blob[group*3 : min(group*3+3, int64(len(b.blob)))]
		enc.Encode(scratch[:], src)
		return copy(p, scratch[within:])
	}
	groups := int64(len(p) / 4)
	src := b.blob[group*3 : min((group+groups)*3, int64(len(b.blob)))]
	enc.Encode(p, src)
	return enc.EncodedLen(len(src))
}

func (b *base64Body) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = b.pos + offset
	case io.SeekEnd:
		pos = b.size() + offset
	default:
		return 0, errors.New("base64Body.Seek: invalid whence")
	}
	if pos < 0 {
		return 0, errors.New("base64Body.Seek: negative position")
	}
	b.pos = pos
	return pos, nil
}
