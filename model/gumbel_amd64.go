//go:build !noasm

package model

import "math"

// quad is one float64 constant, or one bit pattern, repeated in the four
// lanes of a YMM register, so the kernels read it straight from memory.
type quad [4]uint64

// quadBits repeats the bit pattern b in the four lanes of a quad.
func quadBits(b uint64) quad { return quad{b, b, b, b} }

// quadOf repeats the float64 v in the four lanes of a quad.
func quadOf(v float64) quad { return quadBits(math.Float64bits(v)) }

// gumbelConsts holds the constants of negLogAVX2 and gumbelAVX2, at the
// offsets the NEGLOG macro of gumbel_amd64.s reads them from (in bytes:
// 0, 32, 64, ..., lg at 320 + 32 (j-1) for Lg_j).
type gumbelConsts struct {
	shift    quad    // 0x3ff0000000000000 - 0x3fe6a09e00000000: moves x's mantissa into [sqrt(1/2), sqrt(2))
	mantMask quad    // 0x000fffffffffffff, the 52 mantissa bits
	mantBase quad    // 0x3fe6a09e00000000, the bits of about sqrt(1/2)
	magic    quad    // 0x4330000000000000, the bits of 2^52
	magicK   quad    // 2^52 + 1023: (2^52 + e) - (2^52 + 1023) = e - 1023
	one      quad    // 1
	two      quad    // 2
	half     quad    // 0.5
	ln2Hi    quad    // ln 2 to 32 bits (fdlibm's ln2_hi): k ln2Hi is exact for |k| < 2^21
	ln2Lo    quad    // ln 2 - ln2Hi (fdlibm's ln2_lo)
	lg       [7]quad // fdlibm's Lg1 ... Lg7: log(1+f) = 2s + s R(s^2), R(z) = Lg1 z + ... + Lg7 z^7
}

// gumbelK is the one gumbelConsts the kernels use. The polynomial and
// ln 2 split are those of fdlibm's e_log.c (given there as hex words).
var gumbelK = func() *gumbelConsts {
	c := &gumbelConsts{
		shift:    quadBits(0x3ff0000000000000 - 0x3fe6a09e00000000),
		mantMask: quadBits(1<<52 - 1),
		mantBase: quadBits(0x3fe6a09e00000000),
		magic:    quadBits(0x4330000000000000),
		magicK:   quadOf(1<<52 + 1023),
		one:      quadOf(1),
		two:      quadOf(2),
		half:     quadOf(0.5),
		ln2Hi:    quadBits(0x3fe62e42fee00000), // 6.93147180369123816490e-01
		ln2Lo:    quadBits(0x3dea39ef35793c76), // 1.90821492927058770002e-10
	}
	lg := [7]uint64{
		0x3fe5555555555593, // Lg1 = 6.666666666666735130e-01
		0x3fd999999997fa04, // Lg2 = 3.999999999940941908e-01
		0x3fd2492494229359, // Lg3 = 2.857142874366239149e-01
		0x3fcc71c51d8e78af, // Lg4 = 2.222219843214978396e-01
		0x3fc7466496cb03de, // Lg5 = 1.818357216161805012e-01
		0x3fc39a09d078c69f, // Lg6 = 1.531383769920937332e-01
		0x3fc2f112df3e5244, // Lg7 = 1.479819860511658591e-01
	}
	for j, b := range lg {
		c.lg[j] = quadBits(b)
	}
	return c
}()

// gumbelAVX2 sets dst[i] = float32(-log(-log(u[i]))) for len(u) = len(dst)
// a multiple of 4, every u[i] in [2^-53, 1 - 2^-53] (no NaN, Inf, zero
// or negative u: SampleGumbel never has one). Each log is fdlibm's
// algorithm, 4 float64 lanes at a time, within 1 float64 ulp of math.Log
// (TestNegLogKernel); the result is rounded to float32 once. It works in
// blocks of 64 elements, whose inner logs it keeps in its stack frame.
//
//go:noescape
func gumbelAVX2(k *gumbelConsts, u []float64, dst []float32)

// negLogAVX2 sets dst[i] = -log(x[i]) for len(x) = len(dst) a multiple of
// 4, every x[i] a positive normal float64 (the log gumbelAVX2 takes
// twice): for the tests, which measure its error in float64 ulps.
//
//go:noescape
func negLogAVX2(k *gumbelConsts, x, dst []float64)

// gumbel32 sets dst[i] = float32(-log(-log(u[i]))) for u[i] in
// [2^-53, 1 - 2^-53]: four at a time with gumbelAVX2 where the CPU has
// AVX2 and FMA, the rest (and every element on other CPUs) with math.Log.
func gumbel32(dst []float32, u []float64) {
	n := 0
	if hasAVX2FMA {
		n = len(dst) &^ 3
		gumbelAVX2(gumbelK, u[:n], dst[:n])
	}
	gumbel32Go(dst[n:], u[n:])
}

// negLog64 sets dst[i] = -log(x[i]) for positive normal x[i] with the log
// of gumbelAVX2 where the CPU has AVX2 and FMA (math.Log for the tail of
// fewer than 4 and on other CPUs), so the tests can measure that log's
// error on its own.
func negLog64(dst, x []float64) {
	n := 0
	if hasAVX2FMA {
		n = len(x) &^ 3
		negLogAVX2(gumbelK, x[:n], dst[:n])
	}
	for i := n; i < len(x); i++ {
		dst[i] = -math.Log(x[i])
	}
}
