package kernels

import "math"

// NLLRow returns the negative log-likelihood of binary pixels x under
// independent Bernoulli(sigmoid(l)) pixels,
//
//	sum_i softplus(l_i) - x_i l_i,
//
// and writes the residual sigmoid(l_i) - x_i (its derivative in l_i) into
// resid. Both come from the one exponential e = exp(-|l|):
// softplus(l) = max(l, 0) + log(1 + e) and sigmoid(l) = 1/(1 + e) for
// l >= 0, e/(1 + e) below, so the result is finite for any finite l.
// Float32 rows run eight pixels at a time where the CPU has AVX2 and FMA
// (relative error of each term and residual about 2e-7) and use ExpNeg and
// Log1pUnit elsewhere; float64 rows use math.Exp and math.Log1p, for the
// finite-difference checks.
func NLLRow[T Float](l, x, resid []T) float64 {
	if l32, ok := any(l).([]float32); ok {
		return nllRow32(l32, any(x).([]float32), any(resid).([]float32))
	}
	return nllRowGo(l, x, resid, func(a float64) float64 { return math.Exp(-a) }, math.Log1p)
}

// nllRow32 is NLLRow for float32: the AVX2 kernel over the first multiple
// of eight pixels, Go for the rest.
func nllRow32(l, x, resid []float32) float64 {
	n := 0
	var acc [8]float64
	if HasAVX2FMA {
		n = len(l) &^ 7
		nllAVX2(kernelK, l[:n], x[:n], resid[:n], &acc)
	}
	s := nllRowGo(l[n:], x[n:], resid[n:], ExpNeg, Log1pUnit)
	for _, a := range acc {
		s += a
	}
	return s
}

// nllRowGo is NLLRow with the given exp(-a) (a >= 0) and log1p(e)
// (0 <= e <= 1).
func nllRowGo[T Float](l, x, resid []T, expNeg, log1p func(float64) float64) float64 {
	x, resid = x[:len(l)], resid[:len(l)]
	var s float64
	for i := range l {
		li, xi := float64(l[i]), float64(x[i])
		e := expNeg(math.Abs(li))
		s += math.Max(li, 0) + log1p(e) - xi*li
		sig := 1 / (1 + e)
		if li < 0 {
			sig = e / (1 + e)
		}
		resid[i] = T(sig - xi)
	}
	return s
}
