package kernels

import "math"

// AdamRule holds the constants of one Adam update (Kingma & Ba 2015),
//
//	m = b1 m + c1 g,   v = b2 v + c2 g^2,   w = w - step m / (sqrt(v) s + eps),
//
// with c1 = 1 - b1, c2 = 1 - b2, step = lr / (1 - b1^t) and
// s = 1 / sqrt(1 - b2^t): the bias corrections folded into two constants.
// The field order is the assembly kernel's.
type AdamRule struct {
	b1, c1, b2, c2, step, s, eps float32
}

// NewAdamRule returns the constants of Adam's update number t (from 1) at
// learning rate lr with decay rates b1, b2 and epsilon eps.
func NewAdamRule(lr, b1, b2, eps float64, t int) AdamRule {
	return AdamRule{
		b1: float32(b1), c1: float32(1 - b1),
		b2: float32(b2), c2: float32(1 - b2),
		step: float32(lr / (1 - math.Pow(b1, float64(t)))),
		s:    float32(1 / math.Sqrt(1-math.Pow(b2, float64(t)))),
		eps:  float32(eps),
	}
}

// Adam applies the rule to every element of w from its gradient g and the
// moments m and v (all updated in place), and reports whether every
// gradient was finite. It runs eight at a time in AVX registers where the
// CPU has them, the rest in Go, checking each eight gradients before it
// applies them: a NaN or an infinity stops it part way, leaving the
// elements from there on (at least from the eight that hold it) unchanged.
// Square root and division are correctly rounded in both, and neither
// fuses a multiply-add, so both give the same bits.
func Adam(r AdamRule, w, g, m, v []float32) bool {
	n := 0
	if hasAVX {
		n = len(w) &^ 7
		if adamAVX(&r, w[:n], g[:n], m[:n], v[:n]) < n {
			return false
		}
	}
	return adamChecked(r, w[n:], g[n:], m[n:], v[n:])
}

// adamGo applies the rule to every element, in the order of operations
// the assembly kernel uses too, so both give the same bits. The explicit
// float32 conversions keep the compiler from fusing a multiply and an add
// (which it may do when GOAMD64=v3), as the Go spec allows them to.
func adamGo(r AdamRule, w, g, m, v []float32) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for j := range w {
		mj := float32(r.b1*m[j]) + float32(r.c1*g[j])
		vj := float32(r.b2*v[j]) + float32(r.c2*g[j]*g[j])
		m[j], v[j] = mj, vj
		den := float32(float32(math.Sqrt(float64(vj)))*r.s) + r.eps
		w[j] -= r.step * mj / den
	}
}

// adamChecked is adamGo after checking that every gradient is finite: it
// reports whether they were, and changes nothing if not.
func adamChecked(r AdamRule, w, g, m, v []float32) bool {
	if !allFiniteGo(g[:len(w)]) {
		return false
	}
	adamGo(r, w, g, m, v)
	return true
}

// AllFinite reports whether no element of x is NaN or infinite: x - x is
// 0 for every finite x and NaN otherwise, and NaN survives any sum. Eight
// at a time where the CPU has AVX.
func AllFinite(x []float32) bool {
	n := 0
	var acc [8]float32
	if hasAVX {
		n = len(x) &^ 7
		diffSumAVX(x[:n], &acc)
	}
	for _, a := range acc {
		if a != 0 {
			return false
		}
	}
	return allFiniteGo(x[n:])
}

// allFiniteGo is AllFinite in Go.
func allFiniteGo(x []float32) bool {
	for _, v := range x {
		if v-v != 0 {
			return false
		}
	}
	return true
}
