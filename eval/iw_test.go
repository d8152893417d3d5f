package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gsvae/model"
)

// TestIWMatchesEnumeration checks L_k of one image of the tiny models (2
// variables of 3 classes, or 2 Bernoulli; uniform or learned prior) against
// log p(x) computed over all 9 states. With weights w = p(x,z)/q(z|x),
// E_q[w] = p(x) and, by the delta method, L_k has mean log p(x) - bias with
// bias = Var_q(w) / (2 k p(x)^2) and standard deviation
// sqrt(Var_q(w) / k) / p(x), both computed exactly here. The test allows the
// bias plus 4 standard deviations; a bound with wrong weights (a missing
// q(z|x), prior or log k) misses by far more.
func TestIWMatchesEnumeration(t *testing.T) {
	const k = 5000
	learned := tinyCfg
	learned.Prior = model.PriorLearned
	bernoulli := tinyCfg
	bernoulli.Kind, bernoulli.K = model.LatentBernoulli, 2
	bernoulliLearned := bernoulli
	bernoulliLearned.Prior = model.PriorLearned
	for _, cfg := range []model.Config{tinyCfg, learned, bernoulli, bernoulliLearned} {
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
		t.Logf("%s, prior %q: L_%d = %.4f, log p(x) = %.4f, expected bias %.4f, sd %.4f", cfg.Kind, cfg.Prior, k, -got.NegBound, logPX, bias, sd)
		if d := -got.NegBound - (logPX - bias); math.Abs(d) > 4*sd+1e-6 {
			t.Errorf("%s, prior %q: L_k = %.4f, want %.4f (log p(x) - bias) within %.4f", cfg.Kind, cfg.Prior, -got.NegBound, logPX-bias, 4*sd)
		}
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
