package train

import "math"

// adamRule holds the constants of one Adam update,
//
//	m = b1 m + c1 g,   v = b2 v + c2 g^2,   w = w - step m / (sqrt(v) s + eps),
//
// with c1 = 1 - b1, c2 = 1 - b2, step = lr / (1 - b1^t) and
// s = 1 / sqrt(1 - b2^t): the bias corrections of Kingma & Ba (2015),
// folded into two constants. The field order is the assembly kernel's.
type adamRule struct {
	b1, c1, b2, c2, step, s, eps float32
}

// newAdamRule returns the constants of Adam's update number t (from 1)
// at learning rate lr.
func newAdamRule(lr float64, t int) adamRule {
	return adamRule{
		b1: adamBeta1, c1: 1 - adamBeta1,
		b2: adamBeta2, c2: 1 - adamBeta2,
		step: float32(lr / (1 - math.Pow(adamBeta1, float64(t)))),
		s:    float32(1 / math.Sqrt(1-math.Pow(adamBeta2, float64(t)))),
		eps:  adamEps,
	}
}

// adamGo applies the rule to every element, in the order of operations
// the assembly kernel uses too, so both give the same bits. The explicit
// float32 conversions keep the compiler from fusing a multiply and an add
// (which it may do when GOAMD64=v3), as the Go spec allows them to.
func adamGo(r adamRule, w, g, m, v []float32) {
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
func adamChecked(r adamRule, w, g, m, v []float32) bool {
	if !allFiniteGo(g[:len(w)]) {
		return false
	}
	adamGo(r, w, g, m, v)
	return true
}

// allFiniteGo reports whether no element of x is NaN or infinite.
func allFiniteGo(x []float32) bool {
	for _, v := range x {
		if v-v != 0 {
			return false
		}
	}
	return true
}
