// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !amd64 && !arm64

package ecrlocal

import "encoding/binary"

// decodeRounds runs decodeRound over src into dst rounds times at most (the
// caller makes sure both have room), and returns how many rounds it ran.
func decodeRounds(dst, src []byte, rounds int) int {
	for k := range max(rounds, 0) {
		out, ok := decodeRound(binary.BigEndian.Uint64(src[8*k : 8*k+8]))
		if !ok {
			return k
		}
		binary.BigEndian.PutUint64(dst[6*k:6*k+8], out)
	}
	return max(rounds, 0)
}
