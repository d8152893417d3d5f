package kernels

import "math"

// GroupShift sets y_j = float32(mg - float64(x_j) * scale) for every group
// g of k consecutive values of x, with mg = float64(M) * scale and M the
// group's largest x_j (NaN when a member is NaN), and keeps mg in m[g]
// unless m is nil: for scale = 1/tau > 0, the non-positive exponents
// x_j/tau - max_i x_i/tau of a max-shifted softmax, the first half of a
// stable softmax or log-softmax. y may be x itself; len(x) must be a
// multiple of k. Where the CPU has AVX2 the groups run in assembly (the
// maximum eight members at a time, the shifts four at a time in float64),
// with the same bits as the Go loop: the maximum is exact and the shifts
// round as it does.
func GroupShift(y, x []float32, k int, scale float64, m []float64) {
	if k == 2 {
		shiftPairs(y, x, scale, m)
		return
	}
	if HasAVX2FMA && k >= 1 {
		shiftAVX2(y, x, k, scale, m)
		return
	}
	shiftGo(y, x, k, scale, m)
}

// shiftPairs is shiftGo for k = 2, the pairs (l, 0) of Bernoulli latents:
// a loop without the inner loops over the group, which the generic code
// (Go or AVX2, whose eight-wide maximum does not fit a pair) spends most
// of its time entering and leaving; with the same arithmetic, so the same
// bits. Go's max is NaN when either argument is, as shiftGo's is.
func shiftPairs(y, x []float32, scale float64, m []float64) {
	n := len(x) &^ 1
	x, y = x[:n], y[:n]
	for g := 0; g < n; g += 2 {
		a, b := x[g], x[g+1]
		mg := float64(max(a, b)) * scale
		if m != nil {
			m[g/2] = mg
		}
		y[g] = float32(mg - float64(a)*scale)
		y[g+1] = float32(mg - float64(b)*scale)
	}
}

// shiftGo is GroupShift in Go. x -> float64(x) * scale is monotone for
// scale > 0, so the largest product is that of the largest x.
func shiftGo(y, x []float32, k int, scale float64, m []float64) {
	for g := 0; g+k <= len(x); g += k {
		xg, yg := x[g:g+k:g+k], y[g:g+k:g+k]
		mx, nan := xg[0], false
		for _, v := range xg {
			mx = max(mx, v)
			nan = nan || v != v
		}
		if nan {
			mx = float32(math.NaN())
		}
		mg := float64(mx) * scale
		if m != nil {
			m[g/k] = mg
		}
		for j, v := range xg {
			yg[j] = float32(mg - float64(v)*scale)
		}
	}
}
