// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"reflect"
	"testing"
)

// TestNotAlphabet checks the word-at-a-time alphabet test against the
// table for every byte value in every position of a word, next to
// neighbors of every kind.
func TestNotAlphabet(t *testing.T) {
	for _, fill := range []byte{'A', 'z', '0', '+', '/', '=', 0x00, 0x7f, 0x80, 0xff, '"', '\\'} {
		for pos := range 8 {
			for c := range 256 {
				word := bytes.Repeat([]byte{fill}, 8)
				word[pos] = byte(c)
				got := notAlphabet(binary.LittleEndian.Uint64(word))
				var want uint64
				for k, b := range word {
					if !base64Alphabet[b] {
						want |= 0x80 << (8 * k)
					}
				}
				if got != want {
					t.Fatalf("%q: got %#016x, want %#016x", word, got, want)
				}
			}
		}
	}
}

// FuzzDecodeBase64 holds the fast decoder to encoding/base64: the same
// bytes for what it accepts, and an error for what it refuses.
func FuzzDecodeBase64(f *testing.F) {
	f.Add([]byte("QQ=="), uint8(0))
	f.Add(base64.StdEncoding.AppendEncode(nil, bytes.Repeat([]byte("0123456789abcdef"), 40)), uint8(0))
	f.Add(base64.StdEncoding.AppendEncode(nil, bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 33)), uint8(3))
	f.Fuzz(func(t *testing.T, src []byte, breakAt uint8) {
		if breakAt > 0 && int(breakAt) < len(src) && breakAt%5 == 0 {
			src = bytes.Clone(src)
			src[breakAt] = "=\n-\"\\"[breakAt%5]
		}
		want, wantErr := base64.StdEncoding.DecodeString(string(src))
		dst := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		n, err := decodeBase64(dst, src)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: err %v, encoding/base64 %v", src, err, wantErr)
		}
		if err == nil && !bytes.Equal(dst[:n], want) {
			t.Fatalf("%q: decoded %x, encoding/base64 %x", src, dst[:n], want)
		}
		if err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("%q: err %v, encoding/base64 %v", src, err, wantErr)
		}
	})
}

func TestDecodeBase64Sizes(t *testing.T) {
	for size := range 200 {
		raw := randomBytes(size, uint64(size))
		src := base64.StdEncoding.AppendEncode(nil, raw)
		dst := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		n, err := decodeBase64(dst, src)
		if err != nil || !bytes.Equal(dst[:n], raw) {
			t.Fatalf("%d bytes: %v, %x", size, err, dst[:n])
		}
		for bad := 0; bad < len(src); bad += 7 {
			broken := bytes.Clone(src)
			broken[bad] = '-'
			if _, err := decodeBase64(dst, broken); err == nil {
				t.Fatalf("%d bytes: %q decoded", size, broken)
			}
		}
	}
}

// FuzzDecodeInPlace holds decoding over the text to encoding/base64 and
// isBase64: it decodes exactly padded standard base64, to the same bytes,
// and leaves anything else as it was.
func FuzzDecodeInPlace(f *testing.F) {
	f.Add([]byte("QQ=="), uint8(0))
	f.Add(base64.StdEncoding.AppendEncode(nil, bytes.Repeat([]byte("0123456789abcdef"), 40)), uint8(0))
	f.Add(base64.StdEncoding.AppendEncode(nil, bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 33)), uint8(45))
	f.Fuzz(func(t *testing.T, src []byte, breakAt uint8) {
		if breakAt > 0 && int(breakAt) < len(src) && breakAt%5 == 0 {
			src = bytes.Clone(src)
			src[breakAt] = "=\n-\"\\"[breakAt%5]
		}
		want, wantErr := base64.StdEncoding.DecodeString(string(src))
		valid := wantErr == nil && isBase64(src)
		text := bytes.Clone(src)
		n, ok := decodeInPlace(text)
		if ok != valid {
			t.Fatalf("%q: decoded %v, want %v", src, ok, valid)
		}
		if ok && !bytes.Equal(text[:n], want) {
			t.Fatalf("%q: decoded %x, encoding/base64 %x", src, text[:n], want)
		}
		if !ok && !bytes.Equal(text, src) {
			t.Fatalf("%q: left %q", src, text)
		}
	})
}

// FuzzDecodeRequest holds decodeRequest, which decodes the blob in place, to
// encoding/json's reading of the same bytes: the same members, the blob's
// bytes, the same refusals.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"repositoryName":"a/b","uploadId":"x","partFirstByte":0,"partLastByte":2,"layerPartBlob":"YWJj"}`,
		`{"layerPartBlob":"YWJj","layerPartBlob":"ZGVm"}`,
		`{"layerPartBlob":"YW\/j"}`,
		`{"layerPartBlob":"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo\"A"}`,
		`{"layerPartBlob":"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoK","a":1}`,
		`{"layerPartBlob":"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eX=K","a":1}`,
		`{"layerPart\u0042lob":"YWJj","layerPartBlob":"ZGVm"}`,
		`{"x":{"layerPartBlob":"nested"},"layerPartBlob":"YQ=="}`,
		`{"layerPartBlob":"YQ=="} trailing`,
		`{"layerPartBlob":"YQ==",}`,
		`{"layerPartBlob":5}`,
		`{"a":[1,"]",{"b":"}"}],"layerPartBlob":"" }`,
		` { "layerPartBlob" : "AAAA" , "n" : -1.5e3 } `,
		`{"layerPartBlob":"YQ="}`, `{"layerPartBlob":"Y===",}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantErr := decodeInput(body)
		for _, head := range []int{0, 3, pageAlign} { // room before the body
			buf := append(make([]byte, head), body...)
			got, gotErr := decodeRequest(requestBody{buf: buf, head: head})
			checkDecodedRequest(t, body, got, gotErr, want, wantErr)
		}
	})
}

func checkDecodedRequest(t *testing.T, body []byte, got map[string]any, gotErr *apiError, want map[string]any, wantErr *apiError) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: decodeRequest error %v, encoding/json error %v", body, gotErr, wantErr)
	}
	if blob, ok := got["layerPartBlob"].(decodedBlob); ok {
		text, _ := want["layerPartBlob"].(string)
		if !isBase64([]byte(text)) {
			t.Fatalf("%q: decoded %q, which is not base64", body, text)
		}
		bytes, _ := base64.StdEncoding.DecodeString(text)
		if string(bytes) != string(blob) {
			t.Fatalf("%q: decoded %x, want %x", body, blob, bytes)
		}
		got["layerPartBlob"] = text
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decodeRequest read %#v, encoding/json %#v", body, got, want)
	}
}
