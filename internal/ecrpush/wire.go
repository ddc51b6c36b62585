package ecrpush

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
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
func streamParts(o *ecr.Options) {
	if o.Protocol != nil {
		o.Protocol = partProtocol{o.Protocol}
	}
}

type partProtocol struct {
	smithyhttp.ClientProtocol
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
	var head []byte
	if s := req.GetStream(); s != nil {
		b, err := io.ReadAll(s)
		if err != nil {
			return err
		}
		head = b
	}
	head = bytes.TrimSpace(head)
	if len(head) < 2 || head[0] != '{' || head[len(head)-1] != '}' {
		return fmt.Errorf("streaming layerPartBlob: the serializer wrote %q, not a JSON object", head)
	}
	head = head[:len(head)-1]
	if len(bytes.TrimSpace(head[1:])) > 0 {
		head = append(head, ',')
	}
	head = append(head, `"layerPartBlob":"`...)
	body := &base64Body{head: head, blob: part.LayerPartBlob, tail: []byte(`"}`)}
	sreq, err := req.SetStream(body)
	if err != nil {
		return err
	}
	*req = *sreq
	return nil
}

// base64Body reads head, then blob in standard base64, then tail, without
// encoding blob anywhere but into the caller's buffer. It implements
// io.ReadSeeker; deliberately not io.WriterTo, so that the SDK's guard that
// stops reads once a request is over is never held by a long write.
type base64Body struct {
	head, blob, tail []byte
	pos              int64
}

func (b *base64Body) encodedLen() int64 { return int64(base64.StdEncoding.EncodedLen(len(b.blob))) }

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
