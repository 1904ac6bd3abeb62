//go:build amd64 && !purego

#include "textflag.h"

// Coefficients of the rational tanh of internal/vecmath (tanh.go), each
// broadcast to 4 float64 lanes.
DATA tanhc<>+0(SB)/8, $0x4022000000000000 // nine
DATA tanhc<>+8(SB)/8, $0x4022000000000000 // nine
DATA tanhc<>+16(SB)/8, $0x4022000000000000 // nine
DATA tanhc<>+24(SB)/8, $0x4022000000000000 // nine
DATA tanhc<>+32(SB)/8, $0x3f8948b0fcd6e9e0 // inv81
DATA tanhc<>+40(SB)/8, $0x3f8948b0fcd6e9e0 // inv81
DATA tanhc<>+48(SB)/8, $0x3f8948b0fcd6e9e0 // inv81
DATA tanhc<>+56(SB)/8, $0x3f8948b0fcd6e9e0 // inv81
DATA tanhc<>+64(SB)/8, $0xbfa47bd0e52e8274 // a5
DATA tanhc<>+72(SB)/8, $0xbfa47bd0e52e8274 // a5
DATA tanhc<>+80(SB)/8, $0xbfa47bd0e52e8274 // a5
DATA tanhc<>+88(SB)/8, $0xbfa47bd0e52e8274 // a5
DATA tanhc<>+96(SB)/8, $0x3ff45621693d76e8 // a4
DATA tanhc<>+104(SB)/8, $0x3ff45621693d76e8 // a4
DATA tanhc<>+112(SB)/8, $0x3ff45621693d76e8 // a4
DATA tanhc<>+120(SB)/8, $0x3ff45621693d76e8 // a4
DATA tanhc<>+128(SB)/8, $0x402d46ab94dad830 // a3
DATA tanhc<>+136(SB)/8, $0x402d46ab94dad830 // a3
DATA tanhc<>+144(SB)/8, $0x402d46ab94dad830 // a3
DATA tanhc<>+152(SB)/8, $0x402d46ab94dad830 // a3
DATA tanhc<>+160(SB)/8, $0x403939ad68aa7cfd // a2
DATA tanhc<>+168(SB)/8, $0x403939ad68aa7cfd // a2
DATA tanhc<>+176(SB)/8, $0x403939ad68aa7cfd // a2
DATA tanhc<>+184(SB)/8, $0x403939ad68aa7cfd // a2
DATA tanhc<>+192(SB)/8, $0x40262176c7c520d7 // a1
DATA tanhc<>+200(SB)/8, $0x40262176c7c520d7 // a1
DATA tanhc<>+208(SB)/8, $0x40262176c7c520d7 // a1
DATA tanhc<>+216(SB)/8, $0x40262176c7c520d7 // a1
DATA tanhc<>+224(SB)/8, $0x3feffffffeaf8411 // a0
DATA tanhc<>+232(SB)/8, $0x3feffffffeaf8411 // a0
DATA tanhc<>+240(SB)/8, $0x3feffffffeaf8411 // a0
DATA tanhc<>+248(SB)/8, $0x3feffffffeaf8411 // a0
DATA tanhc<>+256(SB)/8, $0x404b06f7e4f7f095 // b4
DATA tanhc<>+264(SB)/8, $0x404b06f7e4f7f095 // b4
DATA tanhc<>+272(SB)/8, $0x404b06f7e4f7f095 // b4
DATA tanhc<>+280(SB)/8, $0x404b06f7e4f7f095 // b4
DATA tanhc<>+288(SB)/8, $0x4069e413b76b6854 // b3
DATA tanhc<>+296(SB)/8, $0x4069e413b76b6854 // b3
DATA tanhc<>+304(SB)/8, $0x4069e413b76b6854 // b3
DATA tanhc<>+312(SB)/8, $0x4069e413b76b6854 // b3
DATA tanhc<>+320(SB)/8, $0x4066461624254ab9 // b2
DATA tanhc<>+328(SB)/8, $0x4066461624254ab9 // b2
DATA tanhc<>+336(SB)/8, $0x4066461624254ab9 // b2
DATA tanhc<>+344(SB)/8, $0x4066461624254ab9 // b2
DATA tanhc<>+352(SB)/8, $0x4043085da14c3c29 // b1
DATA tanhc<>+360(SB)/8, $0x4043085da14c3c29 // b1
DATA tanhc<>+368(SB)/8, $0x4043085da14c3c29 // b1
DATA tanhc<>+376(SB)/8, $0x4043085da14c3c29 // b1
DATA tanhc<>+384(SB)/8, $0x3ff0000000000000 // one
DATA tanhc<>+392(SB)/8, $0x3ff0000000000000 // one
DATA tanhc<>+400(SB)/8, $0x3ff0000000000000 // one
DATA tanhc<>+408(SB)/8, $0x3ff0000000000000 // one
GLOBL tanhc<>(SB), RODATA|NOPTR, $416
DATA absmask<>+0(SB)/8, $0x7fffffffffffffff
DATA absmask<>+8(SB)/8, $0x7fffffffffffffff
DATA absmask<>+16(SB)/8, $0x7fffffffffffffff
DATA absmask<>+24(SB)/8, $0x7fffffffffffffff
GLOBL absmask<>(SB), RODATA|NOPTR, $32

// func tanhAVX2(x []float32) — x[i] = tanh(x[i]) for the first len(x)&^3
// values, 4 at a time, in float64 lanes with the very operations of
// Tanh64To32 (multiplies and adds, no fused multiply-add), so the result
// is bit for bit the scalar path's: u = x²/81, x·P(u)/Q(u), ±1 where
// |x| ≥ 9, rounded to float32. NaN propagates.
TEXT ·tanhAVX2(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $2, CX
	JZ   done
	LEAQ tanhc<>(SB), DX
	VMOVUPD 0(DX), Y5
	VMOVUPD absmask<>(SB), Y7
	VMOVUPD 384(DX), Y8
loop:
	VCVTPS2PD (SI), Y0                   // x, 4 lanes of float64
	VANDPD  Y7, Y0, Y9                   // |x|
	VCMPPD  $13, Y5, Y9, Y9              // |x| ≥ 9 (false for NaN)
	VANDNPD Y0, Y7, Y10                  // sign bit of x
	VORPD   Y8, Y10, Y10                 // ±1
	VMULPD  Y0, Y0, Y1
	VMULPD  32(DX), Y1, Y1            // u
	VMULPD  64(DX), Y1, Y2               // P(u), Horner
	VADDPD  96(DX), Y2, Y2
	VMULPD  Y1, Y2, Y2
	VADDPD  128(DX), Y2, Y2
	VMULPD  Y1, Y2, Y2
	VADDPD  160(DX), Y2, Y2
	VMULPD  Y1, Y2, Y2
	VADDPD  192(DX), Y2, Y2
	VMULPD  Y1, Y2, Y2
	VADDPD  224(DX), Y2, Y2
	VMULPD  256(DX), Y1, Y3               // Q(u)
	VADDPD  288(DX), Y3, Y3
	VMULPD  Y1, Y3, Y3
	VADDPD  320(DX), Y3, Y3
	VMULPD  Y1, Y3, Y3
	VADDPD  352(DX), Y3, Y3
	VMULPD  Y1, Y3, Y3
	VADDPD  384(DX), Y3, Y3
	VMULPD  Y2, Y0, Y2                   // x·P
	VDIVPD  Y3, Y2, Y2                   // x·P/Q
	VBLENDVPD Y9, Y10, Y2, Y2            // ±1 where |x| ≥ 9
	VCVTPD2PSY Y2, X2
	VMOVUPS X2, (SI)
	ADDQ    $16, SI
	DECQ    CX
	JNZ     loop
	VZEROUPPER
done:
	RET
