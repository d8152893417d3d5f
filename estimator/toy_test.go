package estimator

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gsvae/gumbel"
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

// TestNewToy checks the toy's limits (K from 2 to 1000, t from 0 to 1,
// both ends included), its targets t_0 = t and t_k = (1 - t)/(K - 1), and
// Best, the class with the smallest f: for K = 2, e_0 when t > 1/2 and
// e_1 otherwise; for K = 3 and t = 0.2 (targets 0.2, 0.4, 0.4), e_1, the
// first of the two tied best.
func TestNewToy(t *testing.T) {
	for _, tc := range []struct {
		k  int
		t  float64
		ok bool
	}{{1, 0.5, false}, {2, 0.5, true}, {1000, 0.5, true}, {1001, 0.5, false}, {3, 0, true}, {3, 1, true}, {3, -1e-9, false}, {3, 1 + 1e-9, false}, {3, math.NaN(), false}} {
		_, err := NewToy(tc.k, tc.t)
		if (err == nil) != tc.ok {
			t.Errorf("NewToy(%d, %g): error %v, want accepted %t", tc.k, tc.t, err, tc.ok)
		}
	}
	p, err := NewToy(4, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.4, 0.2, 0.2, 0.2}; !floatsNear(p.T, want, 1e-15) {
		t.Errorf("NewToy(4, 0.4).T = %v, want %v", p.T, want)
	}
	for _, tc := range []struct {
		k    int
		t    float64
		best int
	}{{2, 0.6, 0}, {2, 0.4, 1}, {3, 0.2, 1}} {
		p, err := NewToy(tc.k, tc.t)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Best(); got != tc.best {
			t.Errorf("K = %d, t = %g: Best %d, want %d", tc.k, tc.t, got, tc.best)
		}
	}
}

// floatsNear reports whether a and b have the same length and differ by
// at most tol entry by entry.
func floatsNear(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !(math.Abs(a[i]-b[i]) <= tol) {
			return false
		}
	}
	return true
}

// TestToySamplersReplay checks the draws of the gs, st-gs, muprop and
// nvil toy samplers one by one, replaying their random stream (one
// gumbel.Sample of K values per draw, z the argmax of logits + noise):
// gs against central differences (h = 1e-6) of f(softmax((l + g)/tau))
// at the draw's noise g; st-gs against y (d - <y, d>) / tau with d =
// 2 (z - t) at the one-hot z; muprop against mu (d_mu - <mu, d_mu>) +
// (f(z) - f(mu) - d_mu.(z - mu) - c)(z - mu) with d_mu = 2 (mu - t); nvil
// against (f(z) - b - c)(z - mu) with its constant baseline b moved by 0.1
// of f - b - c after each draw. c follows the moving average of the
// signals (Stats). Tolerance 1e-12, 1e-7 for the finite differences.
func TestToySamplersReplay(t *testing.T) {
	const k, tau, draws = 3, 0.7, 6
	p, err := NewToy(k, 0.45)
	if err != nil {
		t.Fatal(err)
	}
	logits := []float64{0.2, -0.4, 0.1}
	softmax := func(v []float64, tau float64) []float64 {
		out := make([]float64, len(v))
		var s float64
		for i, x := range v {
			out[i] = math.Exp(x / tau)
			s += out[i]
		}
		for i := range out {
			out[i] /= s
		}
		return out
	}
	f := func(z []float64) float64 {
		var s float64
		for i, v := range z {
			s += (v - p.T[i]) * (v - p.T[i])
		}
		return s
	}
	mu := softmax(logits, 1)
	for _, name := range []string{GS, STGS, MuProp, NVIL} {
		s, err := p.NewSampler(name)
		if err != nil {
			t.Fatal(err)
		}
		rng, replay := rand.New(rand.NewPCG(5, 6)), rand.New(rand.NewPCG(5, 6))
		stats, base := NewStats(), 0.0
		for d := range draws {
			got := s.Grad(logits, tau, rng)
			noise := make([]float64, k)
			gumbel.Sample(noise, replay)
			z, pert := make([]float64, k), make([]float64, k)
			for i := range pert {
				pert[i] = logits[i] + noise[i]
			}
			z[slices.Index(pert, slices.Max(pert))] = 1
			want := make([]float64, k)
			tol := 1e-12
			var signal float64
			switch name {
			case GS:
				const h = 1e-6
				tol = 1e-7
				for i := range want {
					up, down := slices.Clone(pert), slices.Clone(pert)
					up[i] += h
					down[i] -= h
					want[i] = (f(softmax(up, tau)) - f(softmax(down, tau))) / (2 * h)
				}
			case STGS:
				y := softmax(pert, tau)
				var dot float64
				for i := range y {
					dot += y[i] * 2 * (z[i] - p.T[i])
				}
				for i := range want {
					want[i] = y[i] * (2*(z[i]-p.T[i]) - dot) / tau
				}
			case MuProp:
				var dot, taylor float64
				for i := range mu {
					dot += mu[i] * 2 * (mu[i] - p.T[i])
					taylor += 2 * (mu[i] - p.T[i]) * (z[i] - mu[i])
				}
				signal = f(z) - f(mu) - taylor
				for i := range want {
					want[i] = mu[i]*(2*(mu[i]-p.T[i])-dot) + (signal-stats.Mean)*(z[i]-mu[i])
				}
			case NVIL:
				signal = f(z) - base
				for i := range want {
					want[i] = (signal - stats.Mean) * (z[i] - mu[i])
				}
				base += 0.1 * (signal - stats.Mean)
			}
			if name == MuProp || name == NVIL {
				stats = stats.update([]float64{signal})
			}
			if !floatsNear(got, want, tol) {
				t.Fatalf("%s draw %d: gradient %v, want %v", name, d, got, want)
			}
		}
	}
}
