//go:build amd64 && !purego && !openblas

#include "textflag.h"

// func sgemm8x32rows(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, bias *float32, relu int)
//
// C[0:8, 0:32] += A[0:8, 0:k] · B where row kk of B is the 32 floats at
// byte offset offs[kk] from b: sgemm8x32 with the rows of B gathered by
// an offset table instead of a fixed stride, so that a convolution reads
// its shifted windows straight from a zero-padded image (no im2col).
// With bias not nil, C is not read: row i starts at bias[i] instead
// (C = bias + A·B); with relu not zero, the tile is clamped at zero
// before it is stored (a convolution's bias and ReLU in the same pass).
TEXT ·sgemm8x32rows(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), R9
	MOVQ offs+32(FP), AX
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	SHLQ $2, R8
	SHLQ $2, R10
	LEAQ (R8)(R8*2), R11 // 3·lda
	LEAQ (SI)(R8*4), BX  // row 4 of A
	LEAQ (R10)(R10*2), R12 // 3·ldc
	LEAQ (DX)(R10*4), R13  // row 4 of C
	MOVQ bias+56(FP), DI
	TESTQ DI, DI
	JZ loadr
	VBROADCASTSS (DI), Z0
	VMOVAPS Z0, Z1
	VBROADCASTSS 4(DI), Z2
	VMOVAPS Z2, Z3
	VBROADCASTSS 8(DI), Z4
	VMOVAPS Z4, Z5
	VBROADCASTSS 12(DI), Z6
	VMOVAPS Z6, Z7
	VBROADCASTSS 16(DI), Z8
	VMOVAPS Z8, Z9
	VBROADCASTSS 20(DI), Z10
	VMOVAPS Z10, Z11
	VBROADCASTSS 24(DI), Z12
	VMOVAPS Z12, Z13
	VBROADCASTSS 28(DI), Z14
	VMOVAPS Z14, Z15
	JMP startr
loadr:
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
startr:
	TESTQ   CX, CX
	JZ      relur
loopr:
	MOVQ         (AX), DI
	ADDQ         R9, DI
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
	ADDQ         $8, AX
	DECQ         CX
	JNZ          loopr
relur:
	MOVQ relu+64(FP), DI
	TESTQ DI, DI
	JZ storer
	VXORPS Z16, Z16, Z16
	VMAXPS Z16, Z0, Z0
	VMAXPS Z16, Z1, Z1
	VMAXPS Z16, Z2, Z2
	VMAXPS Z16, Z3, Z3
	VMAXPS Z16, Z4, Z4
	VMAXPS Z16, Z5, Z5
	VMAXPS Z16, Z6, Z6
	VMAXPS Z16, Z7, Z7
	VMAXPS Z16, Z8, Z8
	VMAXPS Z16, Z9, Z9
	VMAXPS Z16, Z10, Z10
	VMAXPS Z16, Z11, Z11
	VMAXPS Z16, Z12, Z12
	VMAXPS Z16, Z13, Z13
	VMAXPS Z16, Z14, Z14
	VMAXPS Z16, Z15, Z15
storer:
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
