// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"math/bits"
	"net/http"
	"sync"
)

// An UploadLayerPart body is up to 28 MiB of base64 in one JSON string.
// Decoding it into a map and then decoding the base64 would hold the part
// three times over; instead the body is read once into a pooled buffer
// (hashed for SigV4 as it arrives), the blob's base64 is located in place
// and decoded over itself, checked as it is decoded, and the handler writes
// the bytes from there to disk.

// blobText is the base64 text of a layerPartBlob, a slice of the request
// body: valid only while the request is being served.
type blobText []byte

// decodedBlob is the bytes of a layerPartBlob, decoded over its base64 text
// in the request body: valid only while the request is being served.
type decodedBlob []byte

var bodyPool sync.Pool // of *[]byte

// requestBody is a request's body in a pooled buffer, after head bytes of
// room where decodeRequest may put a part's bytes where they are aligned for
// direct I/O (see partwrite.go).
type requestBody struct {
	buf  []byte // the room, then the body
	head int
}

func (b requestBody) bytes() []byte { return b.buf[b.head:] }

// readBody reads a request body of at most limit bytes into a pooled buffer,
// and its SHA-256 (the SigV4 payload hash); release gives the buffer back
// once nothing refers to it. The body is hashed as it arrives, a chunk at a
// time while the chunk is still in the CPU's cache, rather than in a second
// pass over up to 28 MiB.
func readBody(r *http.Request, limit int) (body requestBody, sum [sha256.Size]byte, tooLarge bool, release func(), err error) {
	bp, _ := bodyPool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	release = func() {
		*bp = body.buf[:0]
		bodyPool.Put(bp)
	}
	if n := r.ContentLength; n >= 0 {
		// The server stops the body at its Content-Length: read it in one go,
		// into a buffer of exactly that size (and the room before it).
		if n > int64(limit) {
			return body, sum, true, release, nil
		}
		head := 0
		if n >= directMin {
			head = pageAlign
		}
		if int64(cap(*bp)) < int64(head)+n {
			*bp = make([]byte, int64(head)+n)
		}
		body = requestBody{buf: (*bp)[:int64(head)+n], head: head}
		b := body.bytes()
		h := sha256.New()
		for off := 0; off < len(b) && err == nil; {
			chunk := b[off:min(off+readChunk, len(b))]
			var got int
			got, err = io.ReadFull(r.Body, chunk)
			h.Write(chunk[:got])
			off += got
		}
		h.Sum(sum[:0])
		return body, sum, false, release, err
	}
	buf := bytes.NewBuffer((*bp)[:0])
	_, err = buf.ReadFrom(io.LimitReader(r.Body, int64(limit)+1))
	body = requestBody{buf: buf.Bytes()}
	return body, sha256.Sum256(body.buf), len(body.buf) > limit, release, err
}

// readChunk is how much of a body readBody reads before hashing it.
const readChunk = 256 << 10

// decodeBody decodes a JSON 1.1 request body. A top-level layerPartBlob
// string of base64 is left in the body (as blobText) instead of being
// copied.
func decodeBody(body []byte) (map[string]any, *apiError) {
	start, end, found := locateBlob(body)
	if !found || !isBase64(body[start:end]) {
		return decodeInput(body)
	}
	return decodeAround(body, start, end, blobText(body[start:end]))
}

// decodeRequest is decodeBody for serving: a top-level layerPartBlob string
// of base64 is decoded over its own text in the body (which it changes),
// moved back so that the part's bytes that the upload's file will hold at a
// page-aligned offset are page-aligned in memory (when partFirstByte is
// right), and left there as decodedBlob. Checking the text and decoding it
// are one pass over up to 28 MiB.
func decodeRequest(rb requestBody) (map[string]any, *apiError) {
	body := rb.bytes()
	start, end, found := locateBlob(body)
	if !found {
		return decodeInput(body)
	}
	stripped := make([]byte, 0, len(body)-(end-start))
	stripped = append(append(stripped, body[:start]...), body[end:]...)
	input, apiErr := decodeInput(stripped)
	if apiErr != nil {
		if isBase64(body[start:end]) {
			return nil, apiErr
		}
		return decodeInput(body)
	}
	firstByte, _ := input["partFirstByte"].(json.Number)
	first, _ := firstByte.Int64() // 0 when it is not a number: only alignment depends on it
	at := alignedStart(rb.buf, rb.head+start, first)
	n, ok := decodeOver(rb.buf, at, rb.head+start, rb.head+end)
	if !ok { // the text is as it was; what came before it is in stripped
		copy(body, stripped[:start])
		return decodeInput(body)
	}
	input["layerPartBlob"] = decodedBlob(rb.buf[at : at+n])
	return input, nil
}

// decodeAround decodes the body without body[start:end], the text of a
// layerPartBlob string that is base64, and sets the member to blob.
// Stripping text of the base64 alphabet leaves valid JSON valid and invalid
// JSON invalid.
func decodeAround(body []byte, start, end int, blob any) (map[string]any, *apiError) {
	stripped := make([]byte, 0, len(body)-(end-start))
	stripped = append(append(stripped, body[:start]...), body[end:]...)
	input, apiErr := decodeInput(stripped)
	if apiErr != nil {
		return nil, apiErr
	}
	input["layerPartBlob"] = blob
	return input, nil
}

func decodeInput(body []byte) (map[string]any, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var input map[string]any
	if err := dec.Decode(&input); err != nil {
		return nil, newError("SerializationException", "Start of structure or map found where not expected, or the body is not JSON.")
	}
	if input == nil || dec.More() {
		return nil, newError("SerializationException", "The request body must be one JSON object.")
	}
	return input, nil
}

// locateBlob finds the text of a top-level "layerPartBlob" string member,
// from its opening quote to the next quote. It reports false when there is
// no such member, or two, or the body is not one it can follow; the caller
// then decodes the body the ordinary way, as it does when the text is not
// base64. A string with escapes is one of those: base64 has no backslash,
// and the text up to the first quote after one holds it. So is a string
// that does not end at the first quote: that quote is escaped.
func locateBlob(body []byte) (start, end int, found bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return 0, 0, false
	}
	i++
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return start, end, found && i < len(body) && body[i] == '}'
		}
		keyEnd, keyEscaped := scanString(body, i)
		if keyEnd < 0 || keyEscaped {
			return 0, 0, false
		}
		key := string(body[i+1 : keyEnd-1])
		i = skipSpace(body, keyEnd)
		if i >= len(body) || body[i] != ':' {
			return 0, 0, false
		}
		valueStart := skipSpace(body, i+1)
		if key == "layerPartBlob" {
			if found || valueStart >= len(body) || body[valueStart] != '"' {
				return 0, 0, false
			}
			quote := bytes.IndexByte(body[valueStart+1:], '"')
			if quote < 0 {
				return 0, 0, false
			}
			start, end, found = valueStart+1, valueStart+1+quote, true
			i = end + 1
		} else if i = skipValue(body, valueStart); i < 0 {
			return 0, 0, false
		}
		i = skipSpace(body, i)
		if i < len(body) && body[i] == ',' {
			i++
			continue
		}
		return start, end, found && i < len(body) && body[i] == '}'
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index just past the string that opens at b[i], and
// whether it holds an escape; -1 when it does not close. It looks for quotes
// and backslashes with bytes.IndexByte: a part's base64 is 28 MiB.
func scanString(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j <= len(b); {
		quote := bytes.IndexByte(b[j:], '"')
		if quote < 0 {
			return -1, escaped
		}
		backslash := bytes.IndexByte(b[j:j+quote], '\\')
		if backslash < 0 {
			return j + quote + 1, escaped
		}
		escaped = true
		j += backslash + 2 // past the escaped character
	}
	return -1, escaped
}

// skipValue returns the index just past the JSON value at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := scanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(b[j])) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// isBase64 reports whether text is padded standard base64, the only form
// the SDKs send and the only one ECR reads.
func isBase64(text []byte) bool {
	if len(text)%4 != 0 {
		return false
	}
	n := alphabetLen(text)
	for pads := 0; pads < 2 && n < len(text) && text[n] == '='; pads++ {
		n++
	}
	return n == len(text)
}

// alphabetLen is the length of the longest prefix of text made of the 64
// characters of standard base64. It checks 16 bytes at a time with
// arithmetic on machine words (SWAR), nearly twice as fast as a table lookup
// per byte.
func alphabetLen(text []byte) int {
	i := 0
	for ; i+16 <= len(text); i += 16 {
		a := notAlphabet(binary.LittleEndian.Uint64(text[i:]))
		b := notAlphabet(binary.LittleEndian.Uint64(text[i+8:]))
		if a|b != 0 {
			if a != 0 {
				return i + bits.TrailingZeros64(a)/8
			}
			return i + 8 + bits.TrailingZeros64(b)/8
		}
	}
	for ; i+8 <= len(text); i += 8 {
		if a := notAlphabet(binary.LittleEndian.Uint64(text[i:])); a != 0 {
			return i + bits.TrailingZeros64(a)/8
		}
	}
	for ; i < len(text) && base64Alphabet[text[i]]; i++ {
	}
	return i
}

// notAlphabet has the top bit of each byte of x set where that byte is not
// a character of standard base64 ('A'-'Z', 'a'-'z', '0'-'9', '+', '/'),
// and no other bit set.
func notAlphabet(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	// In each byte of low7 (0-127), adding 0x80-c sets the top bit exactly
	// when the byte is c or more, and carries into no other byte.
	low7 := x &^ high
	lower := low7 | 0x20*ones // 'A'-'Z' to 'a'-'z'; nothing else lands there
	letter := (lower + (0x80-'a')*ones) &^ (lower + (0x80-'z'-1)*ones)
	slashOrDigit := (low7 + (0x80-'/')*ones) &^ (low7 + (0x80-'9'-1)*ones)
	plus := (low7 + (0x80-'+')*ones) &^ (low7 + (0x80-'+'-1)*ones)
	return high&^(letter|slashOrDigit|plus) | x&high
}

// base64Alphabet marks the 64 characters of standard base64.
var base64Alphabet = func() (table [256]bool) {
	for _, c := range []byte(base64Chars) {
		table[c] = true
	}
	return table
}()

const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
