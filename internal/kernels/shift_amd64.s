//go:build !noasm

#include "textflag.h"

// func shiftAVX2(y, x []float32, k int, scale float64, m []float64)
// For every group of k consecutive values of x (len(x) a multiple of k,
// k >= 1, y at least as long, m nil or at least len(x)/k long):
//   M = max of the group (NaN when any member is NaN), as float32;
//   mg = float64(M) * scale;  m[g] = mg when m is not nil;
//   y_j = float32(mg - float64(x_j) * scale)  (no fused multiply-add, so
//   the roundings are those of the Go loop).
// The max takes 8 members at a time, the rest one by one; the shifts 4 at
// a time in float64, the rest one by one.
TEXT ·shiftAVX2(SB), NOSPLIT, $0-88
	MOVQ y_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ k+48(FP), R8
	VMOVSD scale+56(FP), X14
	VBROADCASTSD X14, Y14          // scale in 4 lanes
	MOVQ m_base+64(FP), R9         // nil when m is nil
	MOVQ $0x7fc00000, AX
	VMOVD AX, X13                  // a float32 NaN
	MOVQ R8, R11
	SHLQ $2, R11                   // k in bytes

group:
	CMPQ CX, R8
	JL   done
	// The maximum M of x[0:k] (SI) into X0, NaNs flagged in X12.
	VXORPS  Y12, Y12, Y12
	VMOVSS  (SI), X5               // the one-by-one maximum starts at x_0
	VBROADCASTSS X5, Y0            // every lane of the vector one too
	XORQ    BX, BX                 // offset in bytes
	MOVQ    R11, R10
	SUBQ    $32, R10               // last offset a full 8 fits at
maxvec:
	CMPQ    BX, R10
	JG      maxtail
	VMOVUPS (SI)(BX*1), Y1
	VCMPPS  $3, Y1, Y1, Y2         // unordered: NaN lanes all ones
	VORPS   Y2, Y12, Y12
	VMAXPS  Y1, Y0, Y0
	ADDQ    $32, BX
	JMP     maxvec
maxtail:
	CMPQ    BX, R11
	JGE     maxreduce
	VMOVSS  (SI)(BX*1), X1
	VCMPSS  $3, X1, X1, X2
	VORPS   Y2, Y12, Y12
	VMAXSS  X1, X5, X5
	ADDQ    $4, BX
	JMP     maxtail
maxreduce:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS  X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS  X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS  X1, X0, X0
	VMAXSS  X5, X0, X0             // lane 0 holds M
	VEXTRACTF128 $1, Y12, X2
	VORPS   X2, X12, X12
	VPTEST  X12, X12
	JZ      nonan
	VMOVAPS X13, X0                // a NaN member makes M NaN
nonan:
	VCVTSS2SD X0, X0, X0
	VMULSD  X14, X0, X0            // mg = float64(M) * scale
	TESTQ   R9, R9
	JZ      nom
	VMOVSD  X0, (R9)
	ADDQ    $8, R9
nom:
	VBROADCASTSD X0, Y0            // mg in 4 lanes
	XORQ    BX, BX
	MOVQ    R11, R10
	SUBQ    $16, R10               // last offset a full 4 fits at
shiftvec:
	CMPQ    BX, R10
	JG      shifttail
	VCVTPS2PD (SI)(BX*1), Y1       // 4 members in float64
	VMULPD  Y14, Y1, Y1            // * scale
	VSUBPD  Y1, Y0, Y1             // mg - that
	VCVTPD2PSY Y1, X1
	VMOVUPS X1, (DI)(BX*1)
	ADDQ    $16, BX
	JMP     shiftvec
shifttail:
	CMPQ    BX, R11
	JGE     next
	VMOVSS  (SI)(BX*1), X1
	VCVTSS2SD X1, X1, X1
	VMULSD  X14, X1, X1
	VSUBSD  X1, X0, X1
	VCVTSD2SS X1, X1, X1
	VMOVSS  X1, (DI)(BX*1)
	ADDQ    $4, BX
	JMP     shifttail
next:
	ADDQ    R11, SI
	ADDQ    R11, DI
	SUBQ    R8, CX
	JMP     group

done:
	VZEROUPPER
	RET
