//go:build !noasm

package model

import (
	"math"

	"golang.org/x/sys/cpu"
)

// hasAVX2FMA reports whether nllAVX2 can run: it needs AVX2 (integer
// lanes for the exponent) and FMA.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// lanes is one float32 constant repeated in the eight lanes of a YMM
// register, so the kernel reads it straight from memory.
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

// nllAVX2 computes, for the first len(l) elements (a multiple of 8), the
// residual sigmoid(l_i) - x_i into resid, and adds each term
// softplus(l_i) - x_i l_i, rounded to float64, into acc[i%8].
//
//go:noescape
func nllAVX2(k *kernelConsts, l, x, resid []float32, acc *[8]float64)

// expNegAVX2 sets a[i] = exp(-a[i]) for a[i] >= 0, len(a) a multiple of
// 8: to a relative error of about 2e-7 for a[i] <= 87, exp(-87) (the
// smallest normal float32 is exp(-87.3)) above, NaN for NaN.
//
//go:noescape
func expNegAVX2(k *kernelConsts, a []float32)

// expNeg32 sets a[i] = exp(-a[i]) for every a[i] >= 0: eight at a time
// where the CPU has AVX2 and FMA (relative error about 2e-7), the rest
// with expNegFast.
func expNeg32(a []float32) {
	n := 0
	if hasAVX2FMA {
		n = len(a) &^ 7
		expNegAVX2(kernelK, a[:n])
	}
	for i := n; i < len(a); i++ {
		a[i] = float32(expNegFast(float64(a[i])))
	}
}

// nllRow32 returns the negative log-likelihood sum_i softplus(l_i) - x_i l_i
// of one row and writes sigmoid(l_i) - x_i into resid. Where the CPU has
// AVX2 and FMA, eight pixels at a time in float32 (relative error of each
// term and residual about 2e-7, TestNLLKernel), the rest as nllRowGo does.
func nllRow32(l, x, resid []float32) float64 {
	n := 0
	var acc [8]float64
	if hasAVX2FMA {
		n = len(l) &^ 7
		nllAVX2(kernelK, l[:n], x[:n], resid[:n], &acc)
	}
	s := nllRowGo(l[n:], x[n:], resid[n:], expNegFast, log1pUnit)
	for _, a := range acc {
		s += a
	}
	return s
}
