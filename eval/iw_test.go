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
// (one block of Gumbel noise per layer for the chunk of k samples, row r
// using entries r*N*K to (r+1)*N*K), draws each sample's code from the
// exact per-variable probabilities of the enumeration (for the SBN h2's
// given the h1 drawn), and recomputes L_k = log (1/k) sum_i w_i with the
// enumerated weights. Tolerance 1e-4 nats: the bound's decoder runs in
// float32 through other ops than the enumeration's. A sample drawn with
// another row's noise, or a weight missing a term, changes L_k by far
// more.
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
			// row's noise from the distribution q over the m codes.
			rng := rand.New(rand.NewPCG(seed, seed))
			draw := func(q func(row, c int) float64) []int {
				noise := make([]float32, k*nk)
				gumbel.Sample(noise, rng)
				out := make([]int, k)
				for r := range k {
					logq := make([]float32, nk) // log of each variable's marginal
					for j := range nk {
						var s float64
						for c := range m {
							s += q(r, c) * float64(codeZ[c*nk+j])
						}
						logq[j] = float32(math.Log(s))
					}
					z := make([]float32, nk)
					gumbel.OneHotSample(z, logq, noise[r*nk:(r+1)*nk], cfg.K)
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
