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

// func sgemm8x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)
//
// C[0:8, 0:32] += A[0:8, 0:k] · B[0:k, 0:32] with AVX-512: sixteen ZMM
// accumulators, each step loading one row of B (two vectors) and
// broadcasting one element of each of A's eight rows (rows 0-3 from SI,
// 4-7 from BX, at offsets 0, lda, 2·lda, 3·lda).
TEXT ·sgemm8x32(SB), NOSPLIT, $0-56
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
	LEAQ (R8)(R8*2), R11 // 3·lda
	LEAQ (SI)(R8*4), BX  // row 4 of A
	LEAQ (R10)(R10*2), R12 // 3·ldc
	LEAQ (DX)(R10*4), R13  // row 4 of C
	VMOVUPS (DX), Z0
	VMOVUPS 64(DX), Z1
	VMOVUPS (DX)(R10*1), Z2
	VMOVUPS 64(DX)(R10*1), Z3
	VMOVUPS (DX)(R10*2), Z4
	VMOVUPS 64(DX)(R10*2), Z5
	VMOVUPS (DX)(R12*1), Z6
	VMOVUPS 64(DX)(R12*1), Z7
	VMOVUPS (R13), Z8
	VMOVUPS 64(R13), Z9
	VMOVUPS (R13)(R10*1), Z10
	VMOVUPS 64(R13)(R10*1), Z11
	VMOVUPS (R13)(R10*2), Z12
	VMOVUPS 64(R13)(R10*2), Z13
	VMOVUPS (R13)(R12*1), Z14
	VMOVUPS 64(R13)(R12*1), Z15
	TESTQ   CX, CX
	JZ      store8
loop8:
	VMOVUPS      (DI), Z16
	VMOVUPS      64(DI), Z17
	VBROADCASTSS (SI), Z18
	VFMADD231PS  Z16, Z18, Z0
	VFMADD231PS  Z17, Z18, Z1
	VBROADCASTSS (SI)(R8*1), Z19
	VFMADD231PS  Z16, Z19, Z2
	VFMADD231PS  Z17, Z19, Z3
	VBROADCASTSS (SI)(R8*2), Z20
	VFMADD231PS  Z16, Z20, Z4
	VFMADD231PS  Z17, Z20, Z5
	VBROADCASTSS (SI)(R11*1), Z21
	VFMADD231PS  Z16, Z21, Z6
	VFMADD231PS  Z17, Z21, Z7
	VBROADCASTSS (BX), Z22
	VFMADD231PS  Z16, Z22, Z8
	VFMADD231PS  Z17, Z22, Z9
	VBROADCASTSS (BX)(R8*1), Z23
	VFMADD231PS  Z16, Z23, Z10
	VFMADD231PS  Z17, Z23, Z11
	VBROADCASTSS (BX)(R8*2), Z24
	VFMADD231PS  Z16, Z24, Z12
	VFMADD231PS  Z17, Z24, Z13
	VBROADCASTSS (BX)(R11*1), Z25
	VFMADD231PS  Z16, Z25, Z14
	VFMADD231PS  Z17, Z25, Z15
	ADDQ         $4, SI
	ADDQ         $4, BX
	ADDQ         R9, DI
	DECQ         CX
	JNZ          loop8
store8:
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, (DX)(R10*1)
	VMOVUPS Z3, 64(DX)(R10*1)
	VMOVUPS Z4, (DX)(R10*2)
	VMOVUPS Z5, 64(DX)(R10*2)
	VMOVUPS Z6, (DX)(R12*1)
	VMOVUPS Z7, 64(DX)(R12*1)
	VMOVUPS Z8, (R13)
	VMOVUPS Z9, 64(R13)
	VMOVUPS Z10, (R13)(R10*1)
	VMOVUPS Z11, 64(R13)(R10*1)
	VMOVUPS Z12, (R13)(R10*2)
	VMOVUPS Z13, 64(R13)(R10*2)
	VMOVUPS Z14, (R13)(R12*1)
	VMOVUPS Z15, 64(R13)(R12*1)
	VZEROUPPER
	RET
