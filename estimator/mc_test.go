package estimator

import (
	"fmt"
	"gonum.org/v1/gonum/mat"
	"gsvae/gumbel"
	"gsvae/model"
	"math"
	"math/rand/v2"
	"testing"
)

// moments accumulates draws of a vector: the mean and standard error of
// every entry and of the projection of the draws on a fixed direction.
type moments struct {
	n         int
	sum, sq   []float64
	v         []float64 // the direction (unit vector)
	psum, psq float64
}

func newMoments(p int, v []float64) *moments {
	return &moments{sum: make([]float64, p), sq: make([]float64, p), v: v}
}

func (m *moments) add(g []float64) {
	m.n++
	var u float64
	for i, x := range g {
		m.sum[i] += x
		m.sq[i] += x * x
		u += m.v[i] * x
	}
	m.psum += u
	m.psq += u * u
}

// meanSE returns the mean and standard error of a sum and sum of squares
// of n draws.
func meanSE(sum, sq float64, n int) (float64, float64) {
	mean := sum / float64(n)
	v := (sq/float64(n) - mean*mean) * float64(n) / float64(n-1)
	return mean, math.Sqrt(math.Max(v, 0) / float64(n))
}

// zs returns the largest |mean_i - want_i| / se_i over the entries (an
// entry with se 0 counts as 0 if equal to want to 1e-12, else as +Inf),
// and the projection's (mean - v.want) / se.
func (m *moments) zs(want []float64) (maxZ, projZ float64) {
	for i := range want {
		mean, se := meanSE(m.sum[i], m.sq[i], m.n)
		d := math.Abs(mean - want[i])
		switch {
		case se > 0:
			maxZ = math.Max(maxZ, d/se)
		case d > 1e-12*math.Max(1, math.Abs(want[i])):
			maxZ = math.Inf(1)
		}
	}
	var vw float64
	for i, x := range want {
		vw += m.v[i] * x
	}
	mean, se := meanSE(m.psum, m.psq, m.n)
	return maxZ, (mean - vw) / se
}

// refMoments returns the oracle's exact expectation of the score part
// and covariance of the first P entries of the estimate of the batch x
// (row weights 1/rows), with c the baseline of each layer, by enumerating
// every row's codes.
func refMoments(t testing.TB, ref *refNet, name string, x []float64, c []float64, P int) ([]float64, *mat.SymDense) {
	cfg := ref.cfg
	rows := len(x) / cfg.Input
	cov := mat.NewSymDense(P, nil)
	score := make([]float64, P)
	for b := range rows {
		img := x[b*cfg.Input : (b+1)*cfg.Input]
		mean := make([]float64, P)
		second := mat.NewSymDense(P, nil)
		for _, j := range joints(t, ref, img) {
			in := refInput{name: name, x: img, w: []float64{1}, tau: 1, c: c, scale: []float64{1, 1}[:cfg.Layers()]}
			for _, z := range j.codes {
				g := make([]float64, len(z))
				gumbel.Sample(g, forcing(z))
				in.noise = append(in.noise, g)
			}
			out := ref.estimate(in)
			g := out.grad[:P]
			addTo(mean, scaled(g, j.q))
			addTo(score, scaled(out.score[:P], j.q/float64(rows)))
			second.SymRankOne(second, j.q, mat.NewVecDense(P, g))
		}
		second.SymRankOne(second, -1, mat.NewVecDense(P, mean))
		cov.AddSym(cov, scaledSym(second, 1/float64(rows*rows)))
	}
	return score, cov
}

func scaledSym(s *mat.SymDense, f float64) *mat.SymDense {
	out := mat.NewSymDense(s.SymmetricDim(), nil)
	out.ScaleSym(f, s)
	return out
}

// direction returns the fixed direction v of the projection test:
// Sigma^+ s, the pseudo-inverse of the covariance applied to the bias
// direction s, keeping the eigenvalues above cut times the largest (the
// direction that maximises (v.s)^2 / v^T Sigma v, the power against a
// bias along s), normalised to |v| = 1.
func direction(t testing.TB, cov *mat.SymDense, s []float64, cut float64) []float64 {
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		t.Fatal("eigen-decomposition of the covariance failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	sv := mat.NewVecDense(len(s), s)
	v := mat.NewVecDense(len(s), nil)
	for k, l := range vals {
		if l > cut*vals[len(vals)-1] {
			u := vecs.ColView(k)
			v.AddScaledVec(v, mat.Dot(u, sv)/l, u)
		}
	}
	v.ScaleVec(1/mat.Norm(v, 2), v)
	return v.RawVector().Data
}

// TestUnbiasedMonteCarlo draws estimates of sf, nvil and muprop through
// the real path (New, SetStats, Estimate, Grads; variance normalisation
// off) for the VAE (categorical, Bernoulli) and the SBN (categorical,
// Bernoulli), a batch of distinct images, and tests their mean against
// NewExact's gradient with two statistics, each at half of the
// false-alarm rate alpha = 1e-3 of a subtest (12 subtests: at most 1.2%
// for the whole test, by the union bound; the seeds are fixed, so the
// outcome is reproducible):
//
//   - max_i |mean_i - exact_i| / se_i over all P parameters the estimator
//     trains (P = 304, 265, 100 and 43 for the four models), se_i the
//     standard error from the same draws; the threshold is Bonferroni's,
//     z1 = Q(alpha/2 / 2P) (4.8, 4.8, 4.6, 4.4), Q the standard normal's
//     upper quantile. It catches a large bias of any parameter.
//   - the projection of the draws on a fixed unit direction v, chosen
//     before the draws: z = (v.mean - v.exact) / se(v.draw), threshold
//     z2 = Q(alpha/4) = 3.48. v = Sigma^+ s maximises the power against a
//     bias along s, the expectation of the estimator's score term
//     (f - c - baselines)(z - mu) back-propagated (by the oracle's
//     enumeration), Sigma the exact covariance of the estimate (by the
//     oracle's enumeration, the eigenvalues below 1e-4 of the largest
//     left out). A bias of the score term, such as a baseline that
//     depends on the sample, or a scaled or missing term, lies along s.
//
// The baseline c of each layer is the moving average after 30 draws
// (which are not tested), then fixed by SetStats before every tested draw
// (an unbiased estimator is unbiased for any c that does not depend on
// the sample; the moving averages' updates are checked draw by draw in
// TestDrawsMatchOracle), so that Sigma is the draws' covariance; the
// test also checks the variance of v.draw against v^T Sigma v (within 5
// standard errors of a sample variance): a bug that adds noise shows
// there. Draws: 500 (muprop 800) of 32 images for the VAE, 600 (muprop
// 700) of 96 images for the SBN, as many as the power needs.
//
// Power, stated and checked: the smallest relative bias of the score
// term that the projection detects with probability 95%,
// eps95 = (z2 + 1.645) se(v.draw) / (v.s), must be at most 5%, and, as a
// negative control, the same statistic on the draws shifted by the exact
// bias of a 5% scaling of the score term (-0.05 s) must exceed z2.
func TestUnbiasedMonteCarlo(t *testing.T) {
	if testing.Short() {
		t.Skip("one of the two slowest tests of the package: skipped with -short (make mutants), run by make test")
	}
	const alpha, maxEps, cut, burnIn = 1e-3, 0.05, 1e-4, 30
	for _, tc := range []struct {
		name                 string
		cfg                  model.Config
		batch, draws, muprop int // muprop's score term is smaller: more draws
	}{
		{"vae-cat", vaeCat, 32, 500, 800},
		{"vae-bern", vaeBern, 32, 500, 800},
		{"sbn-cat", sbnCat, 96, 600, 700},
		{"sbn-bern", sbnBern, 96, 600, 700},
	} {
		for _, name := range []string{SF, NVIL, MuProp} {
			t.Run(fmt.Sprintf("%s/%s", tc.name, name), func(t *testing.T) {
				cfg := tc.cfg
				p, x := newTiny(t, cfg, 7, tc.batch)
				ref := newRef(cfg, p)
				_, exact := exactGrad(t, cfg, p, x, tc.batch, tc.batch)
				P := len(exact)
				e := newEst(t, name, cfg, p, Options{Batch: tc.batch}, x)
				rng := rand.New(rand.NewPCG(5, 6))
				for range burnIn { // the moving averages settle
					if err := e.Estimate(1, rng); err != nil {
						t.Fatal(err)
					}
				}
				stats := e.Stats()
				var c []float64
				for _, st := range stats {
					c = append(c, st.Mean)
				}
				s, cov := refMoments(t, ref, name, x, c, P)
				v := direction(t, cov, s, cut)
				vs := dotSub(v, s, nil, 0)
				var cv mat.VecDense
				cv.MulVec(cov, mat.NewVecDense(P, v))
				wantVar := mat.Dot(&cv, mat.NewVecDense(P, v))

				draws := tc.draws
				if name == MuProp {
					draws = tc.muprop
				}
				m := newMoments(P, v)
				var u4 float64
				for range draws {
					if err := e.SetStats(stats); err != nil {
						t.Fatal(err)
					}
					if err := e.Estimate(1, rng); err != nil {
						t.Fatal(err)
					}
					g := flatGrads(e)[:P]
					m.add(g)
					u := dotSub(v, g, nil, 0) - dotSub(v, exact, nil, 0)
					u4 += u * u * u * u / float64(draws)
				}
				z1, z2 := m.zs(exact)
				_, se := meanSE(m.psum, m.psq, m.n)
				thr1 := normalQuantile(alpha / 2 / (2 * float64(P)))
				thr2 := normalQuantile(alpha / 2 / 2)
				eps95 := (thr2 + 1.645) * se / math.Abs(vs)
				planted := z2 - 0.05*vs/se
				gotVar := se * se * float64(m.n)
				seVar := math.Sqrt(math.Max(u4-wantVar*wantVar, 0) / float64(m.n))
				t.Logf("P=%d, %d draws of %d rows: max |z| %.2f (threshold %.2f), projection z %.2f (threshold %.2f); eps95 %.1f%%; with a 5%% bias of the score term z = %.1f; variance along v %.4g, exact %.4g (SE %.2g)",
					P, m.n, tc.batch, z1, thr1, z2, thr2, 100*eps95, planted, gotVar, wantVar, seVar)
				if z1 > thr1 {
					t.Errorf("max |mean - exact| / SE = %.2f > %.2f", z1, thr1)
				}
				if math.Abs(z2) > thr2 {
					t.Errorf("projection: |z| = %.2f > %.2f", math.Abs(z2), thr2)
				}
				if eps95 > maxEps {
					t.Errorf("the test detects a bias of the score term of %.1f%% (95%% power), not %g%%", 100*eps95, 100*maxEps)
				}
				if math.Abs(planted) <= thr2 {
					t.Errorf("negative control: a 5%% bias of the score term gives |z| = %.2f <= %.2f", math.Abs(planted), thr2)
				}
				if math.Abs(gotVar-wantVar) > 5*seVar {
					t.Errorf("variance along v %.5g, exact %.5g (SE %.2g)", gotVar, wantVar, seVar)
				}
			})
		}
	}
}
