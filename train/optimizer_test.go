package train

import (
	"math"
	"testing"
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
