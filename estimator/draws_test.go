package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gsvae/internal/op"
)

// TestDrawsMatchOracle draws estimates of every estimator for every tiny
// model through the real path (New, Estimate, Grads) and compares each
// with the oracle of ref_test.go fed the same Gumbel noise (drawn from a
// twin of the estimator's rng, layer by layer) and the moving averages the
// estimator had before the draw (at the first draw with normalisation,
// those it starts from the draw's own learning signals: see primed): the
// gradient of every parameter, f and the KL of every row, the loss, and
// the moving averages after the draw.
// The batch of 5 has 2 padding rows (SetRows(3)) holding other images;
// the draws run at tau = 0.5 and 2, with and without variance
// normalisation, and, for gs and st-gs on the VAE, with the relaxed KL
// (prior temperature 0.7; the oracle's KL term is gumbel.RelaxedKLGroup).
// Tolerance: 1e-10 of the largest |gradient| (float64 rounding; a wrong
// term, row weight or factor 1/B moves entries by O(1) of it).
func TestDrawsMatchOracle(t *testing.T) {
	const tol, batch, rows, draws = 1e-10, 5, 3, 4
	type run struct {
		name      string
		normalize bool
		relaxedKL bool
	}
	for _, m := range allModels() {
		var runs []run
		for _, name := range Names {
			runs = append(runs, run{name, false, false}, run{name, true, false})
			if (name == GS || name == STGS) && !m.cfg.SBN() && !m.cfg.Learned() {
				runs = append(runs, run{name, false, true})
			}
		}
		for _, r := range runs {
			t.Run(fmt.Sprintf("%s/%s/normalize=%t/relaxedKL=%t", m.name, r.name, r.normalize, r.relaxedKL), func(t *testing.T) {
				p, x := newTiny(t, m.cfg, 12, batch)
				ref := newRef(m.cfg, p)
				e := newEst(t, r.name, m.cfg, p, Options{Batch: batch, Normalize: r.normalize, RelaxedKL: r.relaxedKL, PriorTau: 0.7}, x)
				if err := e.SetRows(rows); err != nil {
					t.Fatal(err)
				}
				rng, twinRng := rand.New(rand.NewPCG(7, 8)), rand.New(rand.NewPCG(7, 8))
				for d := range draws {
					tau := []float64{0.5, 2}[d%2]
					got, want, before := twin(t, e, ref, x, rows, tau, r.normalize, rng, twinRng, nil)
					if msg := closeVec(p, got, want.grad[:len(got)], tol); msg != "" {
						t.Fatalf("draw %d (tau %g): %s", d, tau, msg)
					}
					checkDraw(t, e, before, want, rows, tol)
				}
			})
		}
	}
}

// checkDraw compares what e reports of its last estimate besides the
// gradient with the oracle's: the one-hot samples of the real rows (not
// gs's, whose code is relaxed), f and the KL of the real rows, the loss,
// and the moving averages, which must have moved from before by the
// documented rule (rate 0.8, the variance of the signal centred by the
// old mean, real rows only) with the oracle's learning signals, or not at
// all for the estimators that keep none.
func checkDraw(t *testing.T, e *Estimator, before []Stats, want refOutput, rows int, tol float64) {
	t.Helper()
	if e.Name() != GS {
		lat := e.cfg.Latent()
		for i, node := range e.pass.Codes {
			got := op.Float64s(nil, node.Value())[:rows*lat]
			if !slices.Equal(got, want.codes[i][:rows*lat]) {
				t.Fatalf("layer %d: samples %v, oracle %v", i, got, want.codes[i][:rows*lat])
			}
		}
	}
	rec, kl := e.Rec(), e.KL()
	for b := range rows {
		if math.Abs(rec[b]-want.rec[b]) > tol*math.Max(1, math.Abs(want.rec[b])) || math.Abs(kl[b]-want.kl[b]) > tol*math.Max(1, math.Abs(want.kl[b])) {
			t.Fatalf("row %d: f %.12g, KL %.12g; oracle %.12g, %.12g", b, rec[b], kl[b], want.rec[b], want.kl[b])
		}
	}
	if math.Abs(e.Loss()-want.loss) > tol*math.Max(1, math.Abs(want.loss)) {
		t.Fatalf("loss %.12g, oracle %.12g", e.Loss(), want.loss)
	}
	after := e.Stats()
	for i := range after {
		wantSt := before[i]
		if Scored(e.Name()) {
			var mean, sq float64
			for _, s := range want.signals[i][:rows] {
				mean += s / float64(rows)
				sq += (s - before[i].Mean) * (s - before[i].Mean) / float64(rows)
			}
			wantSt = Stats{Mean: 0.8*before[i].Mean + 0.2*mean, Var: 0.8*before[i].Var + 0.2*sq}
		}
		if math.Abs(after[i].Mean-wantSt.Mean) > tol*math.Max(1, math.Abs(wantSt.Mean)) || math.Abs(after[i].Var-wantSt.Var) > tol*math.Max(1, wantSt.Var) {
			t.Fatalf("layer %d: moving averages %+v after %+v, want %+v", i, after[i], before[i], wantSt)
		}
	}
}
