// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"fmt"
	"strconv"
	"strings"
)

// The push engine's errors. Each says what happened in plain terms and
// carries the facts as fields, so that a caller (the Terraform provider) can
// word it for its users; none names a Terraform argument. A failed ECR call is
// an *OperationError (errors.go). Push wraps whatever stopped one blob in a
// *BlobError naming the blob.

// BlobError is the failure of one blob's push: which blob, where, and why.
// Err is an *OperationError (an ECR call failed, retries spent) or one of the
// error types below; errors.As reaches it through BlobError.
type BlobError struct {
	Name     string // the blob's Name, when the caller gave one
	Digest   string // the digest given or computed; empty if hashing failed
	Size     int64
	Target   Target
	UploadID string // the upload in use when it failed, if any
	Err      error
}

func (e *BlobError) Error() string {
	var b strings.Builder
	b.WriteString("pushing blob ")
	if e.Name != "" {
		fmt.Fprintf(&b, "%q ", e.Name)
	}
	if e.Digest != "" {
		b.WriteString(e.Digest + " ")
	}
	fmt.Fprintf(&b, "(%s bytes) to repository %q: %v", commas(e.Size), e.Target.Repository, e.Err)
	return b.String()
}

func (e *BlobError) Unwrap() error { return e.Err }

// PartSizeError is a part size the engine cannot use: not positive, more than
// ECR's largest part (MaxPartSize), or under ECR's smallest non-last part
// (MinPartSize) for a blob that needs more than one part. It is found before
// any part is sent.
type PartSizeError struct {
	PartSize int64
	BlobSize int64
	// HandedIn is true when the caller gave the part size with an upload, and
	// false when ECR answered it to InitiateLayerUpload.
	HandedIn bool
}

func (e *PartSizeError) Error() string {
	from := "ECR answered part size"
	if e.HandedIn {
		from = "the part size handed in with the upload,"
	}
	var why string
	switch {
	case e.PartSize <= 0:
		why = "a part size must be positive"
	case e.PartSize > MaxPartSize:
		why = fmt.Sprintf("ECR accepts parts of at most %s bytes", commas(MaxPartSize))
	default:
		why = fmt.Sprintf("the blob of %s bytes needs %s parts, and ECR refuses parts under %s bytes except the last",
			commas(e.BlobSize), commas(ceilDiv(e.BlobSize, e.PartSize)), commas(MinPartSize))
	}
	return fmt.Sprintf("%s %s, cannot be used: %s", from, commas(e.PartSize), why)
}

// TooManyPartsError is a blob that would need more parts than ECR allows in
// one upload (MaxParts) at the part size in use. It is found before any part
// is sent.
type TooManyPartsError struct {
	BlobSize int64
	PartSize int64
	Parts    int64 // ceil(BlobSize / PartSize)
}

func (e *TooManyPartsError) Error() string {
	return fmt.Sprintf("a blob of %s bytes in parts of %s bytes needs ceil(%d / %d) = %s parts, "+
		"but ECR allows at most %s parts per layer, so at most %s x %s = %s bytes at this part size",
		commas(e.BlobSize), commas(e.PartSize), e.BlobSize, e.PartSize, commas(e.Parts),
		commas(MaxParts), commas(MaxParts), commas(e.PartSize), commas(MaxParts*e.PartSize))
}

// DigestMismatchError is a blob whose bytes do not hash to the digest the
// caller gave. The engine does not hash what it sends: ECR does, at
// CompleteLayerUpload, and refuses the layer (InvalidLayerException); then
// ByECR is true, Got is empty (ECR does not say what the bytes hash to) and
// Err is the refused call. No layer exists in ECR for the digest afterwards;
// the upload is left incomplete (ECR has no call to abort one) and its
// resume record removed.
type DigestMismatchError struct {
	Want string // the digest the caller gave
	// Got is the sha256 of the bytes read, when known; "" when ECR refused
	// the digest (ByECR).
	Got  string
	Size int64
	// ByECR is true when ECR refused the digest at CompleteLayerUpload.
	ByECR bool
	// Err is the refused CompleteLayerUpload (an *OperationError), when ByECR.
	Err error
}

func (e *DigestMismatchError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("ECR refused the blob's %s bytes as layer %s: they do not hash to that digest, the one given "+
			"(the content changed, or the digest belongs to other content)", commas(e.Size), e.Want)
	}
	return fmt.Sprintf("the blob's %s bytes hash to %s, not to the digest given, %s (the content changed, "+
		"or the digest belongs to other content)", commas(e.Size), e.Got, e.Want)
}

func (e *DigestMismatchError) Unwrap() error { return e.Err }

// EmptyBlobError is a zero-byte blob that the repository does not have.
// ECR's layer API cannot upload one: UploadLayerPart needs at least one byte
// and CompleteLayerUpload refuses an upload with no parts
// (EmptyUploadException). The engine checks availability first, so a
// zero-byte blob ECR already has is skipped without error.
type EmptyBlobError struct {
	Digest string
}

func (e *EmptyBlobError) Error() string {
	return fmt.Sprintf("the blob %s is empty (0 bytes) and the repository does not have it; ECR's layer upload "+
		"API cannot upload an empty blob (it refuses an upload with no parts)", e.Digest)
}

// BlobReadError is a failure to read the blob's content: the file is
// unreadable, or shorter than the size given (it changed while being read).
type BlobReadError struct {
	Offset int64 // where the read started
	Size   int64 // the size given
	Err    error
}

func (e *BlobReadError) Error() string {
	return fmt.Sprintf("reading the blob at byte %s of %s: %v", commas(e.Offset), commas(e.Size), e.Err)
}

func (e *BlobReadError) Unwrap() error { return e.Err }

// InvalidBlobError is a blob the caller described wrongly: a digest that is
// not sha256:<64 hex digits>, a negative size, no content, or one digest
// given with two different sizes. Nothing is sent for any blob of the push.
type InvalidBlobError struct {
	Index  int // the blob's position in the list given to Push
	Name   string
	Digest string
	Reason string
}

func (e *InvalidBlobError) Error() string {
	name := ""
	if e.Name != "" {
		name = fmt.Sprintf(" (%q)", e.Name)
	}
	return fmt.Sprintf("blob %d%s: %s", e.Index, name, e.Reason)
}

// NoProgressError is an upload that stopped advancing: ECR kept refusing
// parts (InvalidLayerPartException) without accepting more bytes, or kept
// losing the upload (UploadNotFoundException) after new ones were started.
// Err is the last refusal, an *OperationError.
type NoProgressError struct {
	Operation string
	Attempts  int   // refusals in a row without progress
	Offset    int64 // the byte the engine tried to send next
	Err       error
}

func (e *NoProgressError) Error() string {
	return fmt.Sprintf("ECR refused %s %d times in a row without accepting more bytes (next byte %s): %v",
		e.Operation, e.Attempts, commas(e.Offset), e.Err)
}

func (e *NoProgressError) Unwrap() error { return e.Err }

// UnexpectedAnswerError is an answer from ECR that contradicts what was
// sent: a last byte received past the blob's end, or a completed digest other
// than the one asked for. It points at a proxy or endpoint that is not ECR.
type UnexpectedAnswerError struct {
	Operation string
	What      string
}

func (e *UnexpectedAnswerError) Error() string {
	return fmt.Sprintf("ECR's answer to %s makes no sense: %s", e.Operation, e.What)
}

// InvalidUploadError is an upload handed in whose ID is not an upload ID
// (a UUID, the model's UploadId pattern). Nothing is sent.
type InvalidUploadError struct {
	UploadID string
}

func (e *InvalidUploadError) Error() string {
	return fmt.Sprintf("the upload ID handed in, %q, is not an ECR upload ID (a UUID)", e.UploadID)
}

// commas writes n with thousands separators, for byte counts in messages.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}
