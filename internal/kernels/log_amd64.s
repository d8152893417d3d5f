//go:build !noasm

#include "textflag.h"

// NEGLOG sets W = -log(X) for four positive normal float64 X (no NaN, Inf,
// zero, negative or subnormal input: SampleGumbel never has one), with the
// constants of gumbelConsts at AX and K, F, S, Z, P, Q as scratch; X is
// left unchanged. fdlibm's e_log.c, four lanes at a time:
//   x = 2^k m, m in [sqrt(1/2), sqrt(2)), from integer operations on the
//     bits: adding shift = 0x3ff0000000000000 - 0x3fe6a09e00000000 to them
//     carries into the exponent field exactly when x's significand is at
//     least 0x3ff6a09e00000000 (about sqrt(2)), so the exponent field
//     becomes k + 1023, and the mantissa field plus 0x3fe6a09e00000000 is
//     the bits of m = x / 2^k;
//   k as a float64 by the 2^52 trick: bits(2^52) | (k + 1023) is the
//     float64 2^52 + k + 1023, less 2^52 + 1023 is k, exactly;
//   f = m - 1 (exact, Sterbenz), s = f / (2 + f), z = s^2, w = z^2,
//   R = z (Lg1 + w (Lg3 + w (Lg5 + w Lg7))) + w (Lg2 + w (Lg4 + w Lg6)),
//   hfsq = f^2 / 2,
//   -log x = ((hfsq - (s (hfsq + R) + k ln2Lo)) - f) - k ln2Hi,
// the exact negation of fdlibm's k ln2Hi - ((hfsq - (s (hfsq + R) + k ln2Lo)) - f).
// For x near 1 (k = 0, f tiny) every term is relative to f, so log x keeps
// its full relative accuracy. Offsets into gumbelConsts: shift 0,
// mantMask 32, mantBase 64, magic 96, magicK 128, one 160, two 192,
// half 224, ln2Hi 256, ln2Lo 288, Lg1 ... Lg7 at 320, 352, ..., 512.
#define NEGLOG(X, K, F, S, Z, W, P, Q) \
	VPADDQ  0(AX), X, W;          \ // bits of x + shift
	VPSRLQ  $52, W, K;            \ // k + 1023
	VPAND   32(AX), W, F;         \ // mantissa field
	VPADDQ  64(AX), F, F;         \ // bits of m
	VPOR    96(AX), K, K;         \ // bits of 2^52 + k + 1023
	VSUBPD  128(AX), K, K;        \ // k
	VSUBPD  160(AX), F, F;        \ // f = m - 1
	VADDPD  192(AX), F, S;        \ // 2 + f
	VDIVPD  S, F, S;              \ // s = f / (2 + f)
	VMULPD  S, S, Z;              \ // z = s^2
	VMULPD  Z, Z, W;              \ // w = z^2
	VMOVUPD 512(AX), P;           \ // odd part: Lg7
	VFMADD213PD 448(AX), W, P;    \ //   w Lg7 + Lg5
	VFMADD213PD 384(AX), W, P;    \ //   w (...) + Lg3
	VFMADD213PD 320(AX), W, P;    \ //   w (...) + Lg1
	VMOVUPD 480(AX), Q;           \ // even part: Lg6
	VFMADD213PD 416(AX), W, Q;    \ //   w Lg6 + Lg4
	VFMADD213PD 352(AX), W, Q;    \ //   w (...) + Lg2
	VMULPD  W, Q, Q;              \ //   w (Lg2 + ...)
	VFMADD231PD Z, P, Q;          \ // R = z (Lg1 + ...) + w (Lg2 + ...)
	VMULPD  224(AX), F, W;        \ // f / 2
	VMULPD  F, W, W;              \ // hfsq = f^2 / 2
	VADDPD  W, Q, Q;              \ // hfsq + R
	VMULPD  288(AX), K, P;        \ // k ln2Lo
	VFMADD231PD S, Q, P;          \ // s (hfsq + R) + k ln2Lo
	VSUBPD  P, W, W;              \ // hfsq - (...)
	VSUBPD  F, W, W;              \ // (hfsq - (...)) - f
	VFNMADD231PD 256(AX), K, W      // -log x = (...) - k ln2Hi (k ln2Hi is exact)

// func gumbelAVX2(k *gumbelConsts, u []float64, dst []float32)
// dst[i] = float32(-log(-log(u[i]))), len(u) = len(dst) a multiple of 4,
// in blocks of up to 64 elements: a first loop writes y = -log u of the
// block into the 512-byte frame, a second reads it back and writes
// float32(-log y) to dst. u and dst are each touched once; y stays in L1.
// The two logs of one group depend on each other (about 60 cycles each):
// with both in one loop body the instructions waiting on them fill the
// out-of-order window, and such a loop (even with one group's outer log
// interleaved with the next group's inner log) took 57 us for 20000
// values on an AMD EPYC, against 45 us for these two loops of
// independent iterations. Registers: AX the constants, SI u, DI dst,
// CX len, BX the block's first element, DX its length, R8 its u, R10 its
// dst, R11 the frame, R9 the element in the block.
TEXT ·gumbelAVX2(SB), NOSPLIT, $512-56
	MOVQ k+0(FP), AX
	MOVQ u_base+8(FP), SI
	MOVQ u_len+16(FP), CX
	MOVQ dst_base+32(FP), DI
	LEAQ 0(SP), R11                 // y of the block
	XORQ BX, BX

gblock:
	CMPQ BX, CX
	JGE  gdone
	MOVQ CX, DX
	SUBQ BX, DX                     // elements left
	CMPQ DX, $64
	JLE  gsized
	MOVQ $64, DX                    // this block's length, a multiple of 4
gsized:
	LEAQ (SI)(BX*8), R8
	LEAQ (DI)(BX*4), R10
	XORQ R9, R9

ginner:
	VMOVUPD (R8)(R9*8), Y0          // u
	NEGLOG(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	VMOVUPD Y5, (R11)(R9*8)         // y = -log u
	ADDQ $4, R9
	CMPQ R9, DX
	JL   ginner

	XORQ R9, R9
gouter:
	VMOVUPD (R11)(R9*8), Y0         // y
	NEGLOG(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	VCVTPD2PSY Y5, X5               // g = -log y, rounded to float32
	VMOVUPS X5, (R10)(R9*4)
	ADDQ $4, R9
	CMPQ R9, DX
	JL   gouter

	ADDQ DX, BX
	JMP  gblock

gdone:
	VZEROUPPER
	RET

// func negLogAVX2(k *gumbelConsts, x, dst []float64)
// dst[i] = -log(x[i]), len(x) = len(dst) a multiple of 4: one NEGLOG per
// group of four, for the tests.
TEXT ·negLogAVX2(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), AX
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	MOVQ dst_base+32(FP), DI
	XORQ BX, BX
	TESTQ CX, CX
	JZ   ndone

nloop:
	VMOVUPD (SI)(BX*8), Y0          // x
	NEGLOG(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	VMOVUPD Y5, (DI)(BX*8)          // -log x
	ADDQ $4, BX
	CMPQ BX, CX
	JL   nloop

ndone:
	VZEROUPPER
	RET
