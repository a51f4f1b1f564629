//go:build amd64 && !purego

#include "textflag.h"

// The AVX-512 micro-kernel of the blocked float32 product (sgemm_blocked.go).
//
// func sgemmKernel12x32(k int, a *float32, rsa, csa uintptr, b *float32, ldb uintptr, c *float32, ldc uintptr, alpha float32, flags int, bias *float32, mr int, mask uint32)
//
// acc[r][0:32] = Σ_l A(r, l)·b[32l:32l+32] for r < 12, l < k, one fused
// multiply-add per l in order (twenty-four ZMM accumulators), where
// A(r, l) is the float at a + r·rsa + l·csa (byte strides: a packed
// panel, or rows or columns of the caller's matrix read in place) and
// row l of the B panel (32 floats) starts at b + l·ldb (128 for a packed
// panel, the row stride of a B read in place). Then, for rows r < mr and the columns
// set in mask (bit j: column j):
//
//	flags&1 (kFlagAcc):   C[r] = C[r] + s·acc[r]
//	flags&2 (kFlagBias):  C[r] = bias + s·acc[r]
//	otherwise:            C[r] = s·acc[r]
//
// with s·acc = alpha·acc when flags&4 (kFlagScale), acc itself otherwise.
// Row r of C starts at c + r·ldc (bytes). Masked loads and stores never
// touch the columns outside mask, so a partial tile needs no scratch.
TEXT ·sgemmKernel12x32(SB), NOSPLIT, $0-100
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rsa+16(FP), R10
	MOVQ csa+24(FP), R12
	MOVQ b+32(FP), R13
	MOVQ ldb+40(FP), BX
	LEAQ (R10)(R10*2), R11 // 3·rsa
	LEAQ (SI)(R10*4), DI   // row 4
	LEAQ (DI)(R10*4), R9   // row 8
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	VXORPS Z16, Z16, Z16
	VXORPS Z17, Z17, Z17
	VXORPS Z18, Z18, Z18
	VXORPS Z19, Z19, Z19
	VXORPS Z20, Z20, Z20
	VXORPS Z21, Z21, Z21
	VXORPS Z22, Z22, Z22
	VXORPS Z23, Z23, Z23
	TESTQ CX, CX
	JEQ epilogue

loop:
	VMOVUPS (R13), Z24
	VMOVUPS 64(R13), Z25
	VBROADCASTSS (SI), Z26
	VFMADD231PS Z24, Z26, Z0
	VFMADD231PS Z25, Z26, Z1
	VBROADCASTSS (SI)(R10*1), Z27
	VFMADD231PS Z24, Z27, Z2
	VFMADD231PS Z25, Z27, Z3
	VBROADCASTSS (SI)(R10*2), Z28
	VFMADD231PS Z24, Z28, Z4
	VFMADD231PS Z25, Z28, Z5
	VBROADCASTSS (SI)(R11*1), Z29
	VFMADD231PS Z24, Z29, Z6
	VFMADD231PS Z25, Z29, Z7
	VBROADCASTSS (DI), Z30
	VFMADD231PS Z24, Z30, Z8
	VFMADD231PS Z25, Z30, Z9
	VBROADCASTSS (DI)(R10*1), Z31
	VFMADD231PS Z24, Z31, Z10
	VFMADD231PS Z25, Z31, Z11
	VBROADCASTSS (DI)(R10*2), Z26
	VFMADD231PS Z24, Z26, Z12
	VFMADD231PS Z25, Z26, Z13
	VBROADCASTSS (DI)(R11*1), Z27
	VFMADD231PS Z24, Z27, Z14
	VFMADD231PS Z25, Z27, Z15
	VBROADCASTSS (R9), Z28
	VFMADD231PS Z24, Z28, Z16
	VFMADD231PS Z25, Z28, Z17
	VBROADCASTSS (R9)(R10*1), Z29
	VFMADD231PS Z24, Z29, Z18
	VFMADD231PS Z25, Z29, Z19
	VBROADCASTSS (R9)(R10*2), Z30
	VFMADD231PS Z24, Z30, Z20
	VFMADD231PS Z25, Z30, Z21
	VBROADCASTSS (R9)(R11*1), Z31
	VFMADD231PS Z24, Z31, Z22
	VFMADD231PS Z25, Z31, Z23
	ADDQ R12, SI
	ADDQ R12, DI
	ADDQ R12, R9
	ADDQ BX, R13
	DECQ CX
	JNE loop

epilogue:
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	MOVQ flags+72(FP), BX
	MOVQ mr+88(FP), CX
	MOVL mask+96(FP), AX
	KMOVW AX, K1
	SHRL $16, AX
	KMOVW AX, K2
	TESTQ $4, BX
	JEQ noscale
	VBROADCASTSS alpha+64(FP), Z26
	VMULPS Z26, Z0, Z0
	VMULPS Z26, Z1, Z1
	VMULPS Z26, Z2, Z2
	VMULPS Z26, Z3, Z3
	VMULPS Z26, Z4, Z4
	VMULPS Z26, Z5, Z5
	VMULPS Z26, Z6, Z6
	VMULPS Z26, Z7, Z7
	VMULPS Z26, Z8, Z8
	VMULPS Z26, Z9, Z9
	VMULPS Z26, Z10, Z10
	VMULPS Z26, Z11, Z11
	VMULPS Z26, Z12, Z12
	VMULPS Z26, Z13, Z13
	VMULPS Z26, Z14, Z14
	VMULPS Z26, Z15, Z15
	VMULPS Z26, Z16, Z16
	VMULPS Z26, Z17, Z17
	VMULPS Z26, Z18, Z18
	VMULPS Z26, Z19, Z19
	VMULPS Z26, Z20, Z20
	VMULPS Z26, Z21, Z21
	VMULPS Z26, Z22, Z22
	VMULPS Z26, Z23, Z23

noscale:
	TESTQ $2, BX
	JEQ nobias
	MOVQ bias+80(FP), AX
	VMOVUPS.Z (AX), K1, Z24
	VMOVUPS.Z 64(AX), K2, Z25
	VADDPS Z24, Z0, Z0
	VADDPS Z25, Z1, Z1
	VADDPS Z24, Z2, Z2
	VADDPS Z25, Z3, Z3
	VADDPS Z24, Z4, Z4
	VADDPS Z25, Z5, Z5
	VADDPS Z24, Z6, Z6
	VADDPS Z25, Z7, Z7
	VADDPS Z24, Z8, Z8
	VADDPS Z25, Z9, Z9
	VADDPS Z24, Z10, Z10
	VADDPS Z25, Z11, Z11
	VADDPS Z24, Z12, Z12
	VADDPS Z25, Z13, Z13
	VADDPS Z24, Z14, Z14
	VADDPS Z25, Z15, Z15
	VADDPS Z24, Z16, Z16
	VADDPS Z25, Z17, Z17
	VADDPS Z24, Z18, Z18
	VADDPS Z25, Z19, Z19
	VADDPS Z24, Z20, Z20
	VADDPS Z25, Z21, Z21
	VADDPS Z24, Z22, Z22
	VADDPS Z25, Z23, Z23

nobias:
	TESTQ $1, BX
	JNE accstore

// C[r] = acc[r] for r < mr.
#define STROW(z0, z1) VMOVUPS z0, K1, (DX); VMOVUPS z1, K2, 64(DX); DECQ CX; JEQ done; ADDQ R8, DX
	STROW(Z0, Z1)
	STROW(Z2, Z3)
	STROW(Z4, Z5)
	STROW(Z6, Z7)
	STROW(Z8, Z9)
	STROW(Z10, Z11)
	STROW(Z12, Z13)
	STROW(Z14, Z15)
	STROW(Z16, Z17)
	STROW(Z18, Z19)
	STROW(Z20, Z21)
	STROW(Z22, Z23)
	JMP done

// C[r] += acc[r] for r < mr.
#define ACCROW(z0, z1) VMOVUPS.Z (DX), K1, Z26; VADDPS z0, Z26, Z26; VMOVUPS Z26, K1, (DX); VMOVUPS.Z 64(DX), K2, Z27; VADDPS z1, Z27, Z27; VMOVUPS Z27, K2, 64(DX); DECQ CX; JEQ done; ADDQ R8, DX

accstore:
	ACCROW(Z0, Z1)
	ACCROW(Z2, Z3)
	ACCROW(Z4, Z5)
	ACCROW(Z6, Z7)
	ACCROW(Z8, Z9)
	ACCROW(Z10, Z11)
	ACCROW(Z12, Z13)
	ACCROW(Z14, Z15)
	ACCROW(Z16, Z17)
	ACCROW(Z18, Z19)
	ACCROW(Z20, Z21)
	ACCROW(Z22, Z23)

done:
	VZEROUPPER
	RET
