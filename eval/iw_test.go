package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gsvae/gumbel"
	"gsvae/model"
)

// TestIWMatchesEnumeration checks L_k of one image of the tiny models (2
// variables of 3 classes, or 2 Bernoulli; uniform or learned prior; and
// the tiny SBNs, categorical and Bernoulli) against log p(x) (for the SBN
// log p(x_lower | x_upper)) computed over all states. With weights
// w = p(x,z)/q(z|x) (for the SBN, whose samples come from the model,
// w = p(x_lower | h)), E_q[w] = p(x) and, by the delta method, L_k has
// mean log p(x) - bias with bias = Var_q(w) / (2 k p(x)^2) and standard
// deviation sqrt(Var_q(w) / k) / p(x), both computed exactly here. The
// test allows the bias plus 4 standard deviations; a bound with wrong
// weights (a missing q(z|x), prior or log k) misses by far more. For the
// SBN it also checks that log p(x_lower | x_upper) is more than 10
// standard deviations above the single-sample value -E[rec], so that
// the bound's convergence is what the test sees.
func TestIWMatchesEnumeration(t *testing.T) {
	const k = 5000
	learned := tinyCfg
	learned.Prior = model.PriorLearned
	bernoulli := tinyCfg
	bernoulli.Kind, bernoulli.K = model.LatentBernoulli, 2
	bernoulliLearned := bernoulli
	bernoulliLearned.Prior = model.PriorLearned
	sbnBernoulli := tinySBN
	sbnBernoulli.K, sbnBernoulli.Kind = 2, model.LatentBernoulli
	for _, cfg := range []model.Config{tinyCfg, learned, bernoulli, bernoulliLearned, tinySBN, sbnBernoulli} {
		name := cfg.Describe() + ", prior " + cfg.WithDefaults().Prior
		t.Run(name, func(t *testing.T) {
			p := tinyModelOf(t, cfg)
			img := randomImages(1, 1)
			e := enumerateOf(t, cfg, p, img.Binary)
			logPX := e.logPX()
			var second float64 // E_q[(w/p(x))^2]
			for z, q := range e.q {
				w := math.Exp(-e.rec[z] + e.logp[z] - math.Log(q) - logPX)
				second += q * w * w
			}
			relVar := second - 1 // Var_q(w) / p(x)^2
			bias, sd := relVar/(2*k), math.Sqrt(relVar/k)
			got, err := NegIWBound(context.Background(), cfg, p, img, k, rand.New(rand.NewPCG(7, 7)), nil)
			if err != nil {
				t.Fatal(err)
			}
			mean, _ := e.moments()
			t.Logf("L_%d = %.4f, log p(x) = %.4f, expected bias %.4f, sd %.4f; -E[rec] - KL = %.4f", k, -got.NegBound, logPX, bias, sd, -mean-e.kl)
			if d := -got.NegBound - (logPX - bias); math.Abs(d) > 4*sd+1e-6 {
				t.Errorf("L_k = %.4f, want %.4f (log p(x) - bias) within %.4f", -got.NegBound, logPX-bias, 4*sd)
			}
			if cfg.SBN() && !(logPX-(-mean) > 10*sd) {
				t.Errorf("log p(x_lower | x_upper) = %.4f is within 10 sd of -E[rec] = %.4f: the test cannot tell L_k from L_1", logPX, -mean)
			}
		})
	}
}

// TestSBNOneSampleBound checks the SBN's m-sample estimate at m = 1 on
// 2,000 copies of one image of the tiny SBNs: -L_1 = -log p(x_lower | h)
// for one h ~ p(h1|x_upper) p(h2|h1) per copy, so its mean over the copies
// must be E[-log p(x_lower | h)] by enumeration within 4 standard errors
// (sd / sqrt(2000), sd by enumeration too), and so must the one-sample
// -ELBO of the same copies, which estimates the same expectation with
// its own draws. The reported standard errors must match sd / sqrt(2000)
// within 10%.
func TestSBNOneSampleBound(t *testing.T) {
	const n = 2000
	sbnBernoulli := tinySBN
	sbnBernoulli.K, sbnBernoulli.Kind = 2, model.LatentBernoulli
	for _, cfg := range []model.Config{tinySBN, sbnBernoulli} {
		t.Run(cfg.Describe(), func(t *testing.T) {
			p := tinyModelOf(t, cfg)
			imgs := repeated(randomImages(1, 1), n)
			e := enumerateOf(t, cfg, p, imgs.Binary)
			mean, variance := e.moments()
			se := math.Sqrt(variance / n)
			iw, err := NegIWBound(context.Background(), cfg, p, imgs, 1, rand.New(rand.NewPCG(3, 1)), nil)
			if err != nil {
				t.Fatal(err)
			}
			elbo, err := NegELBO(context.Background(), cfg, p, imgs, 1, rand.New(rand.NewPCG(3, 2)))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("E[-log p(x_lower|h)] = %.4f (se %.4f over %d draws); -L_1 = %.4f ± %.4f; -ELBO = %.4f ± %.4f", mean, se, n, iw.NegBound, iw.SE, elbo.NegELBO, elbo.SE)
			for _, got := range []struct {
				name     string
				mean, se float64
			}{{"-L_1", iw.NegBound, iw.SE}, {"-ELBO", elbo.NegELBO, elbo.SE}} {
				if math.Abs(got.mean-mean) > 4*se {
					t.Errorf("%s = %.4f, enumeration %.4f: off by %.1f standard errors", got.name, got.mean, mean, math.Abs(got.mean-mean)/se)
				}
				if math.Abs(got.se/se-1) > 0.1 {
					t.Errorf("%s: standard error %.4f, enumeration says %.4f", got.name, got.se, se)
				}
			}
		})
	}
}

// TestIWRisesWithK checks on 40 images of the tiny model that L_1 agrees with
// the discrete ELBO (both estimate E_q[log w]: the two means differ by less
// than 4 standard errors) and that the bound rises with k: the mean of
// -L_k falls from k = 1 to 10 to 100. L_k is non-decreasing in k in
// expectation, and the tiny model's gap between ELBO and log p(x) is
// several nats, far above the sampling noise of a 40-image mean.
func TestIWRisesWithK(t *testing.T) {
	p, imgs := tinyModel(t), randomImages(40, 4)
	elbo, err := NegELBO(context.Background(), tinyCfg, p, imgs, 1, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var prev IWBound
	for _, k := range []int{1, 10, 100} {
		got, err := NegIWBound(context.Background(), tinyCfg, p, imgs, k, rand.New(rand.NewPCG(2, uint64(k))), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("k = %3d: -L_k = %.3f ± %.3f", k, got.NegBound, got.SE)
		if k == 1 {
			if se := math.Hypot(got.SE, elbo.SE); math.Abs(got.NegBound-elbo.NegELBO) > 4*se {
				t.Errorf("-L_1 = %.3f, -ELBO = %.3f: differ by more than 4 x %.3f", got.NegBound, elbo.NegELBO, se)
			}
		} else if !(got.NegBound < prev.NegBound) {
			t.Errorf("-L_%d = %.3f is not below -L_%d = %.3f", k, got.NegBound, prev.K, prev.NegBound)
		}
		prev = got
	}
}

// TestNegIWBoundErrors checks the refusals: no samples, an empty split, and
// a cancelled context.
func TestNegIWBoundErrors(t *testing.T) {
	p, one := tinyModel(t), randomImages(1, 2)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		imgs  int
		k     int
		split bool
	}{
		{"zero samples", context.Background(), 1, 0, true},
		{"empty split", context.Background(), 0, 1, false},
		{"cancelled", cancelled, 1, 1, true},
	} {
		s := one
		if !tc.split {
			s = randomImages(0, 1)
		}
		if _, err := NegIWBound(tc.ctx, tinyCfg, p, s, tc.k, rand.New(rand.NewPCG(1, 1)), nil); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestNegIWBoundProgress checks what NegIWBound reports besides the
// bound, on 7 images with k = 2: N and K, and progress called once per
// image with the count of images done, 1 to 7.
func TestNegIWBoundProgress(t *testing.T) {
	p, imgs := tinyModel(t), randomImages(7, 5)
	var calls []int
	got, err := NegIWBound(context.Background(), tinyCfg, p, imgs, 2, rand.New(rand.NewPCG(4, 4)), func(done int) { calls = append(calls, done) })
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 7 || got.K != 2 {
		t.Errorf("N = %d, K = %d; want 7, 2", got.N, got.K)
	}
	if want := []int{1, 2, 3, 4, 5, 6, 7}; !slices.Equal(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}

// TestIWReplaysDraws checks NegIWBound draw by draw on one image of the
// tiny categorical VAE and SBN: the test replays the same random stream
// for the chunk of k samples (per layer, one uniform per variable, row r
// using entries r*N to (r+1)*N, each inverting its variable's cumulative
// probabilities), draws each sample's code from the exact per-variable
// probabilities of the enumeration (for the SBN h2's given the h1 drawn),
// and recomputes L_k = log (1/k) sum_i w_i with the enumerated weights.
// Tolerance 1e-4 nats: the bound's decoder runs in float32 through other
// ops than the enumeration's. Every row drawn with the first row's
// uniforms, a uniform inverted to the class before the right one, or a
// weight missing a term, changes L_k by far more. (Rows that trade their
// uniforms do not: the bound of a VAE is the same for any order of its
// samples.)
func TestIWReplaysDraws(t *testing.T) {
	const k, seed = 40, 11
	for _, cfg := range []model.Config{tinyCfg, tinySBN} {
		t.Run(cfg.Describe(), func(t *testing.T) {
			p := tinyModelOf(t, cfg)
			img := randomImages(1, 5)
			got, err := NegIWBound(context.Background(), cfg, p, img, k, rand.New(rand.NewPCG(seed, seed)), nil)
			if err != nil {
				t.Fatal(err)
			}
			e := enumerateOf(t, cfg, p, img.Binary)
			m, codeZ := codes(cfg)
			nk := cfg.Latent()
			// draw returns, for each of k rows, the code drawn with that
			// row's uniforms, one per variable, by inversion of the
			// distribution q over the m codes.
			rng := rand.New(rand.NewPCG(seed, seed))
			draw := func(q func(row, c int) float64) []int {
				u := make([]float64, k*cfg.N)
				for i := range u {
					u[i] = rng.Float64()
				}
				out := make([]int, k)
				for r := range k {
					marg := make([]float64, nk) // each variable's marginal
					for j := range nk {
						for c := range m {
							marg[j] += q(r, c) * float64(codeZ[c*nk+j])
						}
					}
					z := make([]float32, nk)
					for v := range cfg.N {
						j, cum := 0, marg[v*cfg.K]
						for cum <= u[r*cfg.N+v] && j < cfg.K-1 {
							j++
							cum += marg[v*cfg.K+j]
						}
						z[v*cfg.K+j] = 1
					}
					out[r] = -1
					for c := range m {
						if slices.Equal(codeZ[c*nk:(c+1)*nk], z) {
							out[r] = c
						}
					}
					if out[r] < 0 {
						t.Fatalf("row %d: %v is no code", r, z)
					}
				}
				return out
			}
			logw := make([]float64, k)
			if !cfg.SBN() {
				c := draw(func(_, c int) float64 { return e.q[c] })
				for r := range k {
					logw[r] = -e.rec[c[r]] + e.logp[c[r]] - math.Log(e.q[c[r]])
				}
			} else {
				q1 := make([]float64, m)
				for c1 := range m {
					for c2 := range m {
						q1[c1] += e.q[c1*m+c2]
					}
				}
				h1 := draw(func(_, c int) float64 { return q1[c] })
				h2 := draw(func(r, c int) float64 { return e.q[h1[r]*m+c] / q1[h1[r]] })
				for r := range k {
					logw[r] = -e.rec[h1[r]*m+h2[r]]
				}
			}
			want := gumbel.LogSumExp(logw) - math.Log(k)
			if d := -got.NegBound - want; !(math.Abs(d) <= 1e-4) {
				t.Errorf("L_%d = %.6f, replayed %.6f", k, -got.NegBound, want)
			}
		})
	}
}

// TestSampleRowInversion checks the first layer's draw by inversion at
// the edges the statistical tests cannot reach: the class whose
// cumulative probability first exceeds u, u = 0 and u just below 1, and
// classes of probability 0 (exp(-800) underflows to 0), which are never
// drawn, before, between or after the others. Expected classes by hand
// from the probabilities of each case.
func TestSampleRowInversion(t *testing.T) {
	below1 := math.Nextafter(1, 0)
	for _, tc := range []struct {
		name  string
		probs []float64 // one group's probabilities, in order
		u     float64   // -1: exactly the first class's cumulative probability
		want  int
	}{
		{"u 0 takes the first class", []float64{0.2, 0.5, 0.3}, 0, 0},
		{"u inside the second class", []float64{0.2, 0.5, 0.3}, 0.25, 1},
		{"u at a boundary takes the next class", []float64{0.25, 0.5, 0.25}, -1, 1},
		{"u just below 1 takes the last class", []float64{0.2, 0.5, 0.3}, below1, 2},
		{"zero first class is skipped at u 0", []float64{0, 0.4, 0.6}, 0, 1},
		{"zero middle class is skipped", []float64{0.5, 0, 0.5}, -1, 2},
		{"zero last class is never drawn", []float64{0.5, 0.5, 0}, below1, 1},
		{"Bernoulli pair, z = 1", []float64{0.7, 0.3}, 0.69, 0},
		{"Bernoulli pair, z = 0", []float64{0.7, 0.3}, 0.71, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := len(tc.probs)
			// Two groups: the first a fixed distribution, to check that the
			// second reads its own part of cdf and logq.
			logq := []float64{math.Log(0.5), math.Log(0.5)}
			if k == 3 {
				logq = append(logq, -800)
			}
			for _, p := range tc.probs {
				lp := math.Log(p)
				if p == 0 {
					lp = -800
				}
				logq = append(logq, lp)
			}
			cdf := cumulative(logq, k)
			u := tc.u
			if u < 0 {
				u = cdf[k]
			}
			z := make([]float32, 2*k)
			lq, lp := sampleRow(z, []float64{0.75, u}, cdf, logq, logq, k)
			want := make([]float32, 2*k)
			want[1], want[k+tc.want] = 1, 1
			if !slices.Equal(z, want) {
				t.Errorf("z = %v, want %v", z, want)
			}
			if wantLq := logq[1] + logq[k+tc.want]; lq != wantLq || lp != wantLq {
				t.Errorf("log q = %v, log p = %v; want %v for both", lq, lp, wantLq)
			}
		})
	}
}

// TestSampleLaterInversion checks the SBN's later-layer draw by inversion
// from unnormalised probabilities e_j at the same edges as
// TestSampleRowInversion: u = 0, u inside a class, u just below 1, and
// classes with e_j = 0 (never drawn, even when u sum rounds up to the
// sum). Expected classes by hand from the cumulative sums of each case.
func TestSampleLaterInversion(t *testing.T) {
	below1 := math.Nextafter(1, 0)
	for _, tc := range []struct {
		name string
		e    []float32 // one group's exp(l_j - max l)
		u    float64
		want int
	}{
		{"u 0 takes the first class", []float32{0.5, 1, 0.25}, 0, 0},
		{"u inside the second class", []float32{0.5, 1, 0.5}, 0.3, 1},
		{"u inside the last class", []float32{0.5, 1, 0.5}, 0.8, 2},
		{"u just below 1 takes the last class", []float32{0.5, 1, 0.5}, below1, 2},
		{"zero first class is skipped at u 0", []float32{0, 1, 1}, 0, 1},
		{"zero middle class is skipped", []float32{1, 0, 1}, 0.5, 2},
		{"zero last class is never drawn", []float32{1, 1, 0}, below1, 1},
		{"Bernoulli pair, z = 1", []float32{1, 0.25}, 0.79, 0},
		{"Bernoulli pair, z = 0", []float32{1, 0.25}, 0.81, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := len(tc.e)
			// Two groups: the first a fixed distribution, to check that the
			// second reads its own part of e.
			e := make([]float32, k)
			e[0], e[1] = 1, 1
			e = append(e, tc.e...)
			z := make([]float32, 2*k)
			sampleLater(z, []float64{0.75, tc.u}, e, k)
			want := make([]float32, 2*k)
			want[1], want[k+tc.want] = 1, 1
			if !slices.Equal(z, want) {
				t.Errorf("z = %v, want %v", z, want)
			}
		})
	}
}
