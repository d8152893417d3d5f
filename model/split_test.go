package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// newTinyParams draws float64 weights of cfg from seed, with random prior
// logits when the prior is learned.
func newTinyParams(t *testing.T, cfg Config, seed uint64) (*Params, *rand.Rand) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	p, err := NewParams(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	if _, prior := p.layers(cfg); prior != nil {
		for i := range prior.Float64s() {
			prior.Float64s()[i] = rng.NormFloat64()
		}
	}
	return p, rng
}

func fillBits(x []float64, rng *rand.Rand) {
	for i := range x {
		x[i] = boolTo(rng.Float64() < 0.5)
	}
}

func fillNormal(x []float64, rng *rand.Rand) {
	for i := range x {
		x[i] = rng.NormFloat64()
	}
}

// TestEncoderGradientFiniteDifferences checks the gradient of the
// encoder's surrogate S = sum_b w_b KL_b + sum logits*G for every encoder
// and prior parameter, for a random injected G.
func TestEncoderGradientFiniteDifferences(t *testing.T) {
	learned := tinyBernoulli
	learned.Prior = PriorLearned
	learnedCat := tiny
	learnedCat.Prior = PriorLearned
	for _, cfg := range []Config{tiny, learnedCat, tinyBernoulli, learned} {
		t.Run(cfg.Kind+"/"+cfg.Prior, func(t *testing.T) {
			p, rng := newTinyParams(t, cfg, 3)
			e, err := NewEncoder(cfg, p, Options{Batch: 3, Grad: true})
			if err != nil {
				t.Fatal(err)
			}
			fillBits(e.X.Float64s(), rng)
			fillNormal(e.LogitGrad.Float64s(), rng)
			if err := e.SetRows(2); err != nil {
				t.Fatal(err)
			}
			surrogate := func() float64 {
				if err := e.Run(); err != nil {
					t.Fatal(err)
				}
				var s float64
				for _, kl := range e.KL()[:2] {
					s += kl / 2
				}
				for i, l := range e.Logits() {
					s += l * e.LogitGrad.Float64s()[i]
				}
				return s
			}
			surrogate()
			grads := gradSlices(e.Grads())
			params := append(p.slice(0, cfg.tensorsPerNet()).Tensors, p.Tensors[2*cfg.tensorsPerNet():cfg.modelTensors()]...)
			names := append(p.slice(0, cfg.tensorsPerNet()).Names, p.Names[2*cfg.tensorsPerNet():cfg.modelTensors()]...)
			checkFiniteDifferences(t, names, denseSlices(params), grads, surrogate)
		})
	}
}

// TestDecoderGradientFiniteDifferences checks the gradient of sum_b w_b
// Rec_b for every decoder parameter and every entry of Z, at relaxed
// (non-one-hot) codes.
func TestDecoderGradientFiniteDifferences(t *testing.T) {
	for _, cfg := range []Config{tiny, tinyBernoulli} {
		t.Run(cfg.Kind, func(t *testing.T) {
			p, rng := newTinyParams(t, cfg, 4)
			d, err := NewDecoder(cfg, p, Options{Batch: 3, Grad: true})
			if err != nil {
				t.Fatal(err)
			}
			fillBits(d.X.Float64s(), rng)
			z := d.Z.Float64s()
			for i := range z {
				z[i] = rng.Float64()
			}
			if err := d.SetRows(3); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				if err := d.Run(); err != nil {
					t.Fatal(err)
				}
				var s float64
				for _, r := range d.Rec() {
					s += r / 3
				}
				return s
			}
			loss()
			dec, _ := p.layers(cfg)
			grads := append(gradSlices(d.Grads()), d.ZGrad())
			vals := append(denseSlices(dec.Tensors), z)
			names := append(append([]string(nil), dec.Names...), "z")
			checkFiniteDifferences(t, names, vals, grads, loss)
			if cfg.Bernoulli() {
				for i := 1; i < len(z); i += 2 {
					if g := d.ZGrad()[i]; g != 0 {
						t.Fatalf("dRec/dz[%d] = %g: the decoder reads only the first of each pair", i, g)
					}
				}
			}
		})
	}
}

// TestBaselineGradientFiniteDifferences checks the gradient of sum_b
// b(x_b) G_b for every parameter of the NVIL baseline network.
func TestBaselineGradientFiniteDifferences(t *testing.T) {
	cfg := tiny
	cfg.Baseline = 4
	p, rng := newTinyParams(t, cfg, 5)
	b, err := NewBaseline(cfg, p, Options{Batch: 3, Grad: true})
	if err != nil {
		t.Fatal(err)
	}
	fillBits(b.X.Float64s(), rng)
	fillNormal(b.OutGrad.Float64s(), rng)
	s := func() float64 {
		if err := b.Run(); err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, v := range b.Out() {
			s += v * b.OutGrad.Float64s()[i]
		}
		return s
	}
	s()
	base := p.baseline(cfg)
	checkFiniteDifferences(t, base.Names, denseSlices(base.Tensors), gradSlices(b.Grads()), s)
}

// TestBernoulliIsBinaryConcrete checks the categorical view of Bernoulli
// latents against the closed forms of Maddison et al. (2017, Sec. 3.3)
// for one binary variable with logit l: the relaxed sample is
// y = sigmoid((l + L)/tau) with logistic noise L = g1 - g2, and the KL to
// Bernoulli(1/2) is q log 2q + (1-q) log 2(1-q) with q = sigmoid(l). The
// graph's Rec at its own relaxed sample must equal the decoder's Rec at
// the closed-form y. Tolerance: float64 rounding.
func TestBernoulliIsBinaryConcrete(t *testing.T) {
	const tol = 1e-12
	cfg := tinyBernoulli
	gr, p := newTinyGraphOf(t, cfg, 6, Options{Batch: 2})
	const tau = 0.6
	if err := gr.SetTau(tau); err != nil {
		t.Fatal(err)
	}
	if err := gr.Run(); err != nil {
		t.Fatal(err)
	}
	d, err := NewDecoder(cfg, p, Options{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	copy(d.X.Float64s(), gr.X.Float64s())
	logits, g := gr.Logits(), gr.Noise.Float64s()
	for b := 0; b < 2; b++ {
		var kl float64
		for n := 0; n < cfg.N; n++ {
			i := b*cfg.Latent() + 2*n
			if logits[i+1] != 0 {
				t.Fatalf("row %d variable %d: second logit %g, want 0", b, n, logits[i+1])
			}
			l := logits[i]
			q := 1 / (1 + math.Exp(-l))
			kl += q*math.Log(2*q) + (1-q)*math.Log(2*(1-q))
			y := 1 / (1 + math.Exp(-(l+g[i]-g[i+1])/tau))
			d.Z.Float64s()[i], d.Z.Float64s()[i+1] = y, 1-y
		}
		if got := gr.KL()[b]; math.Abs(got-kl) > tol {
			t.Errorf("row %d: KL %.15g, closed form %.15g", b, got, kl)
		}
	}
	if err := d.Run(); err != nil {
		t.Fatal(err)
	}
	for b, want := range d.Rec() {
		if got := gr.Rec()[b]; math.Abs(got-want) > tol {
			t.Errorf("row %d: Rec %.15g, at the binary Concrete sample %.15g", b, got, want)
		}
	}
}
