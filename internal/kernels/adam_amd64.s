//go:build !noasm

#include "textflag.h"

// func adamAVX(r *AdamRule, w, g, m, v []float32) int
// len(w) is a multiple of 8 and g, m, v are at least as long.
// Per element, in adamGo's order of operations:
//   m = b1*m + c1*g;  v = b2*v + (c2*g)*g;  w = w - (step*m) / (sqrt(v)*s + eps)
// Each eight gradients are checked first: g - g is +0 when g is finite and
// NaN otherwise. At eight that hold a NaN or an infinity it stops, before
// writing them, and returns their index; else it returns len(w).
TEXT ·adamAVX(SB), NOSPLIT, $0-112
	MOVQ r+0(FP), AX
	MOVQ w_base+8(FP), DI
	MOVQ w_len+16(FP), CX
	MOVQ g_base+32(FP), SI
	MOVQ m_base+56(FP), R8
	MOVQ v_base+80(FP), R9
	VBROADCASTSS 0(AX), Y8   // b1
	VBROADCASTSS 4(AX), Y9   // c1
	VBROADCASTSS 8(AX), Y10  // b2
	VBROADCASTSS 12(AX), Y11 // c2
	VBROADCASTSS 16(AX), Y12 // step
	VBROADCASTSS 20(AX), Y13 // s
	VBROADCASTSS 24(AX), Y14 // eps
	XORQ BX, BX
	SHLQ $2, CX              // bytes
	JZ   done

loop:
	VMOVUPS (SI)(BX*1), Y0   // g
	VSUBPS  Y0, Y0, Y15      // g - g
	VPTEST  Y15, Y15         // all bits zero unless some g is not finite
	JNZ     bad
	VMULPS  (R8)(BX*1), Y8, Y1 // b1*m
	VMULPS  Y0, Y9, Y2       // c1*g
	VADDPS  Y2, Y1, Y1       // m
	VMOVUPS Y1, (R8)(BX*1)
	VMULPS  Y0, Y11, Y3      // c2*g
	VMULPS  Y0, Y3, Y3       // (c2*g)*g
	VMULPS  (R9)(BX*1), Y10, Y4 // b2*v
	VADDPS  Y3, Y4, Y4       // v
	VMOVUPS Y4, (R9)(BX*1)
	VSQRTPS Y4, Y5
	VMULPS  Y13, Y5, Y5      // sqrt(v)*s
	VADDPS  Y14, Y5, Y5      // + eps
	VMULPS  Y12, Y1, Y6      // step*m
	VDIVPS  Y5, Y6, Y6       // / (sqrt(v)*s + eps)
	VMOVUPS (DI)(BX*1), Y7
	VSUBPS  Y6, Y7, Y7       // w - update
	VMOVUPS Y7, (DI)(BX*1)
	ADDQ $32, BX
	CMPQ BX, CX
	JL   loop

done:
	SHRQ $2, CX
	MOVQ CX, ret+104(FP)
	VZEROUPPER
	RET

bad:
	SHRQ $2, BX
	MOVQ BX, ret+104(FP)
	VZEROUPPER
	RET

// func diffSumAVX(x []float32, acc *[8]float32)
TEXT ·diffSumAVX(SB), NOSPLIT, $0-32
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ acc+24(FP), AX
	VMOVUPS (AX), Y0
	XORQ BX, BX
	SHLQ $2, CX
	JZ   sumdone

sumloop:
	VMOVUPS (SI)(BX*1), Y2
	VSUBPS  Y2, Y2, Y2
	VADDPS  Y2, Y0, Y0
	ADDQ $32, BX
	CMPQ BX, CX
	JL   sumloop

sumdone:
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET
