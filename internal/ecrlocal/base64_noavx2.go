// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !amd64 || purego

package ecrlocal

// Without AVX2 the decoder's portable loop does it all.
const useAVX2 = false

func decodeBlocksAVX2(_, _ *byte, _ int) int { return 0 }
