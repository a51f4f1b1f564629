//go:build amd64 && !purego

#include "textflag.h"

// func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha float32)
//
// C[r][0:16] += alpha · Σ_l a[6l+r]·b[16l:16l+16] for r < 6, where row r
// of C starts at c + r·ldc: one 6×16 tile of C updated from a packed A
// panel (6 values per l) and a packed B panel (16 values per l). Twelve
// YMM accumulators, FMA3.
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-44
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JEQ done

loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14
	VFMADD231PS Y12, Y14, Y8
	VFMADD231PS Y13, Y14, Y9
	VBROADCASTSS 20(SI), Y15
	VFMADD231PS Y12, Y15, Y10
	VFMADD231PS Y13, Y15, Y11
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNE loop

done:
	VBROADCASTSS alpha+40(FP), Y12
	VMOVUPS (DX), Y13
	VMOVUPS 32(DX), Y14
	VFMADD231PS Y0, Y12, Y13
	VFMADD231PS Y1, Y12, Y14
	VMOVUPS Y13, (DX)
	VMOVUPS Y14, 32(DX)
	ADDQ R8, DX
	VMOVUPS (DX), Y13
	VMOVUPS 32(DX), Y14
	VFMADD231PS Y2, Y12, Y13
	VFMADD231PS Y3, Y12, Y14
	VMOVUPS Y13, (DX)
	VMOVUPS Y14, 32(DX)
	ADDQ R8, DX
	VMOVUPS (DX), Y13
	VMOVUPS 32(DX), Y14
	VFMADD231PS Y4, Y12, Y13
	VFMADD231PS Y5, Y12, Y14
	VMOVUPS Y13, (DX)
	VMOVUPS Y14, 32(DX)
	ADDQ R8, DX
	VMOVUPS (DX), Y13
	VMOVUPS 32(DX), Y14
	VFMADD231PS Y6, Y12, Y13
	VFMADD231PS Y7, Y12, Y14
	VMOVUPS Y13, (DX)
	VMOVUPS Y14, 32(DX)
	ADDQ R8, DX
	VMOVUPS (DX), Y13
	VMOVUPS 32(DX), Y14
	VFMADD231PS Y8, Y12, Y13
	VFMADD231PS Y9, Y12, Y14
	VMOVUPS Y13, (DX)
	VMOVUPS Y14, 32(DX)
	ADDQ R8, DX
	VMOVUPS (DX), Y13
	VMOVUPS 32(DX), Y14
	VFMADD231PS Y10, Y12, Y13
	VFMADD231PS Y11, Y12, Y14
	VMOVUPS Y13, (DX)
	VMOVUPS Y14, 32(DX)
	VZEROUPPER
	RET

// func adamStep8(n int, m, v, w, grad *float32, k *[8]float32)
//
// The AdamW update of adam32 on n elements (n a multiple of 8), eight at
// a time, with k = {b1, 1-b1, b2, 1-b2, decay, step, vc, eps}. Plain
// AVX multiplies and adds in the same order as the Go loop, no FMA, so
// the results are bit-identical to it.
TEXT ·adamStep8(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DI
	MOVQ w+24(FP), R8
	MOVQ grad+32(FP), R9
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 8(AX), Y10
	VBROADCASTSS 12(AX), Y11
	VBROADCASTSS 16(AX), Y12
	VBROADCASTSS 20(AX), Y13
	VBROADCASTSS 24(AX), Y14
	VBROADCASTSS 28(AX), Y15
	SHRQ $3, CX
	JEQ adone

aloop:
	VMOVUPS (R9), Y0
	VMULPS (SI), Y8, Y1
	VMULPS Y0, Y9, Y2
	VADDPS Y2, Y1, Y1
	VMOVUPS Y1, (SI)
	VMULPS Y0, Y11, Y3
	VMULPS Y0, Y3, Y3
	VMULPS (DI), Y10, Y4
	VADDPS Y3, Y4, Y4
	VMOVUPS Y4, (DI)
	VSQRTPS Y4, Y5
	VMULPS Y14, Y5, Y5
	VADDPS Y15, Y5, Y5
	VMULPS Y1, Y13, Y6
	VDIVPS Y5, Y6, Y6
	VMULPS (R8), Y12, Y7
	VSUBPS Y6, Y7, Y7
	VMOVUPS Y7, (R8)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNE aloop

adone:
	VZEROUPPER
	RET

DATA geluk<>+0(SB)/4, $0.7978845608028654  // √(2/π)
DATA geluk<>+4(SB)/4, $0.044715
DATA geluk<>+8(SB)/4, $7.90531110763549805  // tanh clamp
DATA geluk<>+12(SB)/4, $-7.90531110763549805
DATA geluk<>+16(SB)/4, $-2.76076847742355e-16 // numerator, x^13 down
DATA geluk<>+20(SB)/4, $2.00018790482477e-13
DATA geluk<>+24(SB)/4, $-8.60467152213735e-11
DATA geluk<>+28(SB)/4, $5.12229709037114e-08
DATA geluk<>+32(SB)/4, $1.48572235717979e-05
DATA geluk<>+36(SB)/4, $6.37261928875436e-04
DATA geluk<>+40(SB)/4, $4.89352455891786e-03
DATA geluk<>+44(SB)/4, $1.19825839466702e-06 // denominator, x^6 down
DATA geluk<>+48(SB)/4, $1.18534705686654e-04
DATA geluk<>+52(SB)/4, $2.26843463243900e-03
DATA geluk<>+56(SB)/4, $4.89352518554385e-03
DATA geluk<>+60(SB)/4, $0.5
DATA geluk<>+64(SB)/4, $1.0
GLOBL geluk<>(SB), RODATA|NOPTR, $68

// func geluForward8(n int, x, y, t *float32)
//
// y = GELU(x) and t = tanh(√(2/π)(x + 0.044715x³)) for n elements (a
// multiple of 8), with the operations of gelu32 in the same order and no
// FMA, so results equal the Go loop bit for bit.
TEXT ·geluForward8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ t+24(FP), DX
	SHRQ $3, CX
	JEQ gdone
	VBROADCASTSS geluk<>+0(SB), Y8
	VBROADCASTSS geluk<>+4(SB), Y9
	VBROADCASTSS geluk<>+8(SB), Y10
	VBROADCASTSS geluk<>+12(SB), Y11
	VBROADCASTSS geluk<>+60(SB), Y12
	VBROADCASTSS geluk<>+64(SB), Y13

gloop:
	VMOVUPS (SI), Y0           // v
	VMULPS Y0, Y9, Y1          // geluA*v
	VMULPS Y0, Y1, Y1          // *v
	VMULPS Y0, Y1, Y1          // *v
	VADDPS Y1, Y0, Y1          // v + geluA*v*v*v
	VMULPS Y1, Y8, Y1          // u = geluC*(...)
	VMINPS Y10, Y1, Y1         // clamp
	VMAXPS Y11, Y1, Y1
	VMULPS Y1, Y1, Y2          // x2
	VBROADCASTSS geluk<>+16(SB), Y3
	VMULPS Y3, Y2, Y3          // x2*a13
	VBROADCASTSS geluk<>+20(SB), Y4
	VADDPS Y4, Y3, Y3          // + a11
	VMULPS Y3, Y2, Y3
	VBROADCASTSS geluk<>+24(SB), Y4
	VADDPS Y4, Y3, Y3          // + a9
	VMULPS Y3, Y2, Y3
	VBROADCASTSS geluk<>+28(SB), Y4
	VADDPS Y4, Y3, Y3          // + a7
	VMULPS Y3, Y2, Y3
	VBROADCASTSS geluk<>+32(SB), Y4
	VADDPS Y4, Y3, Y3          // + a5
	VMULPS Y3, Y2, Y3
	VBROADCASTSS geluk<>+36(SB), Y4
	VADDPS Y4, Y3, Y3          // + a3
	VMULPS Y3, Y2, Y3
	VBROADCASTSS geluk<>+40(SB), Y4
	VADDPS Y4, Y3, Y3          // + a1
	VMULPS Y3, Y1, Y3          // p = x*p
	VBROADCASTSS geluk<>+44(SB), Y5
	VMULPS Y5, Y2, Y5          // x2*b6
	VBROADCASTSS geluk<>+48(SB), Y4
	VADDPS Y4, Y5, Y5          // + b4
	VMULPS Y5, Y2, Y5
	VBROADCASTSS geluk<>+52(SB), Y4
	VADDPS Y4, Y5, Y5          // + b2
	VMULPS Y5, Y2, Y5
	VBROADCASTSS geluk<>+56(SB), Y4
	VADDPS Y4, Y5, Y5          // + b0
	VDIVPS Y5, Y3, Y3          // th = p/q
	VMOVUPS Y3, (DX)
	VMULPS Y0, Y12, Y6         // 0.5*v
	VADDPS Y3, Y13, Y7         // 1+th
	VMULPS Y7, Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNE gloop

gdone:
	VZEROUPPER
	RET

// func sdot32(n int, x, y *float32) float32
//
// Σ x[i]·y[i] for n a multiple of 32: four 8-wide FMA accumulators,
// summed pairwise at the end.
TEXT ·sdot32(SB), NOSPLIT, $0-28
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	SHRQ $5, CX
	JEQ dsum

dloop:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNE dloop

dsum:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func saxpy32(n int, alpha float32, x, y *float32)
//
// y[i] += alpha·x[i] for n a multiple of 32.
TEXT ·saxpy32(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	VBROADCASTSS alpha+8(FP), Y8
	MOVQ x+16(FP), SI
	MOVQ y+24(FP), DI
	SHRQ $5, CX
	JEQ xdone

xloop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS 32(SI), Y8, Y1
	VFMADD231PS 64(SI), Y8, Y2
	VFMADD231PS 96(SI), Y8, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNE xloop

xdone:
	VZEROUPPER
	RET
