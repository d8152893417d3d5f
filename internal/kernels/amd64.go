//go:build amd64 && !noasm

package kernels

import (
	"math"

	"golang.org/x/sys/cpu"
)

// HasAVX2FMA reports whether the AVX2 kernels can run: they need AVX2
// (integer lanes for the exponent) and FMA.
var HasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX reports whether the AVX kernels of adam_amd64.s and
// momentum_amd64.s can run: they need AVX and an OS that saves the YMM
// registers, which cpu.X86.HasAVX checks both.
var hasAVX = cpu.X86.HasAVX

// lanes is one float32 constant repeated in the eight lanes of a YMM
// register, so a kernel reads it straight from memory.
type lanes [8]float32

func fill(v float32) lanes { return lanes{v, v, v, v, v, v, v, v} }

// kernelConsts holds the constants of nllAVX2 and expNegAVX2, in the
// order they read them.
type kernelConsts struct {
	absMask lanes // clears the sign bit
	maxArg  lanes // exp(-a) is taken at min(a, 87): exp(-87) is a normal float32
	log2e   lanes
	ln2Hi   lanes // ln 2 in two parts: n ln2Hi is exact for |n| < 2^11
	ln2Lo   lanes
	exp     [8]lanes // (-1)^k / k!, k = 7 down to 0: exp(-r) on |r| <= ln2/2
	log     [7]lanes // 1/13, 1/11, ..., 1/3, 1: log(1+e) = 2 s sum z^j/(2j+1)
	one     lanes
	two     lanes
	bias    [8]int32 // 127, the float32 exponent bias
}

var kernelK = func() *kernelConsts {
	c := &kernelConsts{
		absMask: fill(math.Float32frombits(0x7fffffff)),
		maxArg:  fill(87),
		log2e:   fill(math.Log2E),
		ln2Hi:   fill(0.693359375),
		ln2Lo:   fill(-2.12194440e-4),
		one:     fill(1),
		two:     fill(2),
	}
	fact := 1.0
	for k := 1; k <= 7; k++ {
		fact *= float64(k)
	}
	for k := 7; k >= 0; k-- { // exp[0] holds k = 7
		c.exp[7-k] = fill(float32(math.Pow(-1, float64(k)) / fact))
		fact /= math.Max(float64(k), 1)
	}
	for j := 6; j >= 0; j-- { // log[0] holds j = 6
		c.log[6-j] = fill(float32(1 / float64(2*j+1)))
	}
	for i := range c.bias {
		c.bias[i] = 127
	}
	return c
}()

// quad is one float64 constant, or one bit pattern, repeated in the four
// lanes of a YMM register.
type quad [4]uint64

// quadBits repeats the bit pattern b in the four lanes of a quad.
func quadBits(b uint64) quad { return quad{b, b, b, b} }

// quadOf repeats the float64 v in the four lanes of a quad.
func quadOf(v float64) quad { return quadBits(math.Float64bits(v)) }

// gumbelConsts holds the constants of negLogAVX2 and gumbelAVX2, at the
// offsets the NEGLOG macro of log_amd64.s reads them from (in bytes:
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

// The assembly kernels. Each works on len(first slice) elements, a
// multiple of its width (8 float32 or 4 float64); the others are at least
// as long.

// nllAVX2 computes the residual sigmoid(l_i) - x_i into resid and adds
// each term softplus(l_i) - x_i l_i, rounded to float64, into acc[i%8].
//
//go:noescape
func nllAVX2(k *kernelConsts, l, x, resid []float32, acc *[8]float64)

// expNegAVX2 sets a[i] = exp(-a[i]) for a[i] >= 0 (exp(-87) above 87, NaN
// for NaN).
//
//go:noescape
func expNegAVX2(k *kernelConsts, a []float32)

// gumbelAVX2 sets dst[i] = float32(-log(-log(u[i]))) for every u[i] in
// [2^-53, 1 - 2^-53], in blocks of 64 whose inner logs it keeps in its
// stack frame.
//
//go:noescape
func gumbelAVX2(k *gumbelConsts, u []float64, dst []float32)

// negLogAVX2 sets dst[i] = -log(x[i]) for positive normal x[i].
//
//go:noescape
func negLogAVX2(k *gumbelConsts, x, dst []float64)

// biasActAVX is biasActGo, eight at a time.
//
//go:noescape
func biasActAVX(y, b []float32, relu bool)

// reluMaskAVX2 is reluMaskGo, eight at a time.
//
//go:noescape
func reluMaskAVX2(d, y, dy []float32)

// colSumAVX is colSumGo on the first len(s) columns, eight at a time;
// rows >= 1.
//
//go:noescape
func colSumAVX(s, d []float32, rows, stride int)

// adamAVX applies r, eight at a time, checking each eight gradients before
// it applies them: it returns len(w), or the index of the first eight that
// hold a NaN or an infinity, which it leaves unwritten with all after them.
//
//go:noescape
func adamAVX(r *AdamRule, w, g, m, v []float32) int

// momentumAVX applies the momentum update with c = {mu, lr}, eight at a
// time, checking each eight gradients before it applies them: it returns
// len(w), or the index of the first eight that hold a NaN or an infinity,
// which it leaves unwritten with all after them.
//
//go:noescape
func momentumAVX(c *[2]float32, w, g, m []float32) int

// diffSumAVX adds x[i] - x[i] into acc[i%8] for every i.
//
//go:noescape
func diffSumAVX(x []float32, acc *[8]float32)

// shiftAVX2 is shiftGo for every group of k: the group's maximum and the
// shifted values, see shift_amd64.s.
//
//go:noescape
func shiftAVX2(y, x []float32, k int, scale float64, m []float64)
