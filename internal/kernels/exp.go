package kernels

import "math"

// ExpNeg returns exp(-a) for a >= 0 to a relative error below 1e-8
// (float32 training needs ~6e-8), several times faster than math.Exp:
// a = n ln2 + r with |r| <= ln2/2, exp(-a) = 2^-n exp(-r), and exp(-r) by
// its Taylor polynomial of degree 8 (remainder < 0.35^9/9! ~ 2e-10).
// Results below 2^-1022 flush to 0; NaN stays NaN.
func ExpNeg(a float64) float64 {
	if a > 708 || math.IsNaN(a) {
		if math.IsNaN(a) {
			return a
		}
		return 0
	}
	n := math.Floor(a*math.Log2E + 0.5)
	r := -(a - n*math.Ln2)
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040+r*(1.0/40320))))))))
	return p * math.Float64frombits(uint64(1023-int64(n))<<52)
}

// Log1pUnit returns log(1 + e) for 0 <= e <= 1 to a relative error below
// 1e-8, without math.Log1p: with s = e/(2 + e) <= 1/3,
// log(1 + e) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), cut after s^17
// (remainder < (1/3)^19/19 / (1/3) ~ 1.4e-10 relative).
func Log1pUnit(e float64) float64 {
	s := e / (2 + e)
	z := s * s
	return 2 * s * (1 + z*(1.0/3+z*(1.0/5+z*(1.0/7+z*(1.0/9+z*(1.0/11+z*(1.0/13+z*(1.0/15+z*(1.0/17)))))))))
}

// ExpNeg32 sets a[i] = exp(-a[i]) for every a[i] >= 0: eight at a time
// where the CPU has AVX2 and FMA (relative error about 2e-7; a[i] above
// 87 gives exp(-87), the smallest normal float32's neighbourhood), the
// rest with ExpNeg. NaN stays NaN.
func ExpNeg32(a []float32) {
	n := 0
	if HasAVX2FMA {
		n = len(a) &^ 7
		expNegAVX2(kernelK, a[:n])
	}
	for i := n; i < len(a); i++ {
		a[i] = float32(ExpNeg(float64(a[i])))
	}
}
