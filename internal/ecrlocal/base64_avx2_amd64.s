// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !purego

#include "textflag.h"

// The lookup tables of Muła and Lemire, "Faster Base64 Encoding and
// Decoding Using AVX2 Instructions" (2018), for standard base64, each
// 16 bytes twice (pshufb looks up within each 128-bit lane).

// lutLo[low nibble] & lutHi[high nibble] is zero exactly for the alphabet.
DATA lutLo<>+0(SB)/8, $0x1111111111111115
DATA lutLo<>+8(SB)/8, $0x1A1B1B1B1A131111
DATA lutLo<>+16(SB)/8, $0x1111111111111115
DATA lutLo<>+24(SB)/8, $0x1A1B1B1B1A131111
GLOBL lutLo<>(SB), RODATA|NOPTR, $32

DATA lutHi<>+0(SB)/8, $0x0804080402011010
DATA lutHi<>+8(SB)/8, $0x1010101010101010
DATA lutHi<>+16(SB)/8, $0x0804080402011010
DATA lutHi<>+24(SB)/8, $0x1010101010101010
GLOBL lutHi<>(SB), RODATA|NOPTR, $32

// lutRoll[high nibble, less one for '/'] is what to add to a character for
// its 6 bits: 0, 16, 19, 4, -65, -65, -71, -71.
DATA lutRoll<>+0(SB)/8, $0xB9B9BFBF04131000
DATA lutRoll<>+8(SB)/8, $0
DATA lutRoll<>+16(SB)/8, $0xB9B9BFBF04131000
DATA lutRoll<>+24(SB)/8, $0
GLOBL lutRoll<>(SB), RODATA|NOPTR, $32

DATA nibble<>+0(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA nibble<>+8(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA nibble<>+16(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA nibble<>+24(SB)/8, $0x0F0F0F0F0F0F0F0F
GLOBL nibble<>(SB), RODATA|NOPTR, $32

DATA slash<>+0(SB)/8, $0x2F2F2F2F2F2F2F2F
DATA slash<>+8(SB)/8, $0x2F2F2F2F2F2F2F2F
DATA slash<>+16(SB)/8, $0x2F2F2F2F2F2F2F2F
DATA slash<>+24(SB)/8, $0x2F2F2F2F2F2F2F2F
GLOBL slash<>(SB), RODATA|NOPTR, $32

// Each pair of 6-bit values to a*64+b (pmaddubsw), each pair of those to
// ab*4096+cd (pmaddwd): 24 bits in each 32.
DATA merge1<>+0(SB)/8, $0x0140014001400140
DATA merge1<>+8(SB)/8, $0x0140014001400140
DATA merge1<>+16(SB)/8, $0x0140014001400140
DATA merge1<>+24(SB)/8, $0x0140014001400140
GLOBL merge1<>(SB), RODATA|NOPTR, $32

DATA merge2<>+0(SB)/8, $0x0001100000011000
DATA merge2<>+8(SB)/8, $0x0001100000011000
DATA merge2<>+16(SB)/8, $0x0001100000011000
DATA merge2<>+24(SB)/8, $0x0001100000011000
GLOBL merge2<>(SB), RODATA|NOPTR, $32

// The three bytes of each 32 bits, most significant first, packed at the
// start of each lane...
DATA pack<>+0(SB)/8, $0x090A040506000102
DATA pack<>+8(SB)/8, $0x808080800C0D0E08
DATA pack<>+16(SB)/8, $0x090A040506000102
DATA pack<>+24(SB)/8, $0x808080800C0D0E08
GLOBL pack<>(SB), RODATA|NOPTR, $32

// ... and the two lanes' 12 bytes together (dwords 0, 1, 2, 4, 5, 6).
DATA lanes<>+0(SB)/8, $0x0000000100000000
DATA lanes<>+8(SB)/8, $0x0000000400000002
DATA lanes<>+16(SB)/8, $0x0000000600000005
DATA lanes<>+24(SB)/8, $0x0000000700000003
GLOBL lanes<>(SB), RODATA|NOPTR, $32

// func decodeBlocksAVX2(dst, src *byte, blocks int) int
TEXT ·decodeBlocksAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	XORQ AX, AX
	VMOVDQU lutLo<>(SB), Y8
	VMOVDQU lutHi<>(SB), Y9
	VMOVDQU lutRoll<>(SB), Y10
	VMOVDQU nibble<>(SB), Y11
	VMOVDQU slash<>(SB), Y12
	VMOVDQU merge1<>(SB), Y13
	VMOVDQU merge2<>(SB), Y14
	VMOVDQU pack<>(SB), Y15
	VMOVDQU lanes<>(SB), Y7

loop:
	CMPQ AX, CX
	JGE  done
	VMOVDQU (SI), Y0
	VPSRLD  $4, Y0, Y1
	VPAND   Y11, Y1, Y1 // high nibbles
	VPAND   Y11, Y0, Y2 // low nibbles
	VPSHUFB Y2, Y8, Y3
	VPSHUFB Y1, Y9, Y4
	VPTEST  Y3, Y4
	JNZ     done        // a character not of the alphabet
	VPCMPEQB Y12, Y0, Y5
	VPADDB   Y5, Y1, Y5
	VPSHUFB  Y5, Y10, Y5
	VPADDB   Y5, Y0, Y0 // 6 bits in each byte
	VPMADDUBSW Y13, Y0, Y0
	VPMADDWD   Y14, Y0, Y0
	VPSHUFB    Y15, Y0, Y0
	VPERMD     Y0, Y7, Y0
	VMOVDQU    Y0, (DI) // 24 bytes, and 8 that the next block writes over
	ADDQ $32, SI
	ADDQ $24, DI
	INCQ AX
	JMP  loop

done:
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET

// func cpuHasAVX2() bool
TEXT ·cpuHasAVX2(SB), NOSPLIT, $0-1
	XORL AX, AX
	XORL CX, CX
	CPUID
	CMPL AX, $7
	JLT  no
	MOVL $1, AX
	XORL CX, CX
	CPUID
	ANDL $0x18000000, CX // OSXSAVE and AVX
	CMPL CX, $0x18000000
	JNE  no
	XORL CX, CX
	XGETBV
	ANDL $6, AX // the OS saves XMM and YMM state
	CMPL AX, $6
	JNE  no
	MOVL $7, AX
	XORL CX, CX
	CPUID
	ANDL $0x20, BX // AVX2
	JZ   no
	MOVB $1, ret+0(FP)
	RET

no:
	MOVB $0, ret+0(FP)
	RET
