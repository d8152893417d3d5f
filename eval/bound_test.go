package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gsvae/data"
)

// TestNegELBOMatchesEnumeration checks the sampled discrete -ELBO of one
// image against its exact value for a model small enough to enumerate:
// N = 2 variables of K = 3 classes give 9 latent states z, and
//
//	-ELBO = sum_z q(z|x) rec(x, z) + KL(q || uniform)
//
// with rec from the decoder at each one-hot z. With S samples the estimate's
// standard error is sd_q(rec) / sqrt(S), computed exactly from the same
// enumeration; the test allows 4 standard errors. A sampler that does not
// draw from q (wrong noise, wrong argmax, relaxed instead of one-hot
// samples) is off by many.
func TestNegELBOMatchesEnumeration(t *testing.T) {
	const samples = 4000
	p := tinyModel(t)
	img := randomImages(1, 1)
	e := enumerate(t, p, img.Binary)
	var mean, second float64
	for z, q := range e.q {
		mean += q * e.rec[z]
		second += q * e.rec[z] * e.rec[z]
	}
	exact := mean + e.kl
	se := math.Sqrt((second-mean*mean)/samples) + 1e-9

	got, err := NegELBO(context.Background(), tinyCfg, p, img, samples, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sampled %.4f, exact %.4f, standard error %.4f (q = %.3f)", got.NegELBO, exact, se, e.q)
	if math.Abs(got.NegELBO-exact) > 4*se {
		t.Errorf("-ELBO = %.4f, exact %.4f: off by %.1f standard errors", got.NegELBO, exact, math.Abs(got.NegELBO-exact)/se)
	}
	if math.Abs(got.Rec+got.KL-got.NegELBO) > 1e-6*got.NegELBO {
		t.Errorf("rec %v + KL %v != -ELBO %v", got.Rec, got.KL, got.NegELBO)
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
