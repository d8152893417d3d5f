package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestNLLKernel compares nllRow32 (the AVX2 kernel where the CPU has it)
// with the float64 formula of math.Exp and math.Log1p, on rows whose
// lengths exercise the eight-wide body and the tail, over logits from
// -100 to 100, the extremes 0, +-87 and +-1e30, and binary pixels. The
// kernel works in float32, so each residual may be off by a few float32
// roundings: tolerance 4e-7 absolute (residuals lie in [-1, 1]). In each
// term max(l, 0) - x l is exact and log(1 + e) is off by a few roundings,
// 4e-7 relative; adding the two rounds once more (6e-8, 1.2e-7 allowed);
// the row's tolerance is the sum of its terms'.
func TestNLLKernel(t *testing.T) {
	t.Logf("AVX2 kernel in use: %t", HasAVX2FMA)
	rng := rand.New(rand.NewPCG(7, 8))
	var worstResid, worstRow float64
	for _, n := range []int{1, 7, 8, 9, 784} {
		l, x, resid := make([]float32, n), make([]float32, n), make([]float32, n)
		special := []float32{0, 87, -87, 1e30, -1e30, 20, -20}
		for i := range l {
			l[i] = float32(200*rng.Float64() - 100)
			if i%3 == 0 {
				l[i] = float32(4 * rng.NormFloat64())
			}
			if i < len(special) && n > 8 {
				l[i] = special[i]
			}
			x[i] = float32(rng.IntN(2))
		}
		got := nllRow32(l, x, resid)
		var want, bound float64
		for i := range l {
			li, xi := float64(l[i]), float64(x[i])
			e := math.Exp(-math.Abs(li))
			term := math.Max(li, 0) + math.Log1p(e) - xi*li
			want += term
			bound += 1.2e-7*math.Abs(term) + 4e-7*math.Log1p(e)
			sig := 1 / (1 + math.Exp(-li))
			d := math.Abs(float64(resid[i]) - (sig - xi))
			worstResid = math.Max(worstResid, d)
			if d > 4e-7 {
				t.Errorf("n %d: residual at l = %v, x = %v: %v, want %v", n, li, xi, resid[i], sig-xi)
			}
		}
		worstRow = math.Max(worstRow, math.Abs(got-want)/bound)
		if math.Abs(got-want) > bound {
			t.Errorf("n %d: row NLL %v, want %v (tolerance %.3g)", n, got, want, bound)
		}
	}
	t.Logf("worst residual error %.2g; worst row error %.2g of its tolerance", worstResid, worstRow)
}

// TestNLLKernelNaN checks that a NaN logit makes the row's NLL NaN, so the
// training loop's guard stops the run.
func TestNLLKernelNaN(t *testing.T) {
	l, x, resid := make([]float32, 16), make([]float32, 16), make([]float32, 16)
	for _, at := range []int{3, 12} {
		l[at] = float32(math.NaN())
		if got := nllRow32(l, x, resid); !math.IsNaN(got) {
			t.Errorf("NaN logit at %d: NLL %v", at, got)
		}
		l[at] = 0
	}
}

// TestExpNeg32 compares expNeg32 (the AVX2 kernel where the CPU has it)
// with math.Exp on a grid of [0, 100] and on lengths that exercise the
// tail: relative error at most 3e-7 (a few float32 roundings) up to 87;
// beyond, where float32 leaves the normal range, anything in [0, exp(-87)]
// (the kernel gives exp(-87), the Go tail the subnormal); NaN stays NaN.
func TestExpNeg32(t *testing.T) {
	for _, n := range []int{1, 9, 100001} {
		a := make([]float32, n)
		for i := range a {
			a[i] = float32(100 * float64(i) / float64(n))
		}
		want := make([]float64, n)
		for i, v := range a {
			want[i] = math.Exp(-float64(v))
		}
		ExpNeg32(a)
		for i, v := range a {
			w := want[i]
			if -math.Log(w) > 87 {
				if v < 0 || float64(v) > math.Exp(-87)*(1+3e-7) {
					t.Fatalf("n %d: exp(-%v) = %v, want at most exp(-87)", n, -math.Log(w), v)
				}
				continue
			}
			if math.Abs(float64(v)-w) > 3e-7*w {
				t.Fatalf("n %d: exp(-%v) = %v, want %v", n, -math.Log(want[i]), v, w)
			}
		}
	}
	a := []float32{1, 2, 3, float32(math.NaN()), 5, 6, 7, 8, float32(math.NaN())}
	ExpNeg32(a)
	if !math.IsNaN(float64(a[3])) || !math.IsNaN(float64(a[8])) {
		t.Errorf("NaN inputs gave %v and %v", a[3], a[8])
	}
}

// TestReluMaskKernel checks the float32 ReLU gradient (the AVX2 kernel
// where the CPU has it, for the first 8 elements, and the Go loop for the
// rest) against its definition on outputs +0, -0, the smallest subnormal,
// ordinary values and +Inf, with gradients of both signs: d = dy where
// y > 0, else +0.
func TestReluMaskKernel(t *testing.T) {
	y := []float32{0, math.SmallestNonzeroFloat32, 1, float32(math.Copysign(0, -1)), 3.5, float32(math.Inf(1)), 0, 2,
		0, 1, float32(math.Copysign(0, -1))}
	dy := []float32{1, -2, 3, -4, -5, 6, float32(math.Inf(-1)), -0.25, -7, -8, 9}
	d := make([]float32, len(y))
	ReLUMask(d, y, dy)
	for i := range y {
		want := float32(0)
		if y[i] > 0 {
			want = dy[i]
		}
		if d[i] != want || math.Signbit(float64(d[i])) != math.Signbit(float64(want)) {
			t.Errorf("y %v, dy %v: got %v, want %v", y[i], dy[i], d[i], want)
		}
	}
}

// TestLinearKernels checks that the float32 kernels of the linear layer
// (bias and ReLU, ReLU gradient, column sum; AVX2 where the CPU has it)
// give the same bits as their Go loops, on lengths that exercise the
// eight-wide body and the tail, with values that include +-0, NaN,
// infinities and subnormals. Same bits is the contract: both do the same
// float32 operations in the same order.
func TestLinearKernels(t *testing.T) {
	t.Logf("AVX2 kernels in use: %t", HasAVX2FMA)
	rng := rand.New(rand.NewPCG(3, 4))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1, -1}
	draw := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			if rng.IntN(4) == 0 {
				x[i] = special[rng.IntN(len(special))]
			}
		}
		return x
	}
	same := func(a, b []float32) bool {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
				return false
			}
		}
		return true
	}
	for _, n := range []int{0, 1, 7, 8, 9, 16, 17, 200, 515} {
		for _, relu := range []bool{false, true} {
			y, b := draw(n), draw(n)
			if n >= 3 { // -0 + -0 = -0, which the ReLU makes +0; NaN + 1
				negZero := float32(math.Copysign(0, -1))
				y[0], b[0], y[2], b[2] = negZero, negZero, float32(math.NaN()), 1
			}
			want := slices.Clone(y)
			biasActGo(want, b, relu)
			BiasAct(y, b, relu)
			if !same(y, want) {
				t.Errorf("bias n %d relu %t: kernel %v, Go %v", n, relu, y, want)
			}
		}
		y, dy := draw(n), draw(n)
		for i, v := range y { // ReLU outputs: +0, positive or NaN
			y[i] = max(v, 0)
		}
		d, want := make([]float32, n), make([]float32, n)
		reluMaskGo(want, y, dy)
		ReLUMask(d, y, dy)
		if !same(d, want) {
			t.Errorf("ReLU gradient n %d: kernel %v, Go %v", n, d, want)
		}
		for _, rows := range []int{1, 2, 100} {
			m := draw(rows * n)
			s, want := make([]float32, n), make([]float32, n)
			colSumGo(want, m, rows, n)
			ColSum(s, m, rows)
			if !same(s, want) {
				t.Errorf("column sum n %d rows %d: kernel %v, Go %v", n, rows, s, want)
			}
		}
	}
}
