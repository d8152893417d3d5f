package kernels

// Momentum applies one step of SGD with momentum mu at learning rate lr
// (the velocity form of PyTorch and TensorFlow, the optimiser of Jang et
// al. 2017) to every element of w from its gradient g and its velocity m,
// both updated in place:
//
//	m = mu m + g,   w = w - lr m,
//
// and reports whether every gradient was finite. As Adam does, it runs
// eight at a time in AVX registers where the CPU has them, the rest in
// Go, checking each eight gradients before it applies them: a NaN or an
// infinity stops it part way, leaving the elements from there on (at
// least from the eight that hold it) unchanged. Neither fuses a
// multiply-add, so both give the same bits.
func Momentum(mu, lr float32, w, g, m []float32) bool {
	n := 0
	if hasAVX {
		n = len(w) &^ 7
		c := [2]float32{mu, lr}
		if momentumAVX(&c, w[:n], g[:n], m[:n]) < n {
			return false
		}
	}
	if !allFiniteGo(g[n:len(w)]) {
		return false
	}
	momentumGo(mu, lr, w[n:], g[n:], m[n:])
	return true
}

// momentumGo applies the update to every element, in the order of
// operations of the assembly kernel. The explicit float32 conversions keep
// the compiler from fusing a multiply and an add (which it may do when
// GOAMD64=v3).
func momentumGo(mu, lr float32, w, g, m []float32) {
	g, m = g[:len(w)], m[:len(w)]
	for j := range w {
		mj := float32(mu*m[j]) + g[j]
		m[j] = mj
		w[j] -= float32(lr * mj)
	}
}
