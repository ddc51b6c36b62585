// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"encoding/base64"
)

// decodeBase64 decodes padded standard base64 into dst, which must hold
// base64.StdEncoding.DecodedLen(len(src)) bytes, as
// base64.StdEncoding.Decode does (and with its errors), but faster.
func decodeBase64(dst, src []byte) (int, error) {
	i, j := decodeQuanta(dst, src)
	n, err := base64.StdEncoding.Decode(dst[j:], src[i:])
	if e, ok := err.(base64.CorruptInputError); ok {
		err = e + base64.CorruptInputError(i)
	}
	return j + n, err
}

// decodeInPlace decodes text, padded standard base64, over itself: the
// bytes are text[:n]. When text is not padded standard base64 it reports
// false and leaves text as it was. Checking and decoding are one pass.
func decodeInPlace(text []byte) (n int, ok bool) {
	return decodeOver(text, 0, 0, len(text))
}

// decodeOver decodes buf[start:end], padded standard base64, to
// buf[at:at+n], at most start: each 8 characters are read before anything
// is written over them. When the text is not padded standard base64 it
// reports false and puts buf[start:end] back as it was (not buf[at:start]).
func decodeOver(buf []byte, at, start, end int) (n int, ok bool) {
	text := buf[start:end]
	if len(text)%4 != 0 {
		return 0, false
	}
	i, j := decodeQuanta(buf[at:], text)
	// All of text[:i] was of the alphabet; the rest is the last quantum or
	// two, with any padding, unless decodeQuanta met a character that is
	// not base64.
	if rest := text[i:]; len(rest) <= 16 && isBase64(rest) {
		var tail [12]byte
		m, err := base64.StdEncoding.Decode(tail[:], rest)
		if err == nil {
			return j + copy(buf[at+j:], tail[:m]), true
		}
	}
	// Put the text back: whole quanta without padding encode back to the
	// characters they came from.
	copy(text, base64.StdEncoding.AppendEncode(nil, buf[at:at+j]))
	return 0, false
}

// decodeQuanta decodes src into dst 8 characters (6 bytes) at a time,
// looking two characters up at a time (12 bits) where encoding/base64 looks
// up one and checks it. It leaves the last 4 characters (any padding) and
// stops at the first 8 that are not all of the alphabet, or when dst has no
// room for 8 more bytes. It returns how far it read and wrote. dst may be
// src itself or start before it: each 8 characters are read before their 6
// bytes (and 2 that the next round writes over) are written.
func decodeQuanta(dst, src []byte) (i, j int) {
	rounds := min((len(src)-4)/8, (len(dst)-2)/6)
	k := decodeRounds(dst, src, rounds)
	return 8 * k, 6 * k
}

// decodeRound decodes the 8 characters of x (the first in the high byte)
// to the high 48 bits of its result; ok is false when one of them is not
// of the alphabet.
func decodeRound(x uint64) (out uint64, ok bool) {
	a, b := base64Pairs[x>>48], base64Pairs[uint16(x>>32)]
	c, d := base64Pairs[uint16(x>>16)], base64Pairs[uint16(x)]
	return uint64(a)<<52 | uint64(b)<<40 | uint64(c)<<28 | uint64(d)<<16, (a|b|c|d)&0xf000 == 0
}

// base64Pairs maps two base64 characters (the first in the high byte) to
// their 12 bits, or to 0xffff when either is not in the alphabet.
var base64Pairs [1 << 16]uint16

func init() {
	var values [256]uint16
	for i := range values {
		values[i] = 0xffff
	}
	for v, c := range []byte(base64Chars) {
		values[c] = uint16(v)
	}
	for hi := range 256 {
		for lo := range 256 {
			if values[hi] == 0xffff || values[lo] == 0xffff {
				base64Pairs[hi<<8|lo] = 0xffff
				continue
			}
			base64Pairs[hi<<8|lo] = values[hi]<<6 | values[lo]
		}
	}
}
