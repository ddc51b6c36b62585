// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"testing"
)

// TestNotAlphabet checks the word-at-a-time alphabet test against the
// table for every byte value in every position of a word, next to
// neighbours of every kind.
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
