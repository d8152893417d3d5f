package estimator

import (
	"math"
	"math/rand/v2"
	"testing"

	"gsvae/gumbel"
	"gsvae/model"
)

// scriptSource is a rand.Source that returns its values in order: it lets
// a test choose the Gumbel noise that Estimate draws.
type scriptSource struct {
	v []uint64
	i int
}

func (s *scriptSource) Uint64() uint64 {
	v := s.v[s.i]
	s.i++
	return v
}

// forcing returns an rng whose Gumbel noise (gumbel.Sample, one layer of
// one row after the other) makes the Gumbel-max sample of every layer the
// given code whatever the logits, as long as the logits of a variable
// span less than 40: the code's classes get the largest noise gumbel.Sample
// can draw (36.7), the others the smallest (-3.6).
func forcing(codes ...[]float64) *rand.Rand {
	s := &scriptSource{}
	for _, z := range codes {
		for _, v := range z {
			r := uint64(0)
			if v == 1 {
				r = math.MaxUint64
			}
			s.v = append(s.v, r)
		}
	}
	return rand.New(s)
}

// joint is one joint code of every stochastic layer and its probability.
type joint struct {
	codes [][]float64
	q     float64
}

// joints enumerates the joint codes of the stochastic layers for image x
// with their probabilities under the oracle's network: q(z | x) for the
// VAE, p(h1 | x_upper) p(h2 | h1) for the SBN. It fails the test unless the
// probabilities sum to 1 and the forced noise gives each code.
func joints(t testing.TB, ref *refNet, x []float64) []joint {
	t.Helper()
	cfg := ref.cfg
	codes := enumCodes(cfg)
	l1, _ := ref.logits(0, x[:cfg.In()])
	var out []joint
	var sum float64
	for _, z1 := range codes {
		q1 := codeProb(l1, z1, cfg.K)
		if !cfg.SBN() {
			out = append(out, joint{[][]float64{z1}, q1})
			sum += q1
			checkForced(t, l1, z1, cfg.K)
			continue
		}
		l2, _ := ref.logits(1, z1)
		for _, z2 := range codes {
			q2 := codeProb(l2, z2, cfg.K)
			out = append(out, joint{[][]float64{z1, z2}, q1 * q2})
			sum += q1 * q2
			checkForced(t, l2, z2, cfg.K)
		}
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Fatalf("the codes' probabilities sum to %.15g", sum)
	}
	return out
}

// checkForced fails the test unless the forced noise of code z gives z as
// the Gumbel-max sample of logits l.
func checkForced(t testing.TB, l, z []float64, k int) {
	t.Helper()
	g := make([]float64, len(z))
	gumbel.Sample(g, forcing(z))
	for j, v := range argmaxCode(l, g, k) {
		if v != z[j] {
			t.Fatalf("logits %v: the forced noise does not give code %v", l, z)
		}
	}
}

// graphExpectation returns the exact expectation over the codes of the
// real path's estimate: for each image of x in turn, an estimator of
// batch 1 draws its estimate at every joint code (forced noise), each
// time from the same moving averages stats, and the estimates are
// averaged with weights q(z) and 1/rows. Only estimators whose estimate
// is a function of the codes (not gs, st-gs) may be enumerated so.
func graphExpectation(t testing.TB, name string, cfg model.Config, p *model.Params, x []float64, stats []Stats, tau float64) []float64 {
	t.Helper()
	ref := newRef(cfg, p)
	rows := len(x) / cfg.Input
	var mean []float64
	for b := range rows {
		img := x[b*cfg.Input : (b+1)*cfg.Input]
		e := newEst(t, name, cfg, p, Options{Batch: 1}, img)
		for _, j := range joints(t, ref, img) {
			if err := e.SetStats(stats); err != nil {
				t.Fatal(err)
			}
			if err := e.Estimate(tau, forcing(j.codes...)); err != nil {
				t.Fatal(err)
			}
			g := flatGrads(e)
			if mean == nil {
				mean = make([]float64, len(g))
			}
			for i, v := range g {
				mean[i] += j.q * v / float64(rows)
			}
		}
	}
	return mean
}

// refExpectation is graphExpectation for the oracle, with c the baseline
// of each layer and plant as in refInput. It returns the expectation of
// the gradient (every tensor) and of its score part.
func refExpectation(t testing.TB, ref *refNet, name string, x []float64, c []float64, tau float64, plant func(i, b int, s float64) float64) (grad, score []float64) {
	t.Helper()
	cfg := ref.cfg
	rows := len(x) / cfg.Input
	grad, score = make([]float64, ref.size), make([]float64, ref.size)
	for b := range rows {
		img := x[b*cfg.Input : (b+1)*cfg.Input]
		for _, j := range joints(t, ref, img) {
			in := refInput{name: name, x: img, w: []float64{1}, tau: tau, c: c, scale: []float64{1, 1}[:cfg.Layers()]}
			for _, z := range j.codes {
				g := make([]float64, len(z))
				gumbel.Sample(g, forcing(z))
				in.noise = append(in.noise, g)
			}
			if plant != nil {
				in.plant = func(i, _ int, s float64) float64 { return plant(i, b, s) }
			}
			out := ref.estimate(in)
			addTo(grad, scaled(out.grad, j.q/float64(rows)))
			addTo(score, scaled(out.score, j.q/float64(rows)))
		}
	}
	return grad, score
}

// fixedStats are the moving averages of the enumeration tests: baselines
// far from 0 (and different per layer), so that a baseline term that does
// not vanish in expectation shows.
func fixedStats(cfg model.Config) ([]Stats, []float64) {
	s := []Stats{{Mean: 2.5, Var: 1}, {Mean: -1.5, Var: 1}}[:cfg.Layers()]
	return s, []float64{2.5, -1.5}[:cfg.Layers()]
}

// TestExpectationByEnumeration computes, for every tiny model, the exact
// expectation of the real path's estimate of sf, nvil, muprop, st,
// annealed-st (tau 0.5, 1, 2) and darn by enumerating the codes (see
// graphExpectation; 3 images, baselines c = 2.5 and -1.5, nvil's b(x) the
// untrained baseline network), and checks:
//
//   - sf, nvil and muprop: it equals NewExact's gradient of the batch of
//     the 3 images (unbiased), to 1e-9 of the largest |gradient|;
//   - every estimator: it equals the expectation of the oracle's formula
//     (refExpectation; for the VAE row.go's logitGrad fed by the plain-Go
//     decoder), to 1e-10;
//   - st, annealed-st and darn are biased on these models (by more than
//     0.5% of the largest |gradient|, 1 if that is smaller: darn's
//     per-variable signals on the Bernoulli SBN, 0.8%, are the closest),
//     so the tiny models can tell a biased estimator from an unbiased one.
//
// Negative controls (computed here, on the oracle): the same comparison
// with NewExact of sf, nvil and muprop with a planted bias fails by many
// times the tolerance: the learning signal's score term scaled by 0.95
// (5% bias), and the baseline c updated with the current sample before
// it is used (c' = 0.8 c + 0.2 s, for one row a 20% shrinkage of s - c).
// So the detectable bias is set by float64 rounding: the test logs the
// smallest detectable relative bias of the score term, tolerance / |the
// score term's expectation| (largest entry).
func TestExpectationByEnumeration(t *testing.T) {
	const tolExact, tolRef, minBias = 1e-9, 1e-10, 0.005
	type run struct {
		name string
		tau  float64
	}
	runs := []run{{SF, 1}, {NVIL, 1}, {MuProp, 1}, {ST, 1}, {AnnealedST, 0.5}, {AnnealedST, 1}, {AnnealedST, 2}, {DARN, 1}}
	for _, m := range allModels() {
		t.Run(m.name, func(t *testing.T) {
			p, x := newTiny(t, m.cfg, 6, 3)
			ref := newRef(m.cfg, p)
			_, exact := exactGrad(t, m.cfg, p, x, 3, 3)
			stats, c := fixedStats(m.cfg)
			for _, r := range runs {
				got := graphExpectation(t, r.name, m.cfg, p, x, stats, r.tau)
				got = got[:len(exact)] // not nvil's baseline network
				want, score := refExpectation(t, ref, r.name, x, c, r.tau, nil)
				if msg := closeVec(p, got, want[:len(got)], tolRef); msg != "" {
					t.Errorf("%s tau=%g: E[estimate] by enumeration, real path vs oracle: %s", r.name, r.tau, msg)
				}
				bias := 0.0
				for i := range exact {
					bias = math.Max(bias, math.Abs(got[i]-exact[i]))
				}
				scale := math.Max(1, maxAbs(exact))
				switch r.name {
				case SF, NVIL, MuProp:
					if msg := closeVec(p, got, exact, tolExact); msg != "" {
						t.Errorf("%s: E[estimate] vs NewExact: %s", r.name, msg)
					}
					for _, pl := range []struct {
						what  string
						plant func(i, b int, s float64) float64
					}{
						{"score term x 0.95", func(i, _ int, s float64) float64 { return c[i] + 0.95*(s-c[i]) }},
						{"c updated with the current sample first", func(i, _ int, s float64) float64 { return s - 0.2*(s-c[i]) }},
					} {
						planted, _ := refExpectation(t, ref, r.name, x, c, r.tau, pl.plant)
						var dev float64
						for i := range exact {
							dev = math.Max(dev, math.Abs(planted[i]-exact[i]))
						}
						if dev <= 100*tolExact*scale {
							t.Errorf("%s with %s: max |E - exact| = %.3g, not clearly above the tolerance %.3g", r.name, pl.what, dev, tolExact*scale)
						}
					}
					t.Logf("%s: max |E - exact| %.2g (tolerance %.2g); smallest detectable scaling of the score term %.1g", r.name, bias, tolExact*scale, tolExact*scale/maxAbs(score[:len(exact)]))
				default:
					if bias <= minBias*scale {
						t.Errorf("%s tau=%g: max |E - exact| = %.3g: the model does not show its bias", r.name, r.tau, bias)
					}
					t.Logf("%s tau=%g: bias max |E - exact| %.3g (max |exact| %.3g)", r.name, r.tau, bias, maxAbs(exact))
				}
			}
		})
	}
}
