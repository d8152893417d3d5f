//go:build !noasm

#include "textflag.h"

// EXPNEG sets Y4 = exp(-Y1) for Y1 = a >= 0, with the constants of
// kernelConsts at AX, using Y2, Y3, Y5, Y6 and Y15:
//   exp(-a) = 2^-n p(r),  n = round(a log2 e), r = a - n ln 2 (|r| <= ln2/2),
//   p the degree-7 Taylor polynomial of exp(-r); a above 87 is taken as 87
//   (exp(-87) is a normal float32); NaN stays NaN.
#define EXPNEG \
	VMOVUPS 32(AX), Y15; \
	VMINPS  Y1, Y15, Y1; \
	VMULPS  64(AX), Y1, Y2; \
	VROUNDPS $0, Y2, Y2; \
	VMOVAPS Y1, Y3; \
	VFNMADD231PS 96(AX), Y2, Y3; \
	VFNMADD231PS 128(AX), Y2, Y3; \
	VMOVUPS 160(AX), Y4; \
	VFMADD213PS 192(AX), Y3, Y4; \
	VFMADD213PS 224(AX), Y3, Y4; \
	VFMADD213PS 256(AX), Y3, Y4; \
	VFMADD213PS 288(AX), Y3, Y4; \
	VFMADD213PS 320(AX), Y3, Y4; \
	VFMADD213PS 352(AX), Y3, Y4; \
	VFMADD213PS 384(AX), Y3, Y4; \
	VCVTPS2DQ Y2, Y5; \
	VMOVDQU 704(AX), Y6; \
	VPSUBD  Y5, Y6, Y5; \
	VPSLLD  $23, Y5, Y5; \
	VMULPS  Y5, Y4, Y4

// func nllAVX2(k *kernelConsts, l, x, resid []float32, acc *[8]float64)
// Eight pixels per iteration, with a = |l| and e = exp(-a):
//   e     = 2^-n p(r),  n = round(a log2 e), r = a - n ln 2, p the degree-7 Taylor polynomial of exp(-r)
//   log(1 + e) = 2 s (1 + z/3 + ... + z^6/13),  s = e / (2 + e), z = s^2
//   term  = (max(l, 0) - x l) + log(1 + e)          added into acc in float64
//   resid = (l < 0 ? e / (1 + e) : 1 / (1 + e)) - x
// Offsets into kernelConsts: absMask 0, maxArg 32, log2e 64, ln2Hi 96,
// ln2Lo 128, exp 160 (8 x 32), log 416 (7 x 32), one 640, two 672, bias 704.
TEXT ·nllAVX2(SB), NOSPLIT, $0-88
	MOVQ k+0(FP), AX
	MOVQ l_base+8(FP), SI
	MOVQ l_len+16(FP), CX
	MOVQ x_base+32(FP), DI
	MOVQ resid_base+56(FP), DX
	MOVQ acc+80(FP), R8
	VMOVUPD (R8), Y12
	VMOVUPD 32(R8), Y13
	XORQ BX, BX
	SHLQ $2, CX
	JZ   done

loop:
	VMOVUPS (SI)(BX*1), Y0          // l
	VANDPS  0(AX), Y0, Y1           // a = |l|
	EXPNEG                          // Y4 = e = exp(-a)

	VADDPS  672(AX), Y4, Y6         // 2 + e
	VDIVPS  Y6, Y4, Y6              // s = e / (2 + e)
	VMULPS  Y6, Y6, Y7              // z = s^2
	VMOVUPS 416(AX), Y8             // q = 1/13
	VFMADD213PS 448(AX), Y7, Y8     // q = q z + 1/11
	VFMADD213PS 480(AX), Y7, Y8
	VFMADD213PS 512(AX), Y7, Y8
	VFMADD213PS 544(AX), Y7, Y8
	VFMADD213PS 576(AX), Y7, Y8
	VFMADD213PS 608(AX), Y7, Y8     // q = q z + 1
	VMULPS  Y6, Y8, Y8
	VADDPS  Y8, Y8, Y8              // log(1 + e) = 2 s q

	VMOVUPS (DI)(BX*1), Y9          // x
	VXORPS  Y10, Y10, Y10
	VMAXPS  Y10, Y0, Y10            // max(l, 0)
	VMULPS  Y9, Y0, Y11             // x l
	VSUBPS  Y11, Y10, Y10           // max(l, 0) - x l: exact for binary x
	VADDPS  Y8, Y10, Y10            // term
	VCVTPS2PD X10, Y11
	VADDPD  Y11, Y12, Y12           // acc[0:4] += terms 0..3
	VEXTRACTF128 $1, Y10, X10
	VCVTPS2PD X10, Y11
	VADDPD  Y11, Y13, Y13           // acc[4:8] += terms 4..7

	VADDPS  640(AX), Y4, Y11        // 1 + e
	VMOVUPS 640(AX), Y10
	VDIVPS  Y11, Y10, Y10           // d = 1 / (1 + e)
	VMULPS  Y10, Y4, Y11            // e d
	VBLENDVPS Y0, Y11, Y10, Y10     // sigmoid(l): e d where l < 0, else d
	VSUBPS  Y9, Y10, Y10            // - x
	VMOVUPS Y10, (DX)(BX*1)

	ADDQ $32, BX
	CMPQ BX, CX
	JL   loop

done:
	VMOVUPD Y12, (R8)
	VMOVUPD Y13, 32(R8)
	VZEROUPPER
	RET

// func expNegAVX2(k *kernelConsts, a []float32)
// a[i] = exp(-a[i]) for a[i] >= 0, len(a) a multiple of 8: the first part
// of nllAVX2's loop.
TEXT ·expNegAVX2(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), AX
	MOVQ a_base+8(FP), SI
	MOVQ a_len+16(FP), CX
	XORQ BX, BX
	SHLQ $2, CX
	JZ   expdone

exploop:
	VMOVUPS (SI)(BX*1), Y1          // a
	EXPNEG                          // Y4 = exp(-a)
	VMOVUPS Y4, (SI)(BX*1)
	ADDQ $32, BX
	CMPQ BX, CX
	JL   exploop

expdone:
	VZEROUPPER
	RET
