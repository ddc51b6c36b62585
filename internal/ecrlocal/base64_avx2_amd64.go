// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !purego

package ecrlocal

// decodeBlocksAVX2 decodes blocks of 32 base64 characters from src to 24
// bytes each at dst, writing 32 bytes for each (the 8 past its 24 are the
// next block's), and stops before the first block with a character that is
// not of the alphabet. It returns how many blocks it decoded. dst may be src
// or before it: each block is read before anything is written over it.
//
//go:noescape
func decodeBlocksAVX2(dst, src *byte, blocks int) int

// cpuHasAVX2 reports whether the CPU has AVX2 and the OS saves its state.
func cpuHasAVX2() bool

var useAVX2 = cpuHasAVX2()
