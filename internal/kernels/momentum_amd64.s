//go:build !noasm

#include "textflag.h"

// func momentumAVX(c *[2]float32, w, g, m []float32) int
// len(w) is a multiple of 8 and g, m are at least as long; c holds mu, lr.
// Per element, in momentumGo's order of operations:
//   m = mu*m + g;  w = w - lr*m
// Each eight gradients are checked first, as in adamAVX: at eight that
// hold a NaN or an infinity it stops, before writing them, and returns
// their index; else it returns len(w).
TEXT ·momentumAVX(SB), NOSPLIT, $0-88
	MOVQ c+0(FP), AX
	MOVQ w_base+8(FP), DI
	MOVQ w_len+16(FP), CX
	MOVQ g_base+32(FP), SI
	MOVQ m_base+56(FP), R8
	VBROADCASTSS 0(AX), Y8   // mu
	VBROADCASTSS 4(AX), Y9   // lr
	XORQ BX, BX
	SHLQ $2, CX              // bytes
	JZ   mdone

mloop:
	VMOVUPS (SI)(BX*1), Y0   // g
	VSUBPS  Y0, Y0, Y15      // g - g
	VPTEST  Y15, Y15         // all bits zero unless some g is not finite
	JNZ     mbad
	VMULPS  (R8)(BX*1), Y8, Y1 // mu*m
	VADDPS  Y0, Y1, Y1       // m = mu*m + g
	VMOVUPS Y1, (R8)(BX*1)
	VMULPS  Y1, Y9, Y2       // lr*m
	VMOVUPS (DI)(BX*1), Y3
	VSUBPS  Y2, Y3, Y3       // w - lr*m
	VMOVUPS Y3, (DI)(BX*1)
	ADDQ $32, BX
	CMPQ BX, CX
	JL   mloop

mdone:
	SHRQ $2, CX
	MOVQ CX, ret+80(FP)
	VZEROUPPER
	RET

mbad:
	SHRQ $2, BX
	MOVQ BX, ret+80(FP)
	VZEROUPPER
	RET
