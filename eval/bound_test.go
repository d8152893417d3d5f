package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gsvae/data"
	"gsvae/model"
)

// TestNegELBOMatchesEnumeration checks the sampled discrete -ELBO of one
// image against its exact value for models small enough to enumerate:
// for the VAE, N = 2 variables of K = 3 classes give 9 latent states z,
// and
//
//	-ELBO = sum_z q(z|x) rec(x, z) + KL(q || uniform)
//
// with rec from the decoder at each one-hot z; for the SBN (2x3
// categorical, or 2 Bernoulli variables per layer), whose loss has no KL,
//
//	-ELBO = sum_h1 sum_h2 p(h1|x_upper) p(h2|h1) rec(x_lower, h2)
//
// over 81 (or 16) joint states. With S samples the estimate's standard
// error is sd_q(rec) / sqrt(S), computed exactly from the same
// enumeration; the test allows 4 standard errors. A sampler that does not
// draw from q (wrong noise, wrong argmax, relaxed instead of one-hot
// samples, h2 not drawn given h1) is off by many.
func TestNegELBOMatchesEnumeration(t *testing.T) {
	const samples = 4000
	sbnBernoulli := tinySBN
	sbnBernoulli.K, sbnBernoulli.Kind = 2, model.LatentBernoulli
	for _, cfg := range []model.Config{tinyCfg, tinySBN, sbnBernoulli} {
		t.Run(cfg.Describe(), func(t *testing.T) {
			p := tinyModelOf(t, cfg)
			img := randomImages(1, 1)
			e := enumerateOf(t, cfg, p, img.Binary)
			mean, variance := e.moments()
			exact := mean + e.kl
			se := math.Sqrt(variance/samples) + 1e-9
			got, err := NegELBO(context.Background(), cfg, p, img, samples, rand.New(rand.NewPCG(5, 6)))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("sampled %.4f, exact %.4f, standard error %.4f (%d states, max q %.3f)", got.NegELBO, exact, se, len(e.q), slices.Max(e.q))
			if math.Abs(got.NegELBO-exact) > 4*se {
				t.Errorf("-ELBO = %.4f, exact %.4f: off by %.1f standard errors", got.NegELBO, exact, math.Abs(got.NegELBO-exact)/se)
			}
			if math.Abs(got.Rec+got.KL-got.NegELBO) > 1e-6*got.NegELBO {
				t.Errorf("rec %v + KL %v != -ELBO %v", got.Rec, got.KL, got.NegELBO)
			}
			if cfg.SBN() && got.KL != 0 {
				t.Errorf("the SBN has no KL term, got %v", got.KL)
			}
		})
	}
}

// TestNegELBOErrors checks the refusals: no samples, an empty split, and a
// cancelled context.
func TestNegELBOErrors(t *testing.T) {
	cfg, p, one := tinyCfg, tinyModel(t), randomImages(1, 2)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		split   *data.Split
		samples int
	}{
		{"zero samples", context.Background(), one, 0},
		{"empty split", context.Background(), &data.Split{Name: "empty"}, 1},
		{"cancelled", cancelled, one, 1},
	} {
		if _, err := NegELBO(tc.ctx, cfg, p, tc.split, tc.samples, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestNegELBOOverImages checks what NegELBO reports of a split of several
// images (6 random ones, 500 samples each) against the exact values of
// each image by enumeration (see TestNegELBOMatchesEnumeration): the
// number of images; NegELBO within 4 standard errors of the mean of the
// exact -ELBOs (the sampling error of the mean, sqrt(sum_i Var_q(rec_i) /
// S) / N); KL equal to the mean of the analytic KLs, which involve no
// sampling (tolerance 1e-5 relative: float32 values averaged in float64);
// and Rec + KL equal to NegELBO (1e-6 relative): the terms are means over
// the images, not sums.
func TestNegELBOOverImages(t *testing.T) {
	const n, samples = 6, 500
	p := tinyModel(t)
	imgs := randomImages(n, 7)
	var exactMean, klMean, variance float64
	for i := range n {
		e := enumerate(t, p, imgs.Binary[i*data.Pixels:(i+1)*data.Pixels])
		mean, v := e.moments()
		exactMean += (mean + e.kl) / n
		klMean += e.kl / n
		variance += v
	}
	se := math.Sqrt(variance/samples) / n
	got, err := NegELBO(context.Background(), tinyCfg, p, imgs, samples, rand.New(rand.NewPCG(8, 9)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sampled %.4f, exact %.4f, standard error %.4f; KL %.6f, exact %.6f", got.NegELBO, exactMean, se, got.KL, klMean)
	if got.N != n {
		t.Errorf("N = %d, want %d", got.N, n)
	}
	if math.Abs(got.NegELBO-exactMean) > 4*se {
		t.Errorf("-ELBO = %.4f, exact %.4f: off by %.1f standard errors", got.NegELBO, exactMean, math.Abs(got.NegELBO-exactMean)/se)
	}
	if math.Abs(got.KL-klMean) > 1e-5*klMean {
		t.Errorf("KL = %.8g, mean of the exact KLs %.8g", got.KL, klMean)
	}
	if math.Abs(got.Rec+got.KL-got.NegELBO) > 1e-6*got.NegELBO {
		t.Errorf("rec %v + KL %v != -ELBO %v", got.Rec, got.KL, got.NegELBO)
	}
}

// TestMeanSE checks meanSE, the mean and standard error of NegELBO and
// NegIWBound, on values worked by hand: sd with the n-1 variance over
// sqrt(n), 0 for one value or equal values.
func TestMeanSE(t *testing.T) {
	for _, tc := range []struct {
		values   []float64
		mean, se float64
	}{
		{[]float64{1, 2, 3, 4}, 2.5, math.Sqrt(5.0 / 3 / 4)}, // variance (2.25+0.25+0.25+2.25)/3
		{[]float64{0, 10}, 5, 5},                             // variance 50, se sqrt(50/2)
		{[]float64{-3, -3, -3}, -3, 0},
		{[]float64{7}, 7, 0},
	} {
		var sum, sumSq float64
		for _, v := range tc.values {
			sum += v
			sumSq += v * v
		}
		mean, se := meanSE(sum, sumSq, len(tc.values))
		if math.Abs(mean-tc.mean) > 1e-12 || math.Abs(se-tc.se) > 1e-12 {
			t.Errorf("meanSE of %v = %v, %v; want %v, %v", tc.values, mean, se, tc.mean, tc.se)
		}
	}
}
