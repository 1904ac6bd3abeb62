//go:build amd64 && !purego && !openblas

#include "textflag.h"

// func sgemm4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)
//
// C[0:4, 0:16] += A[0:4, 0:k] · B[0:k, 0:16] for row-major float32
// matrices with leading dimensions lda, ldb, ldc (in elements): the tile
// stays in eight YMM accumulators while k runs, each step loading one row
// of B (two vectors) and broadcasting one element of each row of A.
TEXT ·sgemm4x16(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	LEAQ (SI)(R8*1), R11     // row 1 of A
	LEAQ (R11)(R8*1), R12    // row 2
	LEAQ (R12)(R8*1), R13    // row 3
	MOVQ DX, R14
	VMOVUPS (R14), Y0
	VMOVUPS 32(R14), Y1
	ADDQ    R10, R14
	VMOVUPS (R14), Y2
	VMOVUPS 32(R14), Y3
	ADDQ    R10, R14
	VMOVUPS (R14), Y4
	VMOVUPS 32(R14), Y5
	ADDQ    R10, R14
	VMOVUPS (R14), Y6
	VMOVUPS 32(R14), Y7
	TESTQ   CX, CX
	JZ      store4
loop4:
	VMOVUPS      (DI), Y8
	VMOVUPS      32(DI), Y9
	VBROADCASTSS (SI), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS (R11), Y11
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS (R12), Y12
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VBROADCASTSS (R13), Y13
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         $4, SI
	ADDQ         $4, R11
	ADDQ         $4, R12
	ADDQ         $4, R13
	ADDQ         R9, DI
	DECQ         CX
	JNZ          loop4
store4:
	MOVQ    DX, R14
	VMOVUPS Y0, (R14)
	VMOVUPS Y1, 32(R14)
	ADDQ    R10, R14
	VMOVUPS Y2, (R14)
	VMOVUPS Y3, 32(R14)
	ADDQ    R10, R14
	VMOVUPS Y4, (R14)
	VMOVUPS Y5, 32(R14)
	ADDQ    R10, R14
	VMOVUPS Y6, (R14)
	VMOVUPS Y7, 32(R14)
	VZEROUPPER
	RET

// func sgemm1x16(k int, a *float32, b *float32, ldb int, c *float32)
//
// C[0, 0:16] += A[0, 0:k] · B[0:k, 0:16], for the rows left over by the
// four-row tiles.
TEXT ·sgemm1x16(SB), NOSPLIT, $0-40
	MOVQ    k+0(FP), CX
	MOVQ    a+8(FP), SI
	MOVQ    b+16(FP), DI
	MOVQ    ldb+24(FP), R9
	MOVQ    c+32(FP), DX
	SHLQ    $2, R9
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	TESTQ   CX, CX
	JZ      store1
loop1:
	VBROADCASTSS (SI), Y10
	VFMADD231PS  (DI), Y10, Y0
	VFMADD231PS  32(DI), Y10, Y1
	ADDQ         $4, SI
	ADDQ         R9, DI
	DECQ         CX
	JNZ          loop1
store1:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET
