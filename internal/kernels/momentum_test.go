package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMomentumKernelMatchesGo checks that Momentum (the AVX kernel where
// the CPU has it) gives bit for bit what momentumGo gives, and what the
// update written out in float32 gives, on lengths that exercise the
// eight-wide body and the tail, on gradients spanning twelve orders of
// magnitude and zero.
func TestMomentumKernelMatchesGo(t *testing.T) {
	t.Logf("AVX kernel in use: %t", hasAVX)
	rng := rand.New(rand.NewPCG(5, 6))
	const mu, lr = float32(0.9), float32(3e-3)
	for _, n := range []int{1, 7, 8, 9, 64, 1003} {
		w, g, m := updateInputs(rng, n, 1e-2)
		w2, m2 := slices.Clone(w), slices.Clone(m)
		w3, m3 := slices.Clone(w), slices.Clone(m)
		if !Momentum(mu, lr, w, g, m) {
			t.Fatalf("n %d: finite gradients reported non-finite", n)
		}
		momentumGo(mu, lr, w2, g, m2)
		for i := range w {
			// The update by hand: each product and sum rounded to float32.
			m3[i] = float32(float32(mu*m3[i]) + g[i])
			w3[i] = float32(w3[i] - float32(lr*m3[i]))
			if w[i] != w2[i] || m[i] != m2[i] || w[i] != w3[i] || m[i] != m3[i] {
				t.Fatalf("n %d, element %d: kernel (w %v, m %v), Go (w %v, m %v), by hand (w %v, m %v)",
					n, i, w[i], m[i], w2[i], m2[i], w3[i], m3[i])
			}
		}
	}
}

// TestMomentumStopsAtNonFinite puts a NaN or an infinity in the eight-wide
// body and in the tail: Momentum must report it and leave that element's
// weight and velocity as they were.
func TestMomentumStopsAtNonFinite(t *testing.T) {
	const n = 21 // two eights and a tail of 5
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		for _, at := range []int{0, 11, 15, 16, 20} {
			w, g, m := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range g {
				w[i], g[i], m[i] = 1, 0.5, 0.25
			}
			g[at] = bad
			if Momentum(0.9, 0.1, w, g, m) {
				t.Errorf("%v at %d: reported finite", bad, at)
			}
			if w[at] != 1 || m[at] != 0.25 {
				t.Errorf("%v at %d: w %v, m %v; want them unchanged (1, 0.25)", bad, at, w[at], m[at])
			}
		}
	}
}
