package model

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// tiny is a model small enough to check by hand: 6 pixels, hidden 5-4,
// two variables of three classes.
var tiny = Config{N: 2, K: 3, Hidden: []int{5, 4}, Input: 6}

// tinyBernoulli is tiny with three binary variables.
var tinyBernoulli = Config{N: 3, K: 2, Hidden: []int{5, 4}, Input: 6, Kind: LatentBernoulli}

// newTinyGraph builds a float64 graph of tiny with random weights, pixels and
// noise, all drawn from seed.
func newTinyGraph(t *testing.T, seed uint64, opt Options) (*Graph, *Params) {
	t.Helper()
	return newTinyGraphOf(t, tiny, seed, opt)
}

// newTinyGraphOf is newTinyGraph for another configuration; a learned
// prior gets random logits, so that its gradient is not at a symmetric
// point.
func newTinyGraphOf(t *testing.T, cfg Config, seed uint64, opt Options) (*Graph, *Params) {
	t.Helper()
	p, rng := newTinyParams(t, cfg, seed)
	gr, err := NewGraph(cfg, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	x := gr.X.Data().([]float64)
	for i := range x {
		x[i] = boolTo(rng.Float64() < 0.5)
	}
	SampleGumbel(gr.Noise.Data().([]float64), rng)
	return gr, p
}

// referenceLoss recomputes the negative ELBO of every row in plain Go from
// the weights, pixels and noise of gr, following the equations of the
// package documentation: an independent check of the graph's wiring.
func referenceLoss(gr *Graph, p *Params, tau float64, hard bool) (rec, kl []float64) {
	cfg := gr.cfg
	w := func(i int) []float64 { return p.Tensors[i].Data().([]float64) }
	affine := func(h []float64, wi int, relu bool) []float64 {
		out, in := p.Tensors[wi].Shape()[0], p.Tensors[wi].Shape()[1]
		res := make([]float64, out)
		for j := 0; j < out; j++ {
			s := w(wi + 1)[j]
			for i := 0; i < in; i++ {
				s += h[i] * w(wi)[j*in+i]
			}
			if relu {
				s = math.Max(s, 0)
			}
			res[j] = s
		}
		return res
	}
	nEnc := len(cfg.Hidden) + 1
	xs := gr.X.Data().([]float64)
	gs := gr.Noise.Data().([]float64)
	for b := 0; b < gr.opt.Batch; b++ {
		h := xs[b*cfg.Input : (b+1)*cfg.Input]
		for l := 0; l < nEnc; l++ {
			h = affine(h, 2*l, l+1 < nEnc)
		}
		logits := h
		y := make([]float64, cfg.Latent())
		var klb float64
		for n := 0; n < cfg.N; n++ {
			var zsum, qsum float64
			best := 0
			for k := 0; k < cfg.K; k++ {
				i := n*cfg.K + k
				y[i] = math.Exp((logits[i] + gs[b*cfg.Latent()+i]) / tau)
				zsum += y[i]
				qsum += math.Exp(logits[i])
				if y[i] > y[n*cfg.K+best] {
					best = k
				}
			}
			for k := 0; k < cfg.K; k++ {
				i := n*cfg.K + k
				y[i] /= zsum
				if hard {
					y[i] = boolTo(k == best)
				}
				q := math.Exp(logits[i]) / qsum
				klb += q * math.Log(q*float64(cfg.K))
			}
		}
		h = y
		for l := 0; l < nEnc; l++ {
			h = affine(h, 2*(nEnc+l), l+1 < nEnc)
		}
		var r float64
		for i, l := range h {
			x := xs[b*cfg.Input+i]
			p := 1 / (1 + math.Exp(-l))
			r -= x*math.Log(p) + (1-x)*math.Log(1-p)
		}
		rec = append(rec, r)
		kl = append(kl, klb)
	}
	return rec, kl
}

func TestGraphMatchesReference(t *testing.T) {
	// Tolerance: float64 rounding over a few dozen operations.
	const tol = 1e-10
	for _, tc := range []struct {
		name string
		tau  float64
		hard bool
		rows int
	}{
		{"soft tau=1", 1, false, 4},
		{"soft tau=0.3", 0.3, false, 4},
		{"hard tau=0.5", 0.5, true, 4},
		{"soft, 3 of 4 rows", 0.7, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gr, p := newTinyGraph(t, 1, Options{Batch: 4, Hard: tc.hard})
			if err := gr.SetTau(tc.tau); err != nil {
				t.Fatal(err)
			}
			if err := gr.SetRows(tc.rows); err != nil {
				t.Fatal(err)
			}
			if err := gr.Run(); err != nil {
				t.Fatal(err)
			}
			rec, kl := referenceLoss(gr, p, tc.tau, tc.hard)
			var want float64
			for b := 0; b < tc.rows; b++ {
				want += (rec[b] + kl[b]) / float64(tc.rows)
				if got := gr.Rec()[b]; math.Abs(got-rec[b]) > tol {
					t.Errorf("row %d: rec = %.15g, reference %.15g", b, got, rec[b])
				}
				if got := gr.KL()[b]; math.Abs(got-kl[b]) > tol {
					t.Errorf("row %d: KL = %.15g, reference %.15g", b, got, kl[b])
				}
			}
			if got := gr.Loss(); math.Abs(got-want) > tol {
				t.Errorf("loss = %.15g, reference %.15g", got, want)
			}
		})
	}
}

// TestGraphGradientFiniteDifferences checks the gradient of the whole loss
// for every parameter of the tiny models against central differences (see
// checkFiniteDifferences).
func TestGraphGradientFiniteDifferences(t *testing.T) {
	learned := tiny
	learned.Prior = PriorLearned
	learnedBernoulli := tinyBernoulli
	learnedBernoulli.Prior = PriorLearned
	for _, tc := range []struct {
		name    string
		cfg     Config
		tau     float64
		hard    bool
		relaxed bool
	}{
		{"soft tau=1", tiny, 1, false, false},
		{"soft tau=0.5", tiny, 0.5, false, false},
		{"relaxed KL tau=0.5", tiny, 0.5, false, true},
		{"learned prior tau=0.7", learned, 0.7, false, false},
		{"bernoulli tau=0.5", tinyBernoulli, 0.5, false, false},
		{"bernoulli relaxed KL tau=0.5", tinyBernoulli, 0.5, false, true},
		{"bernoulli learned prior tau=0.7", learnedBernoulli, 0.7, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gr, p := newTinyGraphOf(t, tc.cfg, 2, Options{Batch: 3, Hard: tc.hard, Grad: true, RelaxedKL: tc.relaxed, PriorTau: 2.0 / 3})
			if err := gr.SetTau(tc.tau); err != nil {
				t.Fatal(err)
			}
			if err := gr.Run(); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				if err := gr.Run(); err != nil {
					t.Fatal(err)
				}
				return gr.Loss()
			}
			checkFiniteDifferences(t, p.Names, denseSlices(p.Tensors), gradSlices(gr.Grads()), loss)
		})
	}
}

// checkFiniteDifferences compares grads[i][j], the claimed derivative of f
// with respect to vals[i][j], with the central difference (f(v+h) -
// f(v-h)) / 2h, h = 1e-6, in float64: the truncation error is O(h^2) ~
// 1e-12 and rounding ~ 1e-16/h ~ 1e-10, so a tolerance of 1e-6 relative to
// max(1, |fd|) leaves a wide margin while catching any wrong term.
func checkFiniteDifferences(t *testing.T, names []string, vals, grads [][]float64, f func() float64) {
	t.Helper()
	const h, tol = 1e-6, 1e-6
	if len(grads) != len(vals) {
		t.Fatalf("%d gradients for %d values", len(grads), len(vals))
	}
	for vi, w := range vals {
		for i := range w {
			orig := w[i]
			w[i] = orig + h
			up := f()
			w[i] = orig - h
			down := f()
			w[i] = orig
			fd := (up - down) / (2 * h)
			if got := grads[vi][i]; math.Abs(got-fd) > tol*math.Max(1, math.Abs(fd)) {
				t.Errorf("%s[%d]: gradient %.10g, finite difference %.10g", names[vi], i, got, fd)
			}
		}
	}
}

// denseSlices returns the float64 backing slices of ts.
func denseSlices(ts []*tensor.Dense) [][]float64 {
	var out [][]float64
	for _, d := range ts {
		out = append(out, d.Float64s())
	}
	return out
}

// gradSlices copies the float64 values of gradient tensors, which the next
// run overwrites.
func gradSlices(ts []*tensor.Dense) [][]float64 {
	var out [][]float64
	for _, d := range ts {
		out = append(out, append([]float64(nil), d.Float64s()...))
	}
	return out
}
