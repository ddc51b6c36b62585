// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build amd64 || arm64

package ecrlocal

import (
	"math/bits"
	"unsafe"
)

// decodeRounds runs decodeRound over src into dst rounds times at most (the
// caller makes sure both have room), and returns how many rounds it ran.
// Where loads and stores of 8 bytes need no alignment, it does them through
// pointers: with no bounds checks to keep, the loop holds everything in
// registers and runs a fifth faster than with slices.
func decodeRounds(dst, src []byte, rounds int) int {
	if rounds <= 0 {
		return 0
	}
	_, _ = dst[6*rounds+1], src[8*rounds-1] // the room the caller promised
	s, d := unsafe.Pointer(unsafe.SliceData(src)), unsafe.Pointer(unsafe.SliceData(dst))
	for k := range rounds {
		out, ok := decodeRound(bits.ReverseBytes64(*(*uint64)(unsafe.Add(s, 8*k))))
		if !ok {
			return k
		}
		*(*uint64)(unsafe.Add(d, 6*k)) = bits.ReverseBytes64(out)
	}
	return rounds
}
