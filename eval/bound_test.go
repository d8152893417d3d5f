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
