package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExpConcreteBinaryClosedForm checks the K = 2 density against the
// closed-form binary Concrete density of Maddison et al. (2017): with
// alpha = exp(a1 - a2), the first coordinate y of the sample has
//
//	p(y) = lambda alpha y^(-lambda-1) (1-y)^(-lambda-1) / (alpha y^-lambda + (1-y)^-lambda)^2.
//
// The ExpConcrete formula is log p(y) + sum_k log y_k (its base measure
// carries the factor prod_k y_k, the same for every member of the family,
// so KL estimates are unaffected); for K = 2 that is log(p(y) y (1-y)).
// Tolerance 1e-9: float64 rounding.
func TestExpConcreteBinaryClosedForm(t *testing.T) {
	for _, tc := range []struct{ a1, a2, lambda, y float64 }{
		{0, 0, 1, 0.3}, {1.5, -0.5, 0.5, 0.9}, {-2, 1, 2 / 3.0, 0.05}, {3, 0, 0.1, 0.999},
	} {
		alpha := math.Exp(tc.a1 - tc.a2)
		y, l := tc.y, tc.lambda
		py := l * alpha * math.Pow(y, -l-1) * math.Pow(1-y, -l-1) / math.Pow(alpha*math.Pow(y, -l)+math.Pow(1-y, -l), 2)
		want := math.Log(py * y * (1 - y))
		got := logExpConcrete([]float64{math.Log(y), math.Log(1 - y)}, []float64{tc.a1, tc.a2}, l, nil, nil)
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%+v: log density %.12g, closed form %.12g", tc, got, want)
		}
	}
}

// TestExpConcreteNormalisedK3 checks that the K = 3 density integrates to
// one, by importance sampling: for x drawn from ExpConcrete(a, lambda)
// through the Gumbel-Softmax, E[p'(x)/p(x)] = 1 for any normalised density
// p' (here other logits and temperature). The mean of n = 200,000 ratios
// must be within 4 standard errors (computed from the draws) of 1; a
// density off by a constant factor fails.
func TestExpConcreteNormalisedK3(t *testing.T) {
	const n = 200000
	rng := rand.New(rand.NewPCG(4, 2))
	a, b := []float64{0.5, -1, 2}, []float64{0, 0.3, -0.2}
	const lambda, lambdaB = 0.7, 1.1
	g, x := make([]float64, 3), make([]float64, 3)
	var sum, sumSq float64
	for range n {
		SampleGumbel(g, rng)
		z := make([]float64, 3)
		for j := range z {
			z[j] = (a[j] + g[j]) / lambda
		}
		lse := LogSumExp(z)
		for j := range x {
			x[j] = z[j] - lse
		}
		r := math.Exp(logExpConcrete(x, b, lambdaB, nil, nil) - logExpConcrete(x, a, lambda, nil, nil))
		sum += r
		sumSq += r * r
	}
	mean := sum / n
	se := math.Sqrt((sumSq/n - mean*mean) / n)
	t.Logf("E[p'/p] = %.4f ± %.4f", mean, se)
	if math.Abs(mean-1) > 4*se {
		t.Errorf("E[p'/p] = %.4f, want 1 within %.4f", mean, 4*se)
	}
}

// TestRelaxedKLGradientAndStability checks the relaxed KL of one variable:
// its gradient against central differences (h = 1e-6, tolerance 1e-5
// relative: the density has exponents up to K/tau), and that value and
// gradient stay finite for tau down to 0.1 and logits up to +-50.
func TestRelaxedKLGradientAndStability(t *testing.T) {
	const h, tol = 1e-6, 1e-5
	rng := rand.New(rand.NewPCG(6, 6))
	for _, tc := range []struct {
		tau, priorTau, scale float64
	}{{1, 1, 1}, {0.5, 2.0 / 3, 2}, {0.1, 0.5, 3}, {0.1, 0.1, 50}, {2, 0.5, 50}} {
		logits := make([]float64, 4)
		for j := range logits {
			logits[j] = tc.scale * (2*rng.Float64() - 1)
		}
		logits[0] = tc.scale // reach the extreme itself
		g := make([]float64, 4)
		SampleGumbel(g, rng)
		d := make([]float64, 4)
		kl := relaxedKLGroup(logits, g, tc.tau, tc.priorTau, d)
		if math.IsNaN(kl) || math.IsInf(kl, 0) {
			t.Fatalf("%+v: KL %v", tc, kl)
		}
		for j := range logits {
			if math.IsNaN(d[j]) || math.IsInf(d[j], 0) {
				t.Fatalf("%+v: gradient %v", tc, d)
			}
			if tc.scale > 10 {
				continue // finite differences of a saturated softmax say little
			}
			orig := logits[j]
			logits[j] = orig + h
			up := relaxedKLGroup(logits, g, tc.tau, tc.priorTau, nil)
			logits[j] = orig - h
			down := relaxedKLGroup(logits, g, tc.tau, tc.priorTau, nil)
			logits[j] = orig
			fd := (up - down) / (2 * h)
			if math.Abs(d[j]-fd) > tol*math.Max(1, math.Abs(fd)) {
				t.Errorf("%+v logit %d: gradient %.8g, finite difference %.8g", tc, j, d[j], fd)
			}
		}
	}
}
