package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gsvae/model"
)

// TestBiasedMonteCarlo draws estimates of st, annealed-st (tau 0.5, 1 and
// 2) and darn through the real path (batch of 32 images, moving averages
// as in training, normalisation off) for the categorical and Bernoulli
// VAE, and tests the mean of 300 draws against the exact expectation of
// the estimator's own formula: the oracle's estimate (row.go's logitGrad
// fed with f and df/dz of the plain-Go decoder) averaged over every code
// of every row with weights q(z) (refExpectation; the formulas are
// functions of the code, and the baseline term of darn vanishes in
// expectation for any c that does not depend on the sample).
//
// Statistic: max_i |mean_i - E_i| / se_i over the P = 304 (265)
// parameters, threshold Bonferroni's Q(alpha / 2P) = 4.65 (4.62) for a
// false-alarm rate alpha = 1e-3 per subtest (10 subtests: at most 1% for
// the test). Power, stated and checked: a scaling of the whole estimate
// by 1 - eps is detected with probability 95% once
// eps > eps95 = min_i (threshold + 1.645) se_i / |E_i| (0.003% to 2%
// here); eps95 must be at most 5%, and, as a negative control, the statistic of the draws scaled
// by 0.95 must exceed the threshold. The same statistic against NewExact's
// gradient must exceed the threshold too: the estimators are biased, and
// the test can tell.
func TestBiasedMonteCarlo(t *testing.T) {
	if testing.Short() {
		t.Skip("one of the two slowest tests of the package: skipped with -short (make mutants), run by make test")
	}
	const alpha, maxEps, draws, batch = 1e-3, 0.05, 300, 32
	for _, m := range []struct {
		name string
		cfg  model.Config
	}{{"vae-cat", vaeCat}, {"vae-bern", vaeBern}} {
		for _, r := range []struct {
			name string
			tau  float64
		}{{ST, 1}, {AnnealedST, 0.5}, {AnnealedST, 1}, {AnnealedST, 2}, {DARN, 1}} {
			t.Run(fmt.Sprintf("%s/%s/tau=%g", m.name, r.name, r.tau), func(t *testing.T) {
				p, x := newTiny(t, m.cfg, 8, batch)
				ref := newRef(m.cfg, p)
				_, exact := exactGrad(t, m.cfg, p, x, batch, batch)
				P := len(exact)
				want, _ := refExpectation(t, ref, r.name, x, make([]float64, m.cfg.Layers()), r.tau, nil)
				want = want[:P]
				e := newEst(t, r.name, m.cfg, p, Options{Batch: batch}, x)
				rng := rand.New(rand.NewPCG(9, 10))
				mo := newMoments(P, make([]float64, P))
				for range draws {
					if err := e.Estimate(r.tau, rng); err != nil {
						t.Fatal(err)
					}
					mo.add(flatGrads(e)[:P])
				}
				thr := normalQuantile(alpha / (2 * float64(P)))
				z, _ := mo.zs(want)
				zExact, _ := mo.zs(exact)
				eps95, planted := math.Inf(1), 0.0
				for i := range want {
					mean, se := meanSE(mo.sum[i], mo.sq[i], mo.n)
					if se > 0 {
						eps95 = math.Min(eps95, (thr+1.645)*se/math.Abs(want[i]))
						planted = math.Max(planted, math.Abs(0.95*mean-want[i])/(0.95*se))
					}
				}
				t.Logf("P=%d, %d draws of %d rows: max |z| %.2f against the formula's expectation, %.1f against the exact gradient (threshold %.2f); eps95 %.2g%%; draws scaled by 0.95: %.1f",
					P, draws, batch, z, zExact, thr, 100*eps95, planted)
				if z > thr {
					t.Errorf("max |mean - E[formula]| / SE = %.2f > %.2f", z, thr)
				}
				if zExact <= thr {
					t.Errorf("max |mean - exact| / SE = %.2f <= %.2f: the test cannot tell the biased estimator from the exact gradient", zExact, thr)
				}
				if eps95 > maxEps {
					t.Errorf("the test detects a scaling of the estimate by %.2f%% (95%% power), not %g%%", 100*eps95, 100*maxEps)
				}
				if planted <= thr {
					t.Errorf("negative control: the draws scaled by 0.95 give max |z| = %.2f <= %.2f", planted, thr)
				}
			})
		}
	}
}

// TestGumbelSoftmaxBiasShrinksWithTemperature measures the bias of gs,
// |mean - exact| (the Euclidean norm over all P parameters), at tau = 2 and
// tau = 0.1 from 300 draws of a batch of 32 each, and requires the
// low-temperature bias to be below the high-temperature one by more than
// 3 times the noise of the difference (the root sum of squared standard
// errors of both means).
func TestGumbelSoftmaxBiasShrinksWithTemperature(t *testing.T) {
	const draws, batch = 300, 32
	for _, m := range []struct {
		name string
		cfg  model.Config
	}{{"vae-cat", vaeCat}, {"vae-bern", vaeBern}} {
		t.Run(m.name, func(t *testing.T) {
			p, x := newTiny(t, m.cfg, 4, batch)
			_, exact := exactGrad(t, m.cfg, p, x, batch, batch)
			bias := func(tau float64) (b, noise float64) {
				e := newEst(t, GS, m.cfg, p, Options{Batch: batch}, x)
				rng := rand.New(rand.NewPCG(6, 5))
				mo := newMoments(len(exact), make([]float64, len(exact)))
				for range draws {
					if err := e.Estimate(tau, rng); err != nil {
						t.Fatal(err)
					}
					mo.add(flatGrads(e))
				}
				for i, ex := range exact {
					mean, se := meanSE(mo.sum[i], mo.sq[i], mo.n)
					b += (mean - ex) * (mean - ex)
					noise += se * se
				}
				return math.Sqrt(b), math.Sqrt(noise)
			}
			hi, nHi := bias(2)
			lo, nLo := bias(0.1)
			t.Logf("bias %.4f (± %.4f) at tau 2, %.4f (± %.4f) at tau 0.1", hi, nHi, lo, nLo)
			if hi-lo <= 3*math.Hypot(nHi, nLo) {
				t.Errorf("bias at tau 0.1 (%.4f ± %.4f) is not clearly below the bias at tau 2 (%.4f ± %.4f)", lo, nLo, hi, nHi)
			}
		})
	}
}
