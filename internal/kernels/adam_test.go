package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAdamKernelMatchesGo checks that Adam (the AVX kernel where the CPU
// has it) gives bit for bit what adamGo gives, on lengths that exercise
// the eight-wide body and the tail, at steps 1 and 1000, on gradients
// spanning twelve orders of magnitude and zero.
func TestAdamKernelMatchesGo(t *testing.T) {
	t.Logf("AVX kernel in use: %t", hasAVX)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 8, 9, 64, 1003} {
		for _, step := range []int{1, 1000} {
			r := NewAdamRule(1e-3, 0.9, 0.999, 1e-8, step)
			w, g, m := updateInputs(rng, n, 1e-3)
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.Float64() * 1e-6)
			}
			w2, m2, v2 := slices.Clone(w), slices.Clone(m), slices.Clone(v)
			if !Adam(r, w, g, m, v) {
				t.Fatalf("n %d: finite gradients reported non-finite", n)
			}
			adamGo(r, w2, g, m2, v2)
			for i := range w {
				if w[i] != w2[i] || m[i] != m2[i] || v[i] != v2[i] {
					t.Fatalf("n %d, t %d, element %d: kernel (w %v, m %v, v %v), Go (w %v, m %v, v %v)",
						n, step, i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
				}
			}
		}
	}
}

// TestAllFinite checks the finiteness test of the NaN guard on lengths
// that put the bad value in the eight-wide body and in the tail.
func TestAllFinite(t *testing.T) {
	for _, n := range []int{1, 8, 13, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i) - 3e38*float32(i%2) // large but finite
		}
		if !AllFinite(x) {
			t.Errorf("n %d: finite values reported non-finite", n)
		}
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			for _, at := range []int{0, n / 2, n - 1} {
				y := slices.Clone(x)
				y[at] = bad
				if AllFinite(y) {
					t.Errorf("n %d: %v at %d not found", n, bad, at)
				}
			}
		}
	}
}

// updateInputs returns n weights, gradients and first moments (or
// velocities) for the optimiser kernels' tests: normal weights, gradients
// spanning twelve orders of magnitude with every fifth zero, and moments
// of scale mScale.
func updateInputs(rng *rand.Rand, n int, mScale float64) (w, g, m []float32) {
	w, g, m = make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
		g[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(13)-8)))
		if i%5 == 0 {
			g[i] = 0
		}
		m[i] = float32(rng.NormFloat64() * mScale)
	}
	return w, g, m
}
