package gumbel

import (
	"math"

	"gsvae/internal/kernels"
)

// SoftmaxGroups writes into y (which may be z itself) the softmax of each group
// of k consecutive values of z at temperature tau:
//
//	y_j = exp(z_j/tau - m) / sum_i exp(z_i/tau - m),  m = max_i z_i/tau,
//
// so no exponent is positive and the sum is at least 1: finite whenever
// z/tau is. len(z) must be a multiple of k >= 1. Float32 groups take
// their exponentials with kernels.ExpNeg32 (relative error about 2e-7;
// eight at a time where the CPU has AVX2, the last len(z)%8 with Go code,
// so a value can differ in its last bit with its position in z) and sum
// in float64; float64 groups use math.Exp.
func SoftmaxGroups[T Float](y, z []T, k int, tau float64) {
	if y32, ok := any(y).([]float32); ok {
		softmax32(y32, any(z).([]float32), k, tau)
		return
	}
	for g := 0; g < len(z); g += k {
		zg, yg := z[g:g+k], y[g:g+k]
		m := math.Inf(-1)
		for _, v := range zg {
			m = math.Max(m, float64(v)/tau)
		}
		var sum float64
		for j, v := range zg {
			e := math.Exp(float64(v)/tau - m)
			yg[j] = T(e)
			sum += e
		}
		for j := range yg {
			yg[j] = T(float64(yg[j]) / sum)
		}
	}
}

// softmax32 is SoftmaxGroups for float32, with the exponentials of the whole
// slice taken at once (shiftedExp32).
func softmax32(y, z []float32, k int, tau float64) {
	shiftedExp32(y, z, k, tau, nil)
	for g := 0; g < len(y); g += k {
		yg := y[g : g+k]
		var sum float64
		for _, v := range yg {
			sum += float64(v)
		}
		inv := 1 / sum
		for j, v := range yg {
			yg[j] = float32(float64(v) * inv)
		}
	}
}

// shiftedExp32 sets y_j = exp(x_j/tau - m_g) for every group g of k values
// of x, with m_g the group's largest x_j/tau (kept in m[g] unless m is
// nil), so no exponent is positive; y may be x itself. The exponentials of
// the whole slice are taken at once by kernels.ExpNeg32. It multiplies by
// 1/tau rather than dividing (a float64 rounding apart, far below
// float32's), as divisions cost as much as the rest of the loop; a NaN
// makes its group's y NaN.
func shiftedExp32(y, x []float32, k int, tau float64, m []float64) {
	kernels.GroupShift(y, x, k, 1/tau, m)
	kernels.ExpNeg32(y[:len(x)])
}

// groupExp sets m[g] to the largest value of the g-th group of k values
// of x and e_j = exp(x_j - m[g]) for its members: the shifted exponentials
// of a log-softmax. Float32 values go through shiftedExp32 and the scratch
// space s (len(x) values).
func groupExp[T Float](e, m []float64, x []T, k int, s []float32) {
	if x32, ok := any(x).([]float32); ok {
		shiftedExp32(s[:len(x)], x32, k, 1, m)
		for i, v := range s[:len(x)] {
			e[i] = float64(v)
		}
		return
	}
	for g := 0; g < len(x); g += k {
		mg := math.Inf(-1)
		for _, v := range x[g : g+k] {
			mg = math.Max(mg, float64(v))
		}
		m[g/k] = mg
	}
	for i, v := range x {
		e[i] = math.Exp(float64(v) - m[i/k])
	}
}

// SoftmaxGroupsGrad writes into dz the gradient of a loss through
// y = softmax(z/tau), per group of k, given y and dL/dy:
//
//	dL/dz_j = y_j (dy_j - sum_i y_i dy_i) / tau
//
// dz may be dy itself.
func SoftmaxGroupsGrad[T Float](dz, y, dy []T, k int, tau float64) {
	for g := 0; g < len(y); g += k {
		yg, dyg := y[g:g+k], dy[g:g+k]
		var dot float64
		for j := range yg {
			dot += float64(yg[j]) * float64(dyg[j])
		}
		for j := range yg {
			dz[g+j] = T(float64(yg[j]) * (float64(dyg[j]) - dot) / tau)
		}
	}
}

// LogSumExp returns log sum_i exp(x_i), computed as
// m + log sum_i exp(x_i - m) with m the largest x_i, so that it neither
// overflows nor loses the largest terms. It is -Inf for an empty x or one
// of -Inf only, and NaN if x holds +Inf or NaN.
func LogSumExp(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	if math.IsInf(m, -1) {
		return m
	}
	var s float64
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// LogSoftmaxGroups writes into dst the log-probabilities log softmax(logits) of
// each group of k logits, computed as l_j - m - log sum_i exp(l_i - m)
// with m the group's maximum: finite for finite logits. dst may be logits
// itself; len(logits) must be a multiple of k >= 1.
func LogSoftmaxGroups(dst, logits []float64, k int) {
	for g := 0; g < len(logits); g += k {
		lse := LogSumExp(logits[g : g+k])
		for j, l := range logits[g : g+k] {
			dst[g+j] = l - lse
		}
	}
}
