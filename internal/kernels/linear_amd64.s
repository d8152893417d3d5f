//go:build !noasm

#include "textflag.h"

// func biasActAVX(y, b []float32, relu bool)
// len(y) is a multiple of 8 and b is at least as long. Per element, as
// biasActGo: y = y + b, then with relu y = max(y, 0).
TEXT ·biasActAVX(SB), NOSPLIT, $0-49
	MOVQ    y_base+0(FP), DI
	MOVQ    y_len+8(FP), CX
	MOVQ    b_base+24(FP), SI
	MOVBLZX relu+48(FP), AX
	VXORPS  Y15, Y15, Y15    // +0
	XORQ    BX, BX
	SHLQ    $2, CX           // bytes
	JZ      biasdone
	TESTQ   AX, AX
	JZ      biasonly

biasrelu:
	VMOVUPS (DI)(BX*1), Y0
	VADDPS  (SI)(BX*1), Y0, Y0 // y + b
	VMAXPS  Y0, Y15, Y0      // 0 > y ? 0 : y, so NaN stays NaN and -0 stays -0
	VADDPS  Y15, Y0, Y0      // -0 + 0 = +0, as Go's max(-0, 0)
	VMOVUPS Y0, (DI)(BX*1)
	ADDQ    $32, BX
	CMPQ    BX, CX
	JL      biasrelu
	JMP     biasdone

biasonly:
	VMOVUPS (DI)(BX*1), Y0
	VADDPS  (SI)(BX*1), Y0, Y0 // y + b
	VMOVUPS Y0, (DI)(BX*1)
	ADDQ    $32, BX
	CMPQ    BX, CX
	JL      biasonly

biasdone:
	VZEROUPPER
	RET

// func reluMaskAVX2(d, y, dy []float32)
// len(d) is a multiple of 8 and y, dy are at least as long. Per element,
// as reluMaskGo: d = dy where the bits of y, read as an int32, are
// positive (y > 0, or a NaN without its sign bit), else +0.
TEXT ·reluMaskAVX2(SB), NOSPLIT, $0-72
	MOVQ  d_base+0(FP), DI
	MOVQ  d_len+8(FP), CX
	MOVQ  y_base+24(FP), SI
	MOVQ  dy_base+48(FP), DX
	VPXOR Y15, Y15, Y15
	XORQ  BX, BX
	SHLQ  $2, CX
	JZ    maskdone

maskloop:
	VMOVDQU  (SI)(BX*1), Y0
	VPCMPGTD Y15, Y0, Y0     // all ones where int32(bits of y) > 0
	VANDPS   (DX)(BX*1), Y0, Y0
	VMOVUPS  Y0, (DI)(BX*1)
	ADDQ     $32, BX
	CMPQ     BX, CX
	JL       maskloop

maskdone:
	VZEROUPPER
	RET

// func colSumAVX(s, d []float32, rows, stride int)
// len(s) is a multiple of 8, rows >= 1, and d holds rows rows of stride
// floats, stride >= len(s). Per column, as colSumGo: s = d[0], then
// s += d[r] for r = 1, ..., rows-1 in order.
TEXT ·colSumAVX(SB), NOSPLIT, $0-64
	MOVQ s_base+0(FP), DI
	MOVQ s_len+8(FP), CX
	MOVQ d_base+24(FP), SI
	MOVQ rows+48(FP), R8
	MOVQ stride+56(FP), R9
	SHLQ $2, R9              // row stride in bytes
	SHLQ $2, CX              // columns in bytes
	XORQ BX, BX              // column offset in bytes

col:
	CMPQ    BX, CX
	JGE     coldone
	LEAQ    (SI)(BX*1), AX   // &d[0][j]
	VMOVUPS (AX), Y0
	MOVQ    R8, DX
	DECQ    DX
	JZ      colstore

row:
	ADDQ   R9, AX
	VADDPS (AX), Y0, Y0
	DECQ   DX
	JNZ    row

colstore:
	VMOVUPS Y0, (DI)(BX*1)
	ADDQ    $32, BX
	JMP     col

coldone:
	VZEROUPPER
	RET
