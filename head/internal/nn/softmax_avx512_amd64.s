//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 forms of attention's per-row softmax, its backward, and the
// dropout mask generator. Masked loads and stores handle a row's tail,
// so a row is done entirely here (its sums in a fixed lane order: the
// results do not depend on the number of cores, which only split rows).

DATA smk<>+0(SB)/4, $-87.33654
DATA smk<>+4(SB)/4, $88.72283
DATA smk<>+8(SB)/4, $1.44269504088896341  // log2e
DATA smk<>+12(SB)/4, $0.5
DATA smk<>+16(SB)/4, $0.693359375         // c1
DATA smk<>+20(SB)/4, $-2.12194440e-4      // c2
DATA smk<>+24(SB)/4, $1.9875691500e-4
DATA smk<>+28(SB)/4, $1.3981999507e-3
DATA smk<>+32(SB)/4, $8.3334519073e-3
DATA smk<>+36(SB)/4, $4.1665795894e-2
DATA smk<>+40(SB)/4, $1.6666665459e-1
DATA smk<>+44(SB)/4, $5.0000001201e-1
DATA smk<>+48(SB)/4, $1.0
DATA smk<>+52(SB)/4, $0x7f800000          // +Inf
DATA smk<>+56(SB)/4, $127
DATA smk<>+60(SB)/4, $0xff800000          // -Inf
GLOBL smk<>(SB), RODATA|NOPTR, $64

// EXP16(x, y): y = exp32(x) lane by lane, the operations of exp32 in its
// order; clobbers Z12-Z15, K2, K3.
#define EXP16(x, y) \
	VBROADCASTSS smk<>+8(SB), Z12; VMULPS Z12, x, Z12; VBROADCASTSS smk<>+12(SB), Z13; VADDPS Z13, Z12, Z12; \
	VRNDSCALEPS $1, Z12, Z12; \
	VBROADCASTSS smk<>+16(SB), Z13; VMULPS Z13, Z12, Z13; VSUBPS Z13, x, Z13; \
	VBROADCASTSS smk<>+20(SB), Z14; VMULPS Z14, Z12, Z14; VSUBPS Z14, Z13, Z13; \
	VMULPS Z13, Z13, Z14; \
	VBROADCASTSS smk<>+24(SB), y; \
	VMULPS Z13, y, y; VBROADCASTSS smk<>+28(SB), Z15; VADDPS Z15, y, y; \
	VMULPS Z13, y, y; VBROADCASTSS smk<>+32(SB), Z15; VADDPS Z15, y, y; \
	VMULPS Z13, y, y; VBROADCASTSS smk<>+36(SB), Z15; VADDPS Z15, y, y; \
	VMULPS Z13, y, y; VBROADCASTSS smk<>+40(SB), Z15; VADDPS Z15, y, y; \
	VMULPS Z13, y, y; VBROADCASTSS smk<>+44(SB), Z15; VADDPS Z15, y, y; \
	VMULPS Z14, y, y; VADDPS Z13, y, y; VBROADCASTSS smk<>+48(SB), Z15; VADDPS Z15, y, y; \
	VCVTTPS2DQ Z12, Z12; VPBROADCASTD smk<>+56(SB), Z15; VPADDD Z15, Z12, Z12; VPSLLD $23, Z12, Z12; \
	VMULPS Z12, y, y; \
	VBROADCASTSS smk<>+0(SB), Z15; VCMPPS $1, Z15, x, K2; VXORPS Z15, Z15, Z15; VBLENDMPS Z15, y, K2, y; \
	VBROADCASTSS smk<>+4(SB), Z15; VCMPPS $1, x, Z15, K3; VBROADCASTSS smk<>+52(SB), Z15; VBLENDMPS Z15, y, K3, y

// TAILMASK sets K1 to the lanes of the next 16 of CX remaining elements.
#define TAILMASK \
	MOVQ $-1, AX; CMPQ CX, $16; JAE 4(PC); MOVQ $1, AX; SHLQ CX, AX; DECQ AX; \
	KMOVW AX, K1

// func softmaxRow16(n int, x, keep, pd *float32)
//
// x[0:n] = softmax(x[0:n]) in place (max, then exp32(x − max) and their
// sum in sixteen lanes, reduced in a fixed tree, then x·(1/sum)); when
// keep is non-nil, also pd[i] = x[i]·keep[i] (dropout). n >= 1.
TEXT ·softmaxRow16(SB), NOSPLIT, $0-32
	MOVQ x+8(FP), SI
	// max
	MOVQ n+0(FP), CX
	MOVQ SI, DI
	VBROADCASTSS smk<>+60(SB), Z1
smax2:
	TAILMASK
	VBROADCASTSS smk<>+60(SB), Z0
	VMOVUPS (DI), K1, Z0
	VMAXPS Z0, Z1, Z1
	ADDQ $64, DI
	SUBQ $16, CX
	JG smax2
	VEXTRACTF64X4 $1, Z1, Y2
	VMAXPS Y2, Y1, Y1
	VEXTRACTF128 $1, Y1, X2
	VMAXPS X2, X1, X1
	VPERMILPS $0x4e, X1, X2
	VMAXPS X2, X1, X1
	VPERMILPS $0xb1, X1, X2
	VMAXPS X2, X1, X1
	VBROADCASTSS X1, Z8           // m
	// exp and sum
	MOVQ n+0(FP), CX
	MOVQ SI, DI
	VXORPS Z9, Z9, Z9
sexp:
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VSUBPS Z8, Z0, Z0
	EXP16(Z0, Z1)
	VMOVUPS Z1, K1, (DI)
	VADDPS.Z Z1, Z9, K1, Z10
	VMOVAPS Z10, K1, Z9
	ADDQ $64, DI
	SUBQ $16, CX
	JG sexp
	VEXTRACTF64X4 $1, Z9, Y2
	VADDPS Y2, Y9, Y9
	VEXTRACTF128 $1, Y9, X2
	VADDPS X2, X9, X9
	VPERMILPS $0x4e, X9, X2
	VADDPS X2, X9, X9
	VPERMILPS $0xb1, X9, X2
	VADDSS X2, X9, X9
	VBROADCASTSS smk<>+48(SB), X3
	VDIVSS X9, X3, X3             // inv = 1/sum
	VBROADCASTSS X3, Z8
	// scale, and the dropped copy
	MOVQ n+0(FP), CX
	MOVQ SI, DI
	MOVQ keep+16(FP), R8
	MOVQ pd+24(FP), R9
sscale:
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VMULPS Z8, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	TESTQ R8, R8
	JEQ snokeep
	VMOVUPS.Z (R8), K1, Z1
	VMULPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (R9)
	ADDQ $64, R8
	ADDQ $64, R9
snokeep:
	ADDQ $64, DI
	SUBQ $16, CX
	JG sscale
	VZEROUPPER
	RET

// func softmaxBack16(n int, d, p, keep *float32)
//
// d = p⊙(d' − Σ d'⊙p) with d' = d⊙keep (keep non-nil) or d, on one row
// of n >= 1 values; the sum in sixteen lanes, reduced in a fixed tree.
TEXT ·softmaxBack16(SB), NOSPLIT, $0-32
	MOVQ d+8(FP), SI
	MOVQ p+16(FP), DX
	MOVQ keep+24(FP), R8
	MOVQ n+0(FP), CX
	MOVQ SI, DI
	MOVQ DX, R10
	MOVQ R8, R11
	VXORPS Z9, Z9, Z9
bdot:
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	TESTQ R11, R11
	JEQ bnokeep
	VMOVUPS.Z (R11), K1, Z1
	VMULPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, R11
bnokeep:
	VMOVUPS.Z (R10), K1, Z2
	VMULPS Z2, Z0, Z0
	VADDPS Z0, Z9, Z9
	ADDQ $64, DI
	ADDQ $64, R10
	SUBQ $16, CX
	JG bdot
	VEXTRACTF64X4 $1, Z9, Y2
	VADDPS Y2, Y9, Y9
	VEXTRACTF128 $1, Y9, X2
	VADDPS X2, X9, X9
	VPERMILPS $0x4e, X9, X2
	VADDPS X2, X9, X9
	VPERMILPS $0xb1, X9, X2
	VADDSS X2, X9, X9
	VBROADCASTSS X9, Z8           // dot
	MOVQ n+0(FP), CX
	MOVQ SI, DI
	MOVQ DX, R10
bout:
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (R10), K1, Z2
	VSUBPS Z8, Z0, Z0
	VMULPS Z0, Z2, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, DI
	ADDQ $64, R10
	SUBQ $16, CX
	JG bout
	VZEROUPPER
	RET

DATA dmk<>+0(SB)/8, $0xBF58476D1CE4E5B9
DATA dmk<>+8(SB)/8, $0x94D049BB133111EB
DATA dmk<>+16(SB)/8, $0x9E3779B97F4A7C15  // golden
DATA dmk<>+24(SB)/4, $0x00ffffff
GLOBL dmk<>(SB), RODATA|NOPTR, $28

// func dropoutPairs8(k int, s uint64, mask *float32, thr uint32, keep float32)
//
// For draws j = 0..k-1 (k a multiple of 8): u = mix64(s + (j+1)·golden)
// (SplitMix64's output j+1 steps after state s), mask[2j] = keep if
// u&(2²⁴−1) >= thr else 0, mask[2j+1] likewise from bits 32..55: the
// integer steps of RNG.ahead, so the mask equals the Go loop's exactly.
TEXT ·dropoutPairs8(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ mask+16(FP), DI
	VPBROADCASTQ s+8(FP), Z0
	VPBROADCASTQ dmk<>+16(SB), Z1        // golden
	// Z0 = s + (j+1)·golden for j = 0..7
	MOVQ $0x0807060504030201, AX
	MOVQ AX, X4
	VPMOVZXBQ X4, Z4                      // 1..8
	VPMULLQ Z1, Z4, Z4                    // (i+1)·golden
	VPADDQ Z4, Z0, Z0
	VPSLLQ $3, Z1, Z5                     // 8·golden
	VPBROADCASTQ dmk<>+0(SB), Z6
	VPBROADCASTQ dmk<>+8(SB), Z7
	VPBROADCASTD dmk<>+24(SB), Z8         // 24-bit mask
	MOVL thr+24(FP), AX
	VPBROADCASTD AX, Z9
	VBROADCASTSS keep+28(FP), Z10
	SHRQ $3, CX
	JEQ ddone
dloop:
	VPSRLQ $30, Z0, Z11
	VPXORQ Z11, Z0, Z11
	VPMULLQ Z6, Z11, Z11
	VPSRLQ $27, Z11, Z12
	VPXORQ Z12, Z11, Z11
	VPMULLQ Z7, Z11, Z11
	VPSRLQ $31, Z11, Z12
	VPXORQ Z12, Z11, Z11
	VPANDD Z8, Z11, Z11
	VPCMPUD $5, Z9, Z11, K1               // not less than: >= thr
	VMOVAPS.Z Z10, K1, Z13
	VMOVUPS Z13, (DI)
	VPADDQ Z5, Z0, Z0
	ADDQ $64, DI
	DECQ CX
	JNE dloop
ddone:
	VZEROUPPER
	RET
