//go:build amd64 && !purego

#include "textflag.h"

// func reluAVX2(x []float32)
//
// x[i] = max(x[i], 0) eight at a time (len(x) a multiple of 8). VMAXPS
// returns its second operand, zero, when x[i] is NaN and when x[i] is −0.
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	SHRQ   $3, CX
	JZ     rdone
	VXORPS Y0, Y0, Y0
rloop:
	VMOVUPS (SI), Y1
	VMAXPS  Y0, Y1, Y1
	VMOVUPS Y1, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JNZ     rloop
rdone:
	VZEROUPPER
	RET

// func reluGradAVX2(s, y, g []float32)
//
// s[i] = g[i] where y[i] > 0 (ordered: not for NaN) and g[i] is neither
// zero nor subnormal, else +0, eight at a time (len(s) a multiple of 8;
// y and g at least as long).
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-72
	MOVQ   s_base+0(FP), DI
	MOVQ   s_len+8(FP), CX
	MOVQ   y_base+24(FP), SI
	MOVQ   g_base+48(FP), DX
	SHRQ   $3, CX
	JZ     gdone
	VXORPS Y0, Y0, Y0
	MOVL   $0x7f800000, AX
	VMOVD  AX, X1
	VPBROADCASTD X1, Y1
gloop:
	VMOVUPS  (SI), Y2
	VCMPPS   $0x1e, Y0, Y2, Y2 // y > 0
	VMOVUPS  (DX), Y3
	VANDPS   Y1, Y3, Y4        // g's exponent bits
	VPCMPEQD Y0, Y4, Y4        // zero or subnormal
	VANDNPS  Y3, Y4, Y4        // g where it is not
	VANDPS   Y2, Y4, Y4
	VMOVUPS  Y4, (DI)
	ADDQ     $32, SI
	ADDQ     $32, DX
	ADDQ     $32, DI
	DECQ     CX
	JNZ      gloop
gdone:
	VZEROUPPER
	RET
