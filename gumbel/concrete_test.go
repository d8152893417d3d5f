package gumbel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestExpConcreteBinaryClosedForm checks the K = 2 density against the
// closed-form binary Concrete density of Maddison et al. (2017, eq. 13
// ff.): with alpha = exp(a1 - a2), the first coordinate y of the sample
// has
//
//	p(y) = lambda alpha y^(-lambda-1) (1-y)^(-lambda-1) / (alpha y^-lambda + (1-y)^-lambda)^2.
//
// LogExpConcreteGroup is log p(y) + sum_k log y_k (its base measure
// carries the factor prod_k y_k, see its doc); for K = 2 that is
// log(p(y) y (1-y)). Tolerance 1e-9 relative: float64 rounding of the
// closed form's powers (up to y^-11 here) and logarithms.
func TestExpConcreteBinaryClosedForm(t *testing.T) {
	for _, tc := range []struct{ a1, a2, lambda, y float64 }{
		{0, 0, 1, 0.3}, {1.5, -0.5, 0.5, 0.9}, {-2, 1, 2 / 3.0, 0.05}, {3, 0, 0.1, 0.999}, {0.2, 0.1, 10, 0.6},
	} {
		alpha := math.Exp(tc.a1 - tc.a2)
		y, l := tc.y, tc.lambda
		py := l * alpha * math.Pow(y, -l-1) * math.Pow(1-y, -l-1) / math.Pow(alpha*math.Pow(y, -l)+math.Pow(1-y, -l), 2)
		want := math.Log(py * y * (1 - y))
		got := LogExpConcreteGroup([]float64{math.Log(y), math.Log(1 - y)}, []float64{tc.a1, tc.a2}, l, nil, nil)
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%+v: log density %.12g, closed form %.12g", tc, got, want)
		}
	}
}

// TestExpConcreteNormalisedK3 integrates the K = 3 density numerically
// over the log-ratios u = (x1 - x3, x2 - x3), as its doc says it is
// normalised: y = softmax(u1, u2, 0)
// has dy1 dy2 = y1 y2 y3 du1 du2 (the Jacobian det(diag(y) - y y^T) over
// the first two coordinates), so the density with the base measure of
// LogExpConcreteGroup's doc (the Concrete density times y1 y2 y3)
// integrates to 1 over u: the test checks that doc's claim as well as the
// normalising constant (K-1)! lambda^(K-1). In u the density is
// 2 lambda^2 prod_k alpha_k e^(-lambda u_k) / (sum_k alpha_k e^(-lambda u_k))^3,
// a bivariate logistic centred at c = (a_1 - a_3, a_2 - a_3)/lambda with
// tails below e^(-lambda |u - c|). The trapezoid rule on the square of
// half-width L = 25/lambda around c, step h = 0.15/lambda, then has
// three errors: the tails beyond L, about e^-25 = 1.4e-11; the
// discretisation, exp(-2 pi d/h) for an integrand analytic in a strip of
// half-width d (d = pi/lambda, from the logistic's poles): e^-131; and
// rounding over 111,000 terms, about 1e-11. Tolerance 1e-9.
func TestExpConcreteNormalisedK3(t *testing.T) {
	for _, tc := range []struct {
		a      []float64
		lambda float64
	}{
		{[]float64{0, 0, 0}, 1},
		{[]float64{0.5, -1, 2}, 0.7},
		{[]float64{0, 0.3, -0.2}, 2.0 / 3},
		{[]float64{3, -1, 0}, 2},
		{[]float64{1, 0, 0}, 0.3},
	} {
		l := tc.lambda
		half, h := 25/l, 0.15/l
		n := int(2 * half / h)
		c1, c2 := (tc.a[0]-tc.a[2])/l, (tc.a[1]-tc.a[2])/l
		x, u := make([]float64, 3), make([]float64, 3)
		var sum float64
		for i := 0; i <= n; i++ {
			u[0] = c1 - half + float64(i)*h
			for j := 0; j <= n; j++ {
				u[1] = c2 - half + float64(j)*h
				lse := LogSumExp(u)
				u1, u2 := u[0], u[1]
				x[0], x[1], x[2] = u1-lse, u2-lse, -lse
				w := 1.0 // trapezoid weights
				if i == 0 || i == n {
					w /= 2
				}
				if j == 0 || j == n {
					w /= 2
				}
				sum += w * math.Exp(LogExpConcreteGroup(x, tc.a, l, nil, nil))
			}
		}
		sum *= h * h
		t.Logf("a = %v, lambda = %v: 1%+.3g", tc.a, l, sum-1)
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("a = %v, lambda = %v: density integrates to 1%+.3g", tc.a, l, sum-1)
		}
	}
}

// TestExpConcreteIsTheSamplesDensity checks that LogExpConcreteGroup is
// the density of x = log softmax((a + g)/lambda), Gumbel g from Sample,
// by importance sampling: for x drawn so, E[p'(x)/p(x)] = 1 for any
// normalised density p' on the same base measure (here other logits and
// a higher temperature, so that p'/p is bounded, and close enough to p
// that the ratios' standard deviation is about 0.5) exactly when p is the
// samples' density (TestExpConcreteNormalisedK3 checks that p' is
// normalised). The mean of n = 100,000 ratios must be within 4 standard
// errors (computed from the draws, about 0.0016; false alarm 6e-5) of 1.
// A density off by a factor depending on lambda, or with lambda x_k
// replaced by x_k, fails by far more.
func TestExpConcreteIsTheSamplesDensity(t *testing.T) {
	const n = 100000
	rng := rand.New(rand.NewPCG(4, 2))
	a, b := []float64{0.5, -1, 2}, []float64{0.8, -1.2, 2.1}
	const lambda, lambdaB = 0.7, 0.9
	g, x, z := make([]float64, 3*n), make([]float64, 3), make([]float64, 3)
	Sample(g, rng)
	var sum, sumSq float64
	for i := range n {
		for j := range z {
			z[j] = (a[j] + g[3*i+j]) / lambda
		}
		lse := LogSumExp(z)
		for j := range x {
			x[j] = z[j] - lse
		}
		r := math.Exp(LogExpConcreteGroup(x, b, lambdaB, nil, nil) - LogExpConcreteGroup(x, a, lambda, nil, nil))
		sum += r
		sumSq += r * r
	}
	mean := sum / n
	se := math.Sqrt((sumSq/n - mean*mean) / n)
	t.Logf("E[p'/p] = %.4f +- %.4f", mean, se)
	if math.Abs(mean-1) > 4*se {
		t.Errorf("E[p'/p] = %.4f, want 1 within %.4f", mean, 4*se)
	}
}

// TestRelaxedKLGroupGradientAndStability checks the relaxed KL of one
// variable on slices: its gradient against central differences (step and
// tolerance as fdStep: the largest |L| here is below 100 and the
// third derivatives below 1e4 at tau = 0.1), and that value and gradient
// stay finite for tau down to 0.1 and logits up to +-50.
func TestRelaxedKLGroupGradientAndStability(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, tc := range []struct {
		tau, priorTau, scale float64
	}{{1, 1, 1}, {0.5, 2.0 / 3, 2}, {0.1, 0.5, 3}, {0.1, 0.1, 50}, {2, 0.5, 50}} {
		logits := make([]float64, 4)
		for j := range logits {
			logits[j] = tc.scale * (2*rng.Float64() - 1)
		}
		logits[0] = tc.scale // reach the extreme itself
		g := gumbelSlice(rng, 4)
		d := make([]float64, 4)
		kl := RelaxedKLGroup(logits, g, tc.tau, tc.priorTau, d)
		if !isFinite([]float64{kl}) || !isFinite(d) {
			t.Fatalf("%+v: KL %v, gradient %v", tc, kl, d)
		}
		if tc.scale > 10 {
			continue // finite differences of a saturated softmax say little
		}
		for j := range logits {
			orig := logits[j]
			logits[j] = orig + fdStep
			up := RelaxedKLGroup(logits, g, tc.tau, tc.priorTau, nil)
			logits[j] = orig - fdStep
			down := RelaxedKLGroup(logits, g, tc.tau, tc.priorTau, nil)
			logits[j] = orig
			fd := (up - down) / (2 * fdStep)
			if math.Abs(d[j]-fd) > fdTol*math.Max(1, math.Abs(fd)) {
				t.Errorf("%+v logit %d: gradient %.8g, finite difference %.8g", tc, j, d[j], fd)
			}
		}
	}
}

// TestRelaxedKLIsLogExpConcreteDifference builds the relaxed KL from
// other ops of the package, as a user of LogExpConcrete would,
//
//	x = LogSoftmax((logits + g) / tau)
//	LogExpConcrete(x, logits, tau) - LogExpConcrete(x, 0, priorTau),
//
// and compares it with the RelaxedKL node on the same inputs, in value and
// in the gradient with respect to the logits, which gorgonia assembles
// from LogSoftmax's and LogExpConcrete's gradients (through the sample x
// and the density's logits) while RelaxedKL computes it in one piece. Both
// run in float64 on the same group functions, so they differ by rounding
// only: terms of size up to lambda |x| (below 1e3 here) cancel in the
// difference, giving about 1e3 eps = 2e-13; tolerance 1e-10 relative to
// max(1, |value|).
func TestRelaxedKLIsLogExpConcreteDifference(t *testing.T) {
	const rows, k = 3, 3
	const cols = 2 * k
	for i, tc := range []struct{ tau, priorTau float64 }{{1, 1}, {0.5, 2.0 / 3}, {0.1, 0.5}, {2, 0.3}} {
		t.Run(fmt.Sprintf("tau=%v priorTau=%.3g", tc.tau, tc.priorTau), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, uint64(i)))
			l, g := randomSlice(rng, rows*cols, 2), gumbelSlice(rng, rows*cols)
			c := randomSlice(rng, rows, 1)
			inputs := func() []input {
				return []input{
					{"logits", mat(rows, append([]float64(nil), l...))},
					{"noise", mat(rows, append([]float64(nil), g...))},
					{"tau", tc.tau},
					{"priorTau", tc.priorTau},
					{"zeros", tensor.New(tensor.WithShape(rows, cols), tensor.Of(tensor.Float64))},
				}
			}
			direct := newProbe(t, inputs(), func(in G.Nodes) (*G.Node, error) {
				return RelaxedKL(in[0], in[1], in[2], k, tc.priorTau)
			}, []int{0}, nil, c)
			composed := newProbe(t, inputs(), func(in G.Nodes) (*G.Node, error) {
				lg, err := G.Add(in[0], in[1])
				if err != nil {
					return nil, err
				}
				z, err := G.HadamardDiv(lg, in[2])
				if err != nil {
					return nil, err
				}
				x, err := LogSoftmax(z, k)
				if err != nil {
					return nil, err
				}
				logq, err := LogExpConcrete(x, in[0], in[2], k)
				if err != nil {
					return nil, err
				}
				logp, err := LogExpConcrete(x, in[4], in[3], k)
				if err != nil {
					return nil, err
				}
				return G.Sub(logq, logp)
			}, []int{0}, nil, c)
			want, _ := direct.run(t)
			got, _ := composed.run(t)
			close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-10*math.Max(1, math.Abs(b)) }
			for r := range want {
				if !close(got[r], want[r]) {
					t.Errorf("row %d: LogExpConcrete difference %.15g, RelaxedKL %.15g", r, got[r], want[r])
				}
			}
			gw, gg := direct.grad(t, 0), composed.grad(t, 0)
			for j := range gw {
				if !close(gg[j], gw[j]) {
					t.Errorf("logit %d: gradient through LogSoftmax and LogExpConcrete %.15g, RelaxedKL's %.15g", j, gg[j], gw[j])
				}
			}
		})
	}
}
