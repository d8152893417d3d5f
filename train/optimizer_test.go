package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gsvae/internal/kernels"
)

// TestAdamFirstStep checks the bias-corrected first step: with m and v
// zero, m/c1 = g and v/c2 = g^2, so every weight moves by lr * g/(|g|+eps),
// i.e. by almost exactly lr against the sign of its gradient.
func TestAdamFirstStep(t *testing.T) {
	w := []float32{1, -2, 0.5}
	g := []float32{0.3, -4, 1e-3}
	a, err := NewOptimizer(OptAdam, 0.01, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	a.Step([][]float32{w}, [][]float32{g})
	want := []float32{0.99, -1.99, 0.49}
	for i := range w {
		if math.Abs(float64(w[i]-want[i])) > 1e-5 {
			t.Errorf("w[%d] = %v, want %v", i, w[i], want[i])
		}
	}
	if a.T != 1 {
		t.Errorf("T = %d, want 1", a.T)
	}
}

// TestAdamMinimisesQuadratic runs Adam on f(w) = sum (w - c)^2 and checks it
// ends within 1e-3 of the minimiser c: a wrong sign or moment update fails.
func TestAdamMinimisesQuadratic(t *testing.T) {
	c := []float32{3, -1, 0.25}
	w := make([]float32, 3)
	g := make([]float32, 3)
	a, err := NewOptimizer(OptAdam, 0.05, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 2000; step++ {
		for i := range w {
			g[i] = 2 * (w[i] - c[i])
		}
		a.Step([][]float32{w}, [][]float32{g})
	}
	for i := range w {
		if math.Abs(float64(w[i]-c[i])) > 1e-3 {
			t.Errorf("w[%d] = %v, want %v", i, w[i], c[i])
		}
	}
}

// TestMomentumSteps checks SGD with momentum 0.9 by hand: with a constant
// gradient g the velocity is g, then 1.9 g, so after two steps w has moved
// by lr (1 + 1.9) g.
func TestMomentumSteps(t *testing.T) {
	w := []float32{1, -2}
	g := []float32{0.5, -1}
	o, err := NewOptimizer(OptMomentum, 0.1, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	o.Step([][]float32{w}, [][]float32{g})
	o.Step([][]float32{w}, [][]float32{g})
	want := []float32{1 - 0.1*2.9*0.5, -2 + 0.1*2.9*1}
	for i := range w {
		if math.Abs(float64(w[i]-want[i])) > 1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, w[i], want[i])
		}
	}
	if o.V != nil || o.T != 2 {
		t.Errorf("momentum state: V %v, T %d; want nil and 2", o.V, o.T)
	}
}

// TestMomentumMinimisesQuadratic runs SGD with momentum on
// f(w) = sum (w - c)^2 and checks it ends within 1e-3 of c.
func TestMomentumMinimisesQuadratic(t *testing.T) {
	c := []float32{3, -1, 0.25}
	w, g := make([]float32, 3), make([]float32, 3)
	o, err := NewOptimizer(OptMomentum, 0.01, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	for range 2000 {
		for i := range w {
			g[i] = 2 * (w[i] - c[i])
		}
		o.Step([][]float32{w}, [][]float32{g})
	}
	for i := range w {
		if math.Abs(float64(w[i]-c[i])) > 1e-3 {
			t.Errorf("w[%d] = %v, want %v", i, w[i], c[i])
		}
	}
}

func TestNewOptimizerRefusesUnknown(t *testing.T) {
	if _, err := NewOptimizer("rmsprop", 0.1, []int{1}); err == nil {
		t.Error("rmsprop accepted")
	}
}

// BenchmarkAdam measures one Adam update of the default model's 1.17
// million parameters (the six weight matrices and biases of
// 784-512-256-200-256-512-784).
func BenchmarkAdam(b *testing.B) {
	benchmarkOptimizer(b, OptAdam, []int{512 * 784, 512, 256 * 512, 256, 200 * 256, 200, 256 * 200, 256, 512 * 256, 512, 784 * 512, 784})
}

// BenchmarkMomentum measures one update of SGD with momentum, the paper's
// optimiser, of the paper's linear VAE (784-200-784: 314,584 parameters),
// the model of most cells of the paper grid.
func BenchmarkMomentum(b *testing.B) {
	benchmarkOptimizer(b, OptMomentum, []int{200 * 784, 200, 784 * 200, 784})
}

// benchmarkOptimizer measures one update of parameter tensors of the
// given sizes.
func benchmarkOptimizer(b *testing.B, kind string, sizes []int) {
	o, err := NewOptimizer(kind, 1e-3, sizes)
	if err != nil {
		b.Fatal(err)
	}
	var params, grads [][]float32
	for _, n := range sizes {
		w, g := make([]float32, n), make([]float32, n)
		for i := range g {
			g[i] = float32(i%7) - 3
		}
		params, grads = append(params, w), append(grads, g)
	}
	b.ResetTimer()
	for range b.N {
		if bad := o.Step(params, grads); bad != -1 {
			b.Fatalf("tensor %d reported non-finite", bad)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/step")
}

// TestStepFindsNonFiniteGradient puts one NaN or infinity in one tensor's
// gradient, at the start, inside and at the end of a tensor and of a CPU's
// range, in the eight-wide body and the tail, and checks that Step reports
// that tensor and leaves the weight of the bad gradient as it was, with
// both optimisers.
func TestStepFindsNonFiniteGradient(t *testing.T) {
	sizes := []int{70001, 3, 1, 40000, 9}
	for _, tc := range []struct {
		tensor, at int
		v          float32
	}{
		{0, 0, float32(math.NaN())},
		{0, 4096 + 17, float32(math.Inf(1))},
		{0, 70000, float32(math.Inf(-1))},
		{3, 0, float32(math.NaN())},
		{3, 39999, float32(math.NaN())},
		{4, 8, float32(math.Inf(1))},
	} {
		for _, kind := range []string{OptAdam, OptMomentum} {
			o, err := NewOptimizer(kind, 1e-3, sizes)
			if err != nil {
				t.Fatal(err)
			}
			var params, grads [][]float32
			for _, n := range sizes {
				w, g := make([]float32, n), make([]float32, n)
				for i := range g {
					g[i] = 1
				}
				params, grads = append(params, w), append(grads, g)
			}
			grads[tc.tensor][tc.at] = tc.v
			if got := o.Step(params, grads); got != tc.tensor {
				t.Errorf("%s, %v at tensor %d [%d]: Step reported %d", kind, tc.v, tc.tensor, tc.at, got)
			}
			if w := params[tc.tensor][tc.at]; w != 0 {
				t.Errorf("%s, %v at tensor %d [%d]: its weight was updated to %v", kind, tc.v, tc.tensor, tc.at, w)
			}
		}
	}
}

// TestStepCoversEveryParameter checks that Step, which splits the
// parameters laid end to end into one range per CPU, updates every element
// of every tensor exactly once: the result must equal kernels.Adam applied
// to each whole tensor in turn. Sizes straddle the split points.
func TestStepCoversEveryParameter(t *testing.T) {
	sizes := []int{70001, 3, 1, 40000, 9}
	o, err := NewOptimizer(OptAdam, 1e-3, sizes)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	var params, grads, want [][]float32
	for _, n := range sizes {
		w, g := make([]float32, n), make([]float32, n)
		for i := range w {
			w[i], g[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		params, grads, want = append(params, w), append(grads, g), append(want, slices.Clone(w))
	}
	for range 2 {
		if bad := o.Step(params, grads); bad != -1 {
			t.Fatalf("Step reported tensor %d non-finite", bad)
		}
	}
	r1 := kernels.NewAdamRule(1e-3, adamBeta1, adamBeta2, adamEps, 1)
	r2 := kernels.NewAdamRule(1e-3, adamBeta1, adamBeta2, adamEps, 2)
	for i, w := range want {
		m, v := make([]float32, len(w)), make([]float32, len(w))
		kernels.Adam(r1, w, grads[i], m, v)
		kernels.Adam(r2, w, grads[i], m, v)
		if !slices.Equal(w, params[i]) {
			t.Errorf("tensor %d (%d values) differs from a serial update", i, len(w))
		}
	}
}
