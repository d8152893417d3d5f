package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gsvae/model"
)

// recorder is a rand.Source that passes on another's values and keeps
// them.
type recorder struct {
	src rand.Source
	v   []uint64
}

func (r *recorder) Uint64() uint64 {
	v := r.src.Uint64()
	r.v = append(r.v, v)
	return v
}

// TestPaddingRows checks, for every estimator and tiny model, that a batch
// of 5 with 2 padding rows (SetRows(3); the padding rows hold other
// images) gives the gradient, loss, f, KL and moving averages of a batch
// of the 3 real rows (and that the loss is the mean of f + KL over them), draw by draw with the same noise for the real rows
// (the noise the batch of 5 drew, recorded, without its padding rows'
// part), over 4 draws at tau 0.5 and 2 with variance normalisation (the
// moving averages, which must move with the real rows only, set the
// baselines and the normalisers of the later draws). Tolerance 1e-12 of
// the largest |gradient|: the two batches sum the same terms, in another
// order at most.
func TestPaddingRows(t *testing.T) {
	const tol, draws = 1e-12, 4
	for _, m := range allModels() {
		for _, name := range Names {
			t.Run(fmt.Sprintf("%s/%s", m.name, name), func(t *testing.T) {
				p, x := newTiny(t, m.cfg, 9, 5)
				opt := Options{Batch: 5, Normalize: true}
				padded := newEst(t, name, m.cfg, p, opt, x)
				if err := padded.SetRows(3); err != nil {
					t.Fatal(err)
				}
				opt.Batch = 3
				real := newEst(t, name, m.cfg, p, opt, x[:3*m.cfg.Input])
				rec := &recorder{src: rand.NewPCG(3, 4)}
				lat := m.cfg.Latent()
				for d := range draws {
					tau := []float64{0.5, 2}[d%2]
					rec.v = nil
					if err := padded.Estimate(tau, rand.New(rec)); err != nil {
						t.Fatal(err)
					}
					script := &scriptSource{}
					for l := range m.cfg.Layers() {
						script.v = append(script.v, rec.v[l*5*lat:l*5*lat+3*lat]...)
					}
					if err := real.Estimate(tau, rand.New(script)); err != nil {
						t.Fatal(err)
					}
					if msg := closeVec(p, flatGrads(padded), flatGrads(real), tol); msg != "" {
						t.Fatalf("draw %d: 3 rows of 5 vs a batch of 3: %s", d, msg)
					}
					// The comparisons are written to fail on NaN.
					if a, b := padded.Loss(), real.Loss(); !(math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))) {
						t.Fatalf("draw %d: loss %.15g with padding, %.15g without", d, a, b)
					}
					mean := 0.0
					for i, v := range real.Rec() {
						mean += (v + real.KL()[i]) / 3
					}
					if b := real.Loss(); !(math.Abs(mean-b) <= tol*math.Max(1, math.Abs(b))) {
						t.Fatalf("draw %d: loss %.15g, want the mean of f + KL over the rows, %.15g", d, b, mean)
					}
					for i, v := range real.Rec() {
						if !(math.Abs(padded.Rec()[i]-v) <= tol*math.Max(1, v)) || !(math.Abs(padded.KL()[i]-real.KL()[i]) <= tol*math.Max(1, v)) {
							t.Fatalf("draw %d row %d: f, KL %.15g, %.15g with padding, %.15g, %.15g without", d, i, padded.Rec()[i], padded.KL()[i], v, real.KL()[i])
						}
					}
					for i, st := range real.Stats() {
						got := padded.Stats()[i]
						if math.Abs(got.Mean-st.Mean) > tol*math.Max(1, math.Abs(st.Mean)) || math.Abs(got.Var-st.Var) > tol*math.Max(1, st.Var) {
							t.Fatalf("draw %d layer %d: moving averages %+v with padding, %+v without", d, i, got, st)
						}
					}
				}
			})
		}
	}
}

// TestSetRowsWeights checks the row weights SetRows leaves in both element
// types, the float32 of training and the float64 of the gradient checks:
// 1/n on the n real rows and 0 on the padding rows, whatever the previous
// call left (n = 3, 5, 2 in turn, in a batch of 5).
func TestSetRowsWeights(t *testing.T) {
	p64, _ := newTiny(t, vaeCat, 1, 1)
	for _, p := range []*model.Params{p64, to32(p64)} {
		e, err := New(SF, vaeCat, p, Options{Batch: 5})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{3, 5, 2} {
			if err := e.SetRows(n); err != nil {
				t.Fatal(err)
			}
			var w []float64
			switch v := e.w.Data().(type) {
			case []float32:
				for _, x := range v {
					w = append(w, float64(x))
				}
			case []float64:
				w = v
			}
			for i, got := range w {
				want := 0.0
				if i < n {
					want = 1 / float64(n)
				}
				if math.Abs(got-want) > 1e-7 {
					t.Errorf("%v, SetRows(%d): row weights %v, want 1/%d on the first %d rows and 0 after", e.w.Dtype(), n, w, n, n)
					break
				}
			}
		}
	}
}

// layerOf returns the stochastic layer whose logits parameter tensor name
// computes (0: the VAE's encoder, the SBN's h1; 1: the SBN's h2), or -1
// for the decoder, a prior and the baseline network.
func layerOf(name string) int {
	switch {
	case strings.HasPrefix(name, "enc"), strings.HasPrefix(name, "h1."):
		return 0
	case strings.HasPrefix(name, "h2."):
		return 1
	}
	return -1
}

// TestNormalizeScalesEachLayer checks what Options.Normalize does, for sf,
// nvil, muprop and darn on the VAE with a learned prior (both kinds) and
// the SBN (both kinds): with the moving variances set by SetStats and the
// same noise, every gradient entry of a layer's logits network (the
// encoder; the SBN's h1 and h2) is the unnormalised one divided by
// max(1, sqrt(Var)) of that layer, the KL's part included, while the
// decoder's, the learned prior's and NVIL's baseline network's are
// unchanged; the estimators without moving averages (gs, st-gs, st,
// annealed-st) ignore Normalize. Variances: 9 and 16 (divisors 3 and 4),
// and 0.25 and 1 (no division). Tolerance: float64 rounding.
func TestNormalizeScalesEachLayer(t *testing.T) {
	const tol = 1e-12
	for _, m := range []struct {
		name string
		cfg  model.Config
	}{{"vae-cat-learned", learned(vaeCat)}, {"vae-bern-learned", learned(vaeBern)}, {"sbn-cat", sbnCat}, {"sbn-bern", sbnBern}} {
		for _, name := range Names {
			for _, vars := range [][]float64{{9, 16}, {0.25, 1}} {
				t.Run(fmt.Sprintf("%s/%s/var=%v", m.name, name, vars), func(t *testing.T) {
					p, x := newTiny(t, m.cfg, 10, 4)
					var stats []Stats
					for i := range m.cfg.Layers() {
						stats = append(stats, Stats{Mean: 1.5, Var: vars[i]})
					}
					grads := make([][]float64, 2)
					for i, normalize := range []bool{false, true} {
						e := newEst(t, name, m.cfg, p, Options{Batch: 4, Normalize: normalize}, x)
						if err := e.SetStats(stats); err != nil {
							t.Fatal(err)
						}
						if err := e.Estimate(0.7, rand.New(rand.NewPCG(1, 1))); err != nil {
							t.Fatal(err)
						}
						grads[i] = flatGrads(e)
					}
					var scaled int
					for i, plain := range grads[0] {
						want := plain
						if l := layerOf(paramName(p, i)); l >= 0 && Scored(name) {
							want /= math.Max(1, math.Sqrt(vars[l]))
						}
						if want != plain {
							scaled++
						}
						if math.Abs(grads[1][i]-want) > tol*math.Max(1, math.Abs(want)) {
							t.Fatalf("%s: normalised %.15g, want %.15g (unnormalised %.15g)", paramName(p, i), grads[1][i], want, plain)
						}
					}
					if Scored(name) && vars[0] > 1 && scaled == 0 {
						t.Fatal("no gradient entry was scaled: the test shows nothing")
					}
				})
			}
		}
	}
}

// TestStatsUpdate checks the moving averages' rule on numbers worked out
// by hand: from Mean 1, Var 1, the signals 1, 2, 3 (mean 2; squared
// deviations from the old mean 0, 1, 4) give Mean 0.8 + 0.2*2 = 1.2 and
// Var 0.8 + 0.2*5/3 = 17/15; no signal leaves them alone; NewStats is
// Mean 0, Var 1.
func TestStatsUpdate(t *testing.T) {
	got := Stats{Mean: 1, Var: 1}.update([]float64{1, 2, 3})
	if math.Abs(got.Mean-1.2) > 1e-15 || math.Abs(got.Var-17.0/15) > 1e-15 {
		t.Errorf("update: %+v, want {Mean:1.2 Var:%.17g}", got, 17.0/15)
	}
	if got := (Stats{Mean: 3, Var: 2}).update(nil); got != (Stats{Mean: 3, Var: 2}) {
		t.Errorf("update with no signal: %+v", got)
	}
	if NewStats() != (Stats{Var: 1}) {
		t.Errorf("NewStats: %+v", NewStats())
	}
}

// TestSetStats checks that SetStats and Stats round-trip, that Stats
// returns a copy, that estimators without moving averages report the
// starting ones, and that SetStats refuses a wrong number of layers and
// non-finite or negative values (naming them), leaving the averages
// unchanged.
func TestSetStats(t *testing.T) {
	p, x := newTiny(t, sbnCat, 1, 2)
	e := newEst(t, DARN, sbnCat, p, Options{Batch: 2}, x)
	want := []Stats{{Mean: -2.5, Var: 0}, {Mean: 7, Var: 3.25}}
	if err := e.SetStats(want); err != nil {
		t.Fatal(err)
	}
	got := e.Stats()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Stats after SetStats(%v): %v", want, got)
	}
	got[0].Mean = 99
	if e.Stats()[0] != want[0] {
		t.Error("Stats does not return a copy")
	}
	for _, tc := range []struct {
		s    []Stats
		want string
	}{
		{want[:1], "1 layers of moving averages for 2 stochastic layers"},
		{[]Stats{{Mean: math.NaN(), Var: 1}, {}}, "want finite values"},
		{[]Stats{{Mean: 0, Var: 1}, {Mean: math.Inf(-1), Var: 1}}, "want finite values"},
		{[]Stats{{Mean: 0, Var: math.Inf(1)}, {}}, "want finite values"},
		{[]Stats{{Mean: 0, Var: math.NaN()}, {}}, "want finite values"},
		{[]Stats{{Mean: 0, Var: -1}, {}}, "variance -1"},
	} {
		err := e.SetStats(tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetStats(%v): error %v, want one containing %q", tc.s, err, tc.want)
		}
		if s := e.Stats(); s[0] != want[0] || s[1] != want[1] {
			t.Fatalf("a refused SetStats(%v) changed the averages to %v", tc.s, s)
		}
	}
	plain := newEst(t, ST, sbnCat, p, Options{Batch: 2}, x)
	if err := plain.Estimate(1, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	if s := plain.Stats(); len(s) != 2 || s[0] != NewStats() || s[1] != NewStats() {
		t.Errorf("st's Stats after an estimate: %v, want the starting ones", s)
	}
}

// TestTemperature checks, for every tiny model, that the estimators that
// do not read the temperature (sf, nvil, muprop, st, darn) give the same
// bits at tau = 0.3 and 3 with the same noise and moving averages, over 3
// draws, and that the tempered ones (gs, st-gs, annealed-st) do not; and
// that Estimate refuses a temperature that is not positive.
func TestTemperature(t *testing.T) {
	for _, m := range allModels() {
		for _, name := range Names {
			t.Run(fmt.Sprintf("%s/%s", m.name, name), func(t *testing.T) {
				p, x := newTiny(t, m.cfg, 12, 3)
				cold := newEst(t, name, m.cfg, p, Options{Batch: 3, Normalize: true}, x)
				hot := newEst(t, name, m.cfg, p, Options{Batch: 3, Normalize: true}, x)
				r1, r2 := rand.New(rand.NewPCG(2, 9)), rand.New(rand.NewPCG(2, 9))
				differ := false
				for range 3 {
					if err := cold.Estimate(0.3, r1); err != nil {
						t.Fatal(err)
					}
					if err := hot.Estimate(3, r2); err != nil {
						t.Fatal(err)
					}
					a, b := flatGrads(cold), flatGrads(hot)
					for i := range a {
						if a[i] != b[i] {
							differ = true
							if !Tempered(name) {
								t.Fatalf("%s: %.17g at tau 0.3, %.17g at tau 3", paramName(p, i), a[i], b[i])
							}
						}
					}
				}
				if Tempered(name) && !differ {
					t.Error("the same gradient at tau 0.3 and 3")
				}
				for _, tau := range []float64{0, -1, math.NaN()} {
					if err := cold.Estimate(tau, r1); err == nil || !strings.Contains(err.Error(), "not positive") {
						t.Errorf("Estimate(tau %v): error %v", tau, err)
					}
				}
			})
		}
	}
}

// TestDARNSignalPerVariable pins DARN's formula (row.go's logitGrad, the
// oracle of the real path) on a row of two Bernoulli variables worked out
// by hand: each variable n gets the score (s_n - c/N) (z_n - mu_n) with its
// own signal s_n = f'(z_n).(z_n - 1/2), and the signal returned (for the
// moving averages) is the row's total s_0 + s_1. With z = (1,0 | 0,1),
// mu = (0.7,0.3 | 0.4,0.6) and f'(z) = (1,2 | 3,5): s_0 = 0.5 - 1 = -0.5,
// s_1 = -1.5 + 2.5 = 1. One signal for the whole row (the form this
// replaced) gives (s_0 + s_1 - c)(z - mu) for both variables instead.
func TestDARNSignalPerVariable(t *testing.T) {
	r := row{k: 2, z: []float64{1, 0, 0, 1}, mu: []float64{0.7, 0.3, 0.4, 0.6}, d: []float64{1, 2, 3, 5}}
	for _, tc := range []struct {
		c    float64
		want []float64
	}{
		{0, []float64{-0.5 * 0.3, -0.5 * -0.3, 1 * -0.4, 1 * 0.4}},
		{1, []float64{-1 * 0.3, -1 * -0.3, 0.5 * -0.4, 0.5 * 0.4}}, // c/N = 0.5 from each
	} {
		g := make([]float64, 4)
		signal, scored := logitGrad(DARN, r, tc.c, g)
		if !scored || math.Abs(signal-0.5) > 1e-15 {
			t.Errorf("c = %g: signal %g (scored %t), want the row's total 0.5", tc.c, signal, scored)
		}
		for i := range g {
			if math.Abs(g[i]-tc.want[i]) > 1e-15 {
				t.Errorf("c = %g: dL/dl = %v, want %v", tc.c, g, tc.want)
				break
			}
		}
	}
}
