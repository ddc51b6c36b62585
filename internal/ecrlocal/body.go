// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// An UploadLayerPart body is up to 28 MiB of base64 in one JSON string.
// Decoding it into a map and then decoding the base64 would hold the part
// three times over; instead the body is read once into a pooled buffer, the
// blob's base64 is located in place, and the handler decodes it from there
// straight to disk.

// blobText is the base64 text of a layerPartBlob, a slice of the request
// body: valid only while the request is being served.
type blobText []byte

var bodyPool sync.Pool // of *[]byte

// readBody reads a request body of at most limit bytes into a pooled buffer;
// release gives the buffer back once nothing refers to it.
func readBody(r *http.Request, limit int) (body []byte, tooLarge bool, release func(), err error) {
	bp, _ := bodyPool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	release = func() {
		*bp = body[:0]
		bodyPool.Put(bp)
	}
	if n := r.ContentLength; n >= 0 {
		// The server stops the body at its Content-Length: read it in one go,
		// into a buffer of exactly that size.
		if n > int64(limit) {
			return nil, true, release, nil
		}
		if int64(cap(*bp)) < n {
			*bp = make([]byte, n)
		}
		body = (*bp)[:n]
		_, err = io.ReadFull(r.Body, body)
		return body, false, release, err
	}
	buf := bytes.NewBuffer((*bp)[:0])
	_, err = buf.ReadFrom(io.LimitReader(r.Body, int64(limit)+1))
	body = buf.Bytes()
	return body, len(body) > limit, release, err
}

// decodeBody decodes a JSON 1.1 request body. A top-level layerPartBlob
// string is left in the body (as blobText) instead of being copied.
func decodeBody(body []byte) (map[string]any, *apiError) {
	start, end, found := locateBlob(body)
	if !found || !isBase64(body[start:end]) {
		return decodeInput(body)
	}
	stripped := make([]byte, 0, len(body)-(end-start))
	stripped = append(append(stripped, body[:start]...), body[end:]...)
	input, apiErr := decodeInput(stripped)
	if apiErr != nil {
		return nil, apiErr
	}
	input["layerPartBlob"] = blobText(body[start:end])
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

// locateBlob finds the text between the quotes of a top-level
// "layerPartBlob" string member that has no escapes. It reports false for
// anything else (no such member, two of them, escapes, or a body it cannot
// follow); the caller then decodes the body the ordinary way. Stripping the
// located text leaves valid JSON valid and invalid JSON invalid, because the
// caller only strips text of the base64 alphabet.
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
		i = skipValue(body, valueStart)
		if i < 0 {
			return 0, 0, false
		}
		if key == "layerPartBlob" {
			if found || body[valueStart] != '"' {
				return 0, 0, false
			}
			if _, escaped := scanString(body, valueStart); escaped {
				return 0, 0, false
			}
			start, end, found = valueStart+1, i-1, true
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
// the SDKs send and the only one ECR reads. It runs over every part's 13 MiB
// of text, so it looks each byte up in a table instead of branching on it
// (a switch per byte made it a third of the endpoint's CPU time).
func isBase64(text []byte) bool {
	if len(text)%4 != 0 {
		return false
	}
	body := text
	if n := len(body); n > 0 && body[n-1] == '=' {
		body = body[:n-1]
		if n > 1 && body[n-2] == '=' {
			body = body[:n-2]
		}
	}
	for _, c := range body {
		if !base64Alphabet[c] {
			return false
		}
	}
	return true
}

// base64Alphabet marks the 64 characters of standard base64.
var base64Alphabet = func() (table [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		table[c] = true
	}
	return table
}()
