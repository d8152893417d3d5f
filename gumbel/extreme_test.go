package gumbel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"

	"gsvae/internal/op"
)

// sumTol32 bounds |sum_j y_j - 1| for a float32 softmax group: the ops
// sum the group's exponentials in float64 and round each y_j = e_j / sum
// once to float32 (relative error 2^-24), so the rounded values sum to 1
// within 2^-24; 2^-22 leaves a factor 4.
var sumTol32 = math.Exp2(-22)

// TestSoftmaxesExtremes feeds the softmax ops float32 rows whose entries
// differ by far more than the ~88 at which exp overflows in float32
// (gorgonia's built-in SoftMax returns NaN there) and logits/tau up to
// +-1e8, and the same rows in float64, where exp overflows beyond 709.
// Every output and gradient must be finite; each group of the output must
// sum to 1 within sumTol32 in float32, 2^-50 in float64 (k roundings of
// 2^-53) (for LogSoftmax: its exponentials); each y_j must match
// softmax(z)_j, z = logits/tau, computed here in float64 with math.Exp,
// within 1e-6 in float32 (the float32 exponentials have a relative error
// of about 2e-7 (kernels.ExpNeg32), the rounding to float32 adds 6e-8)
// and 1e-14 in float64 (a few roundings), and log-softmaxes the float64
// log-softmax within 1 ulp of the dtype (the op computes in float64 and
// rounds once). Then the mass sits on the largest z_j: y_max =
// 1/sum_j exp(z_j - z_max) >= 1 - (k-1) e^-gap, with gap the distance to
// the runner-up, which the test also checks (a bound above 0.9999 where
// the gap is above 10, as for the tempered ops in every row but
// "tau=1e4").
func TestSoftmaxesExtremes(t *testing.T) {
	ops := []struct {
		name     string
		build    func(in G.Nodes, k int) (*G.Node, error)
		tempered bool // the op divides by tau
		log      bool // the output is a log-softmax
	}{
		{"GumbelSoftmax", func(in G.Nodes, k int) (*G.Node, error) { return GumbelSoftmax(in[0], in[1], in[2], k) }, true, false},
		{"Softmax tau", func(in G.Nodes, k int) (*G.Node, error) { return Softmax(in[0], k, in[2]) }, true, false},
		{"Softmax", func(in G.Nodes, k int) (*G.Node, error) { return Softmax(in[0], k, nil) }, false, false},
		{"LogSoftmax", func(in G.Nodes, k int) (*G.Node, error) { return LogSoftmax(in[0], k) }, false, true},
	}
	for _, tc := range []struct {
		name   string
		logits []float32
		k      int
		tau    float32
	}{
		{"[200,0,0]", []float32{200, 0, 0}, 3, 1},
		{"[0,-200,0.5] tau=0.01", []float32{0, -200, 0.5}, 3, 0.01},
		{"logits/tau=1e4", []float32{1, 0, -1}, 3, 1e-4},
		{"logits=-1e4", []float32{-1e4, 0, -1e4}, 3, 1},
		{"logits=+-1e4 tau=1e4", []float32{1e4, -1e4, 0}, 3, 1e4},
		{"logits=+-1e4 tau=1e-4", []float32{-1e4, 1e4, 0}, 3, 1e-4},
		{"two variables [1e4,-1e4 | 0,300]", []float32{1e4, -1e4, 0, 300}, 2, 1},
	} {
		for _, o := range ops {
			for _, f32 := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s %s float32=%t", o.name, tc.name, f32), func(t *testing.T) {
					k := tc.k
					rng := rand.New(rand.NewPCG(2, 2))
					in := []input{
						{"logits", mat(1, tc.logits)},
						{"noise", mat(1, make([]float32, len(tc.logits)))},
						{"tau", tc.tau},
					}
					sumTol, valTol := sumTol32, 1e-6
					ulp := func(x float64) float64 { return ulp32(float32(x)) }
					if !f32 {
						l64 := make([]float64, len(tc.logits))
						for i, v := range tc.logits {
							l64[i] = float64(v)
						}
						in = []input{
							{"logits", mat(1, l64)},
							{"noise", mat(1, make([]float64, len(tc.logits)))},
							{"tau", float64(tc.tau)},
						}
						sumTol, valTol = math.Exp2(-50), 1e-14
						ulp = func(x float64) float64 { x = math.Abs(x); return math.Nextafter(x, math.Inf(1)) - x }
					}
					p := newProbe(t, in, func(in G.Nodes) (*G.Node, error) { return o.build(in, k) }, []int{0}, rng, nil)
					y, loss := p.run(t)
					grad := p.grad(t, 0)
					if !isFinite(y) || !isFinite(grad) || !isFinite([]float64{loss}) {
						t.Fatalf("y = %v, gradient %v, loss %v: not finite", y, grad, loss)
					}
					tau := 1.0
					if o.tempered {
						tau = float64(tc.tau)
					}
					for g := 0; g < len(y); g += k {
						z := make([]float64, k)
						for j := range z {
							z[j] = float64(tc.logits[g+j]) / tau
						}
						lse := LogSumExp(z)
						var sum float64
						for j := range k {
							v := y[g+j]
							want := z[j] - lse
							if !o.log {
								want = math.Exp(want)
								if math.Abs(v-want) > valTol {
									t.Errorf("y[%d] = %.9g, float64 softmax %.9g", g+j, v, want)
								}
							} else if math.Abs(v-want) > ulp(want) {
								t.Errorf("y[%d] = %.9g, float64 log-softmax %.9g", g+j, v, want)
							}
							if o.log {
								v = math.Exp(v)
							}
							sum += v
						}
						if math.Abs(sum-1) > sumTol {
							t.Errorf("group %d of y = %v sums to 1%+.3g, want 1 within %.3g", g/k, y, sum-1, sumTol)
						}
						best, gap := 0, math.Inf(1)
						for j := range z {
							if z[j] > z[best] {
								best = j
							}
						}
						for j := range z {
							if j != best {
								gap = math.Min(gap, z[best]-z[j])
							}
						}
						yBest := y[g+best]
						if o.log {
							yBest = math.Exp(yBest)
						}
						if bound := 1 - float64(k-1)*math.Exp(-gap); yBest < bound-1e-6 {
							t.Errorf("group %d of y = %v: y[%d] = %v, want at least %v", g/k, y, best, yBest, bound)
						}
					}
				})
			}
		}
	}
}

// TestCategoricalKLFloat32Extremes checks the KL at float32 logits of
// +-1e4 and differences of 200, where naive formulas give Inf or NaN:
// finite values and gradients (logits and learned prior), and the values
// from the KL's definition: a one-hot posterior has KL = N log k from the
// uniform prior, and 0 from a prior one-hot on the same class, and a
// uniform posterior against the prior softmax([200, 0, 0]) has
// -log 3 + (1/3)(-log p_0 - 2 log p_1) = -log 3 + 400/3 (log p_0 =
// -log(1 + 2e^-200), log p_1 = -200 - log(1 + 2e^-200), to float64).
// The ops sum in float64 and round the KL once to float32; the
// exponentials of non-maximal logits (below e^-87) add far less than
// that: tolerance 2 float32 ulps of the expected value.
func TestCategoricalKLFloat32Extremes(t *testing.T) {
	ln3 := math.Log(3)
	for _, tc := range []struct {
		name          string
		logits, prior []float32 // prior nil: uniform
		want          float64
	}{
		{"one-hot, uniform prior", []float32{1e4, -1e4, 0, 200, 0, 0}, nil, 2 * ln3},
		{"one-hot at -1e4, uniform prior", []float32{-1e4, -1e4, 0, -1e4, 1e4, -1e4}, nil, 2 * ln3},
		{"one-hot, learned prior one-hot there", []float32{1e4, -1e4, 0, 0, 200, 0}, []float32{200, 0, 0, -1e4, 1e4, 0}, 0},
		{"one-hot, learned prior uniform", []float32{1e4, -1e4, 0, 0, 200, 0}, []float32{5, 5, 5, -1e4, -1e4, -1e4}, 2 * ln3},
		{"uniform, learned prior [200,0,0]", []float32{7, 7, 7}, []float32{200, 0, 0}, -ln3 + 400.0/3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kl := klAtExtremes(t, tc.logits, tc.prior)
			tol := 2 * ulp32(float32(tc.want))
			if tc.want == 0 {
				tol = 2 * math.Exp2(-149) // exp(-200) terms round to zero in float32
			}
			if math.Abs(kl-tc.want) > tol {
				t.Errorf("KL = %.9g, want %.9g within %.3g", kl, tc.want, tol)
			}
		})
	}
}

// TestCategoricalKLFloat64Extremes is TestCategoricalKLFloat32Extremes
// in float64, where exp overflows beyond 709: logits of +-1e4 and
// differences of 200 must give finite values and gradients and the same
// values from the KL's definition, so every exponential must be
// max-shifted in float64 too. Tolerance: 4 float64 ulps of the largest
// of |want| and the |logits| (prior logits included), as log q_j = l_j -
// logsumexp(l) cancels the logits' leading digits (1.8e-12 at 1e4). The
// exponentials of the non-maximal logits, which float64 does not all round
// to zero, add below 1e-82 (e^-200 times at most 2e4 per variable).
func TestCategoricalKLFloat64Extremes(t *testing.T) {
	ln3 := math.Log(3)
	for _, tc := range []struct {
		name          string
		logits, prior []float64 // prior nil: uniform
		want          float64
	}{
		{"one-hot, uniform prior", []float64{1e4, -1e4, 0, 200, 0, 0}, nil, 2 * ln3},
		{"one-hot at -1e4, uniform prior", []float64{-1e4, -1e4, 0, -1e4, 1e4, -1e4}, nil, 2 * ln3},
		{"one-hot, learned prior one-hot there", []float64{1e4, -1e4, 0, 0, 200, 0}, []float64{200, 0, 0, -1e4, 1e4, 0}, 0},
		{"one-hot, learned prior uniform", []float64{1e4, -1e4, 0, 0, 200, 0}, []float64{5, 5, 5, -1e4, -1e4, -1e4}, 2 * ln3},
		{"uniform, learned prior [200,0,0]", []float64{7, 7, 7}, []float64{200, 0, 0}, -ln3 + 400.0/3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kl := klAtExtremes(t, tc.logits, tc.prior)
			scale := math.Abs(tc.want)
			for _, v := range append(append([]float64(nil), tc.logits...), tc.prior...) {
				scale = math.Max(scale, math.Abs(v))
			}
			tol := 4 * (math.Nextafter(scale, math.Inf(1)) - scale)
			if !(math.Abs(kl-tc.want) <= tol) {
				t.Errorf("KL = %.17g, want %.17g within %.3g", kl, tc.want, tol)
			}
		})
	}
}

// TestConcreteFloat32Extremes checks RelaxedKL and LogExpConcrete in
// float32 at logits of +-1e4 (sample and densities saturated) and at the
// lowest temperature of an annealing schedule: values and gradients
// finite, and the values equal to the float64 slice functions
// (RelaxedKLGroup, LogExpConcreteGroup) on the same float32 inputs: the
// ops compute in float64 and round once, so within 2 float32 ulps of the
// result.
func TestConcreteFloat32Extremes(t *testing.T) {
	const k = 3
	for _, tc := range []struct {
		name          string
		logits, noise []float32
		tau, priorTau float32
		x             []float32 // LogExpConcrete's sample; nil: skip it
	}{
		{"logits=+-1e4 tau=0.1", []float32{1e4, -1e4, 0}, []float32{0.5, -1, 2}, 0.1, 0.5, []float32{0, -2e4, -1e4}},
		{"logits=+-1e4 tau=1", []float32{-1e4, 1e4, 0}, []float32{0, 0, 0}, 1, 2.0 / 3, []float32{-2e4, 0, -1e4}},
		{"[200,0,0] tau=0.1", []float32{200, 0, 0}, []float32{1, 2, 3}, 0.1, 0.1, []float32{0, -2000, -2000}},
		{"[0,1,-1] tau=0.05", []float32{0, 1, -1}, []float32{0.3, -0.2, 1}, 0.05, 0.5, []float32{-1, -0.5, -2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(4, 4))
			kl := newProbe(t, []input{{"logits", mat(1, tc.logits)}, {"noise", mat(1, tc.noise)}, {"tau", tc.tau}},
				func(in G.Nodes) (*G.Node, error) { return RelaxedKL(in[0], in[1], in[2], k, float64(tc.priorTau)) }, []int{0}, rng, nil)
			v, _ := kl.run(t)
			g := kl.grad(t, 0)
			l64, g64 := make([]float64, k), make([]float64, k)
			for j := range k {
				l64[j], g64[j] = float64(tc.logits[j]), float64(tc.noise[j])
			}
			want := RelaxedKLGroup(l64, g64, float64(tc.tau), float64(tc.priorTau), nil)
			if !isFinite(v) || !isFinite(g) {
				t.Errorf("RelaxedKL %v, gradient %v: not finite", v, g)
			} else if tol := 2 * ulp32(float32(want)); math.Abs(v[0]-want) > tol {
				t.Errorf("RelaxedKL %.9g, float64 %.9g (tolerance %.3g)", v[0], want, tol)
			}
			t.Logf("RelaxedKL %.6g", v[0])
			lp := newProbe(t, []input{{"x", mat(1, tc.x)}, {"logits", mat(1, tc.logits)}, {"lambda", tc.tau}},
				func(in G.Nodes) (*G.Node, error) { return LogExpConcrete(in[0], in[1], in[2], k) }, []int{0, 1}, rng, nil)
			v, _ = lp.run(t)
			x64 := make([]float64, k)
			for j := range k {
				x64[j] = float64(tc.x[j])
			}
			want = LogExpConcreteGroup(x64, l64, float64(tc.tau), nil, nil)
			if dx, da := lp.grad(t, 0), lp.grad(t, 1); !isFinite(v) || !isFinite(dx) || !isFinite(da) {
				t.Errorf("LogExpConcrete %v, gradients %v %v: not finite", v, dx, da)
			} else if tol := 2 * ulp32(float32(want)); math.Abs(v[0]-want) > tol {
				t.Errorf("LogExpConcrete %.9g, float64 %.9g (tolerance %.3g)", v[0], want, tol)
			}
			t.Logf("LogExpConcrete %.6g", v[0])
		})
	}
}

// klAtExtremes returns CategoricalKL (k = 3) of one row of logits against
// the uniform prior (prior nil) or a learned one, and fails the test if a
// gradient (logits, prior) is not finite.
func klAtExtremes[T op.Float](t *testing.T, logits, prior []T) float64 {
	t.Helper()
	in := []input{{"logits", mat(1, logits)}}
	wrt := []int{0}
	build := func(in G.Nodes) (*G.Node, error) {
		var p *G.Node
		if len(in) > 1 {
			p = in[1]
		}
		return CategoricalKL(in[0], 3, p)
	}
	if prior != nil {
		in = append(in, input{"prior", mat(1, prior)})
		wrt = append(wrt, 1)
	}
	p := newProbe(t, in, build, wrt, rand.New(rand.NewPCG(3, 3)), nil)
	kl, _ := p.run(t)
	for i := range wrt {
		if g := p.grad(t, i); !isFinite(g) {
			t.Errorf("gradient %d = %v: not finite", i, g)
		}
	}
	return kl[0]
}
