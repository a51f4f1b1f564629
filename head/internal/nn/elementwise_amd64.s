//go:build amd64 && !purego

#include "textflag.h"

// Vector forms of erf32, exp32 and the exact GELU (gelu_erf.go): the
// operations of the Go functions, in their order, with plain AVX
// multiplies and adds (no FMA), so each element comes out bit-identical
// to the scalar Go code. That matters: parallel loops split element
// ranges by the number of cores, and the element where the vector loop
// hands over to the Go tail moves with them.

DATA expk<>+0(SB)/4, $-87.33654
DATA expk<>+4(SB)/4, $88.72283
DATA expk<>+8(SB)/4, $1.44269504088896341  // log2e
DATA expk<>+12(SB)/4, $0.5
DATA expk<>+16(SB)/4, $0.693359375         // c1
DATA expk<>+20(SB)/4, $-2.12194440e-4      // c2
DATA expk<>+24(SB)/4, $1.9875691500e-4
DATA expk<>+28(SB)/4, $1.3981999507e-3
DATA expk<>+32(SB)/4, $8.3334519073e-3
DATA expk<>+36(SB)/4, $4.1665795894e-2
DATA expk<>+40(SB)/4, $1.6666665459e-1
DATA expk<>+44(SB)/4, $5.0000001201e-1
DATA expk<>+48(SB)/4, $1.0
DATA expk<>+52(SB)/4, $0x7f800000          // +Inf
DATA expk<>+56(SB)/4, $127
GLOBL expk<>(SB), RODATA|NOPTR, $60

// EXP8(x, y): y = exp32(x) for the 8 lanes of x; clobbers Y12-Y15.
#define EXP8(x, y) \
	VBROADCASTSS expk<>+8(SB), Y12; VMULPS Y12, x, Y12; VBROADCASTSS expk<>+12(SB), Y13; VADDPS Y13, Y12, Y12; \
	VROUNDPS $1, Y12, Y12; \
	VBROADCASTSS expk<>+16(SB), Y13; VMULPS Y13, Y12, Y13; VSUBPS Y13, x, Y13; \
	VBROADCASTSS expk<>+20(SB), Y14; VMULPS Y14, Y12, Y14; VSUBPS Y14, Y13, Y13; \
	VMULPS Y13, Y13, Y14; \
	VBROADCASTSS expk<>+24(SB), y; \
	VMULPS Y13, y, y; VBROADCASTSS expk<>+28(SB), Y15; VADDPS Y15, y, y; \
	VMULPS Y13, y, y; VBROADCASTSS expk<>+32(SB), Y15; VADDPS Y15, y, y; \
	VMULPS Y13, y, y; VBROADCASTSS expk<>+36(SB), Y15; VADDPS Y15, y, y; \
	VMULPS Y13, y, y; VBROADCASTSS expk<>+40(SB), Y15; VADDPS Y15, y, y; \
	VMULPS Y13, y, y; VBROADCASTSS expk<>+44(SB), Y15; VADDPS Y15, y, y; \
	VMULPS Y14, y, y; VADDPS Y13, y, y; VBROADCASTSS expk<>+48(SB), Y15; VADDPS Y15, y, y; \
	VCVTTPS2DQ Y12, Y12; VPBROADCASTD expk<>+56(SB), Y15; VPADDD Y15, Y12, Y12; VPSLLD $23, Y12, Y12; \
	VMULPS Y12, y, y; \
	VBROADCASTSS expk<>+0(SB), Y15; VCMPPS $1, Y15, x, Y14; VANDNPS y, Y14, y; \
	VBROADCASTSS expk<>+4(SB), Y15; VCMPPS $1, x, Y15, Y14; VANDNPS y, Y14, y; \
	VBROADCASTSS expk<>+52(SB), Y15; VANDPS Y15, Y14, Y14; VORPS Y14, y, y

// func expSum8(n int, x *float32, m float32) float32
//
// x[i] = exp32(x[i] - m) for n elements (a multiple of 8); returns the
// sum of the results: eight lane sums in order, then
// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
TEXT ·expSum8(SB), NOSPLIT, $0-28
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	VBROADCASTSS m+16(FP), Y8
	VXORPS Y9, Y9, Y9
	SHRQ $3, CX
	JEQ esum

eloop:
	VMOVUPS (SI), Y0
	VSUBPS Y8, Y0, Y0
	EXP8(Y0, Y1)
	VMOVUPS Y1, (SI)
	VADDPS Y1, Y9, Y9
	ADDQ $32, SI
	DECQ CX
	JNE eloop

esum:
	VEXTRACTF128 $1, Y9, X1
	VADDPS X1, X9, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

DATA erfk<>+0(SB)/4, $4.0
DATA erfk<>+4(SB)/4, $-4.0
DATA erfk<>+8(SB)/4, $-2.72614225801306e-10
DATA erfk<>+12(SB)/4, $2.77068142495902e-08
DATA erfk<>+16(SB)/4, $-2.10102402082508e-06
DATA erfk<>+20(SB)/4, $-5.69250639462346e-05
DATA erfk<>+24(SB)/4, $-7.34990630326855e-04
DATA erfk<>+28(SB)/4, $-2.95459980854025e-03
DATA erfk<>+32(SB)/4, $-1.60960333262415e-02
DATA erfk<>+36(SB)/4, $-1.45660718464996e-05
DATA erfk<>+40(SB)/4, $-2.13374055278905e-04
DATA erfk<>+44(SB)/4, $-1.68282697438203e-03
DATA erfk<>+48(SB)/4, $-7.37332916720468e-03
DATA erfk<>+52(SB)/4, $-1.42647390514189e-02
DATA erfk<>+56(SB)/4, $0.7071067811865476  // 1/√2
DATA erfk<>+60(SB)/4, $0.5
DATA erfk<>+64(SB)/4, $1.0
DATA erfk<>+68(SB)/4, $0.3989422804014327  // 1/√(2π)
DATA erfk<>+72(SB)/4, $-0.5
GLOBL erfk<>(SB), RODATA|NOPTR, $76

// func geluErfForward8(n int, x, y, cdf *float32)
//
// c = 0.5·(1 + erf32(x/√2)), y = x·c, cdf = c (n a multiple of 8).
TEXT ·geluErfForward8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ cdf+24(FP), DX
	SHRQ $3, CX
	JEQ gedone
	VBROADCASTSS erfk<>+0(SB), Y10
	VBROADCASTSS erfk<>+4(SB), Y11
	VBROADCASTSS erfk<>+56(SB), Y12
	VBROADCASTSS erfk<>+60(SB), Y13
	VBROADCASTSS erfk<>+64(SB), Y14

geloop:
	VMOVUPS (SI), Y0          // v
	VMULPS Y12, Y0, Y1        // u = v·(1/√2)
	VMINPS Y10, Y1, Y1        // clamp to ±4
	VMAXPS Y11, Y1, Y1
	VMULPS Y1, Y1, Y2         // x2
	VBROADCASTSS erfk<>+8(SB), Y3
	VMULPS Y3, Y2, Y3
	VBROADCASTSS erfk<>+12(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y3, Y2, Y3
	VBROADCASTSS erfk<>+16(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y3, Y2, Y3
	VBROADCASTSS erfk<>+20(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y3, Y2, Y3
	VBROADCASTSS erfk<>+24(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y3, Y2, Y3
	VBROADCASTSS erfk<>+28(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y3, Y2, Y3
	VBROADCASTSS erfk<>+32(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y3, Y1, Y3         // p = x·p
	VBROADCASTSS erfk<>+36(SB), Y5
	VMULPS Y5, Y2, Y5
	VBROADCASTSS erfk<>+40(SB), Y4
	VADDPS Y4, Y5, Y5
	VMULPS Y5, Y2, Y5
	VBROADCASTSS erfk<>+44(SB), Y4
	VADDPS Y4, Y5, Y5
	VMULPS Y5, Y2, Y5
	VBROADCASTSS erfk<>+48(SB), Y4
	VADDPS Y4, Y5, Y5
	VMULPS Y5, Y2, Y5
	VBROADCASTSS erfk<>+52(SB), Y4
	VADDPS Y4, Y5, Y5
	VDIVPS Y5, Y3, Y3         // erf = p/q
	VADDPS Y14, Y3, Y3        // 1 + erf
	VMULPS Y3, Y13, Y3        // c = 0.5·(1 + erf)
	VMOVUPS Y3, (DX)
	VMULPS Y3, Y0, Y0         // y = v·c
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNE geloop

gedone:
	VZEROUPPER
	RET

// func geluErfBackward8(n int, x, cdf, dy, dx *float32)
//
// dx = dy·(cdf + x·(1/√(2π))·exp32(−0.5·x·x)) (n a multiple of 8).
TEXT ·geluErfBackward8(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ cdf+16(FP), DI
	MOVQ dy+24(FP), DX
	MOVQ dx+32(FP), R8
	SHRQ $3, CX
	JEQ gbdone
	VBROADCASTSS erfk<>+68(SB), Y10
	VBROADCASTSS erfk<>+72(SB), Y11

gbloop:
	VMOVUPS (SI), Y0          // v
	VMULPS Y0, Y11, Y2        // −0.5·v
	VMULPS Y0, Y2, Y2         // ·v
	EXP8(Y2, Y3)
	VMULPS Y10, Y0, Y4        // v·(1/√(2π))
	VMULPS Y3, Y4, Y4         // ·exp
	VMOVUPS (DI), Y5
	VADDPS Y4, Y5, Y5         // cdf + ...
	VMOVUPS (DX), Y6
	VMULPS Y5, Y6, Y6         // dy·(...)
	VMOVUPS Y6, (R8)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNE gbloop

gbdone:
	VZEROUPPER
	RET
