//go:build amd64 && !purego

#include "textflag.h"

// func adamAVX2(w, g, m, v []float32, c *[9]float32) — the Adam update of
// Adam (adam.go), 8 lanes at a time, with the scalar path's operations in
// its order: no fused multiply-add, so results agree bit for bit.
TEXT ·adamAVX2(SB), NOSPLIT, $0-104
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ c+96(FP), DX
	SHRQ $3, CX
	JZ   done
	VBROADCASTSS 0(DX), Y7               // scale
	VBROADCASTSS 4(DX), Y8               // weight decay
	VBROADCASTSS 8(DX), Y9               // β₁
	VBROADCASTSS 12(DX), Y10             // β₂
	VBROADCASTSS 16(DX), Y11             // 1−β₁
	VBROADCASTSS 20(DX), Y12             // 1−β₂
	VBROADCASTSS 24(DX), Y13             // c1
	VBROADCASTSS 28(DX), Y14             // c2
	VBROADCASTSS 32(DX), Y15             // ε
loop:
	VMOVUPS (DI), Y0                     // w
	VMOVUPS (SI), Y1                     // g
	VMULPS  Y7, Y1, Y1                   // g·scale
	VMULPS  Y0, Y8, Y2                   // wd·w
	VADDPS  Y2, Y1, Y1                   // g'
	VMULPS  (R8), Y9, Y2                 // β₁·m
	VMULPS  Y1, Y11, Y3                  // (1−β₁)·g'
	VADDPS  Y3, Y2, Y2                   // m
	VMULPS  (R9), Y10, Y3                // β₂·v
	VMULPS  Y1, Y12, Y4                  // (1−β₂)·g'
	VMULPS  Y1, Y4, Y4                   // ·g'
	VADDPS  Y4, Y3, Y3                   // v
	VMOVUPS Y2, (R8)
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y4
	VMULPS  Y14, Y4, Y4                  // √v·c2
	VADDPS  Y15, Y4, Y4                  // + ε
	VMULPS  Y2, Y13, Y5                  // c1·m
	VDIVPS  Y4, Y5, Y5
	VSUBPS  Y5, Y0, Y0                   // w − update
	VMOVUPS Y0, (DI)
	VXORPS  Y6, Y6, Y6
	VMOVUPS Y6, (SI)                     // g = 0
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     loop
	VZEROUPPER
done:
	RET
