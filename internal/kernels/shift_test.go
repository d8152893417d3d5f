package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGroupShiftMatchesGo checks that GroupShift (the AVX2 kernel where
// the CPU has it, shiftPairs for k = 2) gives the bits of shiftGo for
// group sizes that exercise the eight-wide maximum, the four-wide shifts
// and both tails (k from 1 to 21), at temperatures 0.1, 1 and 3, on values
// that include NaN, +-Inf, +-0, subnormals and large magnitudes, with and
// without m. Same bits is the contract: the maximum is exact and all of
// them round the shifts alike.
func TestGroupShiftMatchesGo(t *testing.T) {
	t.Logf("AVX2 kernel in use: %t", HasAVX2FMA)
	rng := rand.New(rand.NewPCG(5, 6))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, 1e30, -1e30, 88, -88}
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b) }
	for k := 1; k <= 21; k++ {
		for _, tau := range []float64{0.1, 1, 3} {
			n := k * 7
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(3 * rng.NormFloat64())
				if rng.IntN(12) == 0 {
					x[i] = special[rng.IntN(len(special))]
				}
			}
			y, want := make([]float32, n), make([]float32, n)
			m, wantM := make([]float64, n/k), make([]float64, n/k)
			GroupShift(y, x, k, 1/tau, m)
			shiftGo(want, x, k, 1/tau, wantM)
			for i := range y {
				if !same(float64(y[i]), float64(want[i])) {
					t.Fatalf("k %d tau %v: y[%d] = %v, Go %v (group %v)", k, tau, i, y[i], want[i], x[i/k*k:i/k*k+k])
				}
			}
			for g := range m {
				if !same(m[g], wantM[g]) {
					t.Fatalf("k %d tau %v: m[%d] = %v, Go %v", k, tau, g, m[g], wantM[g])
				}
			}
			in := append([]float32(nil), x...) // in place, m nil
			GroupShift(in, in, k, 1/tau, nil)
			for i := range in {
				if !same(float64(in[i]), float64(want[i])) {
					t.Fatalf("k %d tau %v in place: y[%d] = %v, Go %v", k, tau, i, in[i], want[i])
				}
			}
		}
	}
}

// TestGroupShiftPairs checks GroupShift for k = 2 (shiftPairs) against
// shiftGo bit for bit on every ordered pair of special values (NaN first
// or second, +-Inf, +-0, subnormals, large magnitudes) and ordinary ones,
// with and without m, at temperatures 0.1, 1 and 3: the random draws of
// TestGroupShiftMatchesGo put a NaN into few pairs.
func TestGroupShiftPairs(t *testing.T) {
	vals := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e30, -1e30, 88, -88, 1.5, -2.25}
	var x []float32
	for _, a := range vals {
		for _, b := range vals {
			x = append(x, a, b)
		}
	}
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b) }
	for _, tau := range []float64{0.1, 1, 3} {
		y, want := make([]float32, len(x)), make([]float32, len(x))
		m, wantM := make([]float64, len(x)/2), make([]float64, len(x)/2)
		GroupShift(y, x, 2, 1/tau, m)
		shiftGo(want, x, 2, 1/tau, wantM)
		for i := range y {
			if !same(float64(y[i]), float64(want[i])) {
				t.Errorf("tau %v: pair (%v, %v): y[%d] = %v, Go %v", tau, x[i&^1], x[i|1], i%2, y[i], want[i])
			}
		}
		for g := range m {
			if !same(m[g], wantM[g]) {
				t.Errorf("tau %v: pair (%v, %v): m = %v, Go %v", tau, x[2*g], x[2*g+1], m[g], wantM[g])
			}
		}
	}
}

// BenchmarkGroupShift times the shift of a training step's 20,000 logits
// in groups of 10, and of a Bernoulli step's 40,000 (200 pairs per row).
func BenchmarkGroupShift(b *testing.B) {
	x, y := make([]float32, 20000), make([]float32, 20000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			GroupShift(y, x, 10, 1, nil)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			shiftGo(y, x, 10, 1, nil)
		}
	})
	x2, y2 := make([]float32, 40000), make([]float32, 40000)
	for i := range x2 {
		x2[i] = float32(rng.NormFloat64())
	}
	b.Run("pairs", func(b *testing.B) {
		for b.Loop() {
			GroupShift(y2, x2, 2, 1, nil)
		}
	})
	b.Run("pairs-generic", func(b *testing.B) { // what GroupShift ran for pairs before shiftPairs
		for b.Loop() {
			if HasAVX2FMA {
				shiftAVX2(y2, x2, 2, 1, nil)
			} else {
				shiftGo(y2, x2, 2, 1, nil)
			}
		}
	})
}
