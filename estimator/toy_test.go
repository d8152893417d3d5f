package estimator

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestToyGradient checks the toy's exact gradient against central
// differences of its exact loss (h = 1e-6, tolerance 1e-8 absolute: the
// loss is a smooth function of order 1), and for K = 2 against the closed
// form 2 (1 - 2t) sigma (1 - sigma) of REBAR's Bernoulli problem (x2).
func TestToyGradient(t *testing.T) {
	const h, tol = 1e-6, 1e-8
	for _, tc := range []struct {
		k      int
		t      float64
		logits []float64
	}{
		{2, 0.45, []float64{0.3, -0.2}},
		{2, 0.499, []float64{0, 0}},
		{4, 0.3, []float64{0.5, -1, 0.2, 1.5}},
	} {
		p, err := NewToy(tc.k, tc.t)
		if err != nil {
			t.Fatal(err)
		}
		g := p.Gradient(tc.logits)
		for i := range tc.logits {
			l := append([]float64(nil), tc.logits...)
			l[i] += h
			up := p.Loss(l)
			l[i] -= 2 * h
			fd := (up - p.Loss(l)) / (2 * h)
			if math.Abs(g[i]-fd) > tol {
				t.Errorf("K=%d t=%g: dL/dl_%d = %.10g, finite difference %.10g", tc.k, tc.t, i, g[i], fd)
			}
		}
		if tc.k == 2 {
			s := 1 / (1 + math.Exp(-(tc.logits[0] - tc.logits[1])))
			if want := 2 * (1 - 2*tc.t) * s * (1 - s); math.Abs(g[0]-want) > 1e-15 || math.Abs(g[1]+want) > 1e-15 {
				t.Errorf("K=2 t=%g: gradient %v, closed form (%g, %g)", tc.t, g, want, -want)
			}
		}
	}
}

// TestToySamplersUnbiased checks the toy samplers against an independent
// Monte Carlo: for sf, nvil and muprop the mean of 20000 draws is within 4
// standard errors of the exact gradient, and for st and darn (biased) the
// mean of 20000 draws matches their exact expectation computed here by
// summing over the K = 3 classes with the straight-through formulas
// written out (E[g] = sum_k mu_k g(e_k), as neither depends on the noise
// beyond the class).
func TestToySamplersUnbiased(t *testing.T) {
	const draws = 20000
	p, err := NewToy(3, 0.45)
	if err != nil {
		t.Fatal(err)
	}
	logits := []float64{0.2, -0.4, 0.1}
	exact := p.Gradient(logits)
	mu := make([]float64, 3)
	sum := 0.0
	for i, l := range logits {
		mu[i] = math.Exp(l)
		sum += mu[i]
	}
	for i := range mu {
		mu[i] /= sum
	}
	// Expectations of st and darn by hand: for class k, z = e_k,
	// d = 2 (e_k - t); st: g = mu (d - <mu, d>); darn: g = (d.(e_k - 1/3)) (e_k - mu).
	stMean, darnMean := make([]float64, 3), make([]float64, 3)
	for k := range 3 {
		d := make([]float64, 3)
		var dot, signal float64
		for i := range d {
			z := 0.0
			if i == k {
				z = 1
			}
			d[i] = 2 * (z - p.T[i])
			dot += mu[i] * d[i]
			signal += d[i] * (z - 1.0/3)
		}
		for i := range d {
			z := 0.0
			if i == k {
				z = 1
			}
			stMean[i] += mu[k] * mu[i] * (d[i] - dot)
			darnMean[i] += mu[k] * signal * (z - mu[i])
		}
	}
	for _, tc := range []struct {
		name string
		want []float64
	}{{SF, exact}, {NVIL, exact}, {MuProp, exact}, {ST, stMean}, {DARN, darnMean}} {
		s, err := p.NewSampler(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		var m, m2 [3]float64
		for range draws {
			g := s.Grad(logits, 1, rng)
			for i, v := range g {
				m[i] += v / draws
				m2[i] += v * v / draws
			}
		}
		for i := range m {
			se := math.Sqrt((m2[i] - m[i]*m[i]) / draws)
			if math.Abs(m[i]-tc.want[i]) > 4*se+1e-12 {
				t.Errorf("%s: mean[%d] = %.5f, expected %.5f (SE %.5f)", tc.name, i, m[i], tc.want[i], se)
			}
		}
	}
}
