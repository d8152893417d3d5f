package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/data"
	"gsvae/model"
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
	cfg := model.Config{N: 2, K: 3, Hidden: []int{8, 8}, Input: model.Pixels}
	rng := rand.New(rand.NewPCG(1, 2))
	p, err := model.NewParams(cfg, tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Scale the encoder's last layer so q is far from uniform, and the
	// decoder's first so rec depends strongly on z: then sampling from the
	// wrong distribution shows.
	for _, scaled := range []struct{ tensor, by int }{{4, 20}, {6, 30}} {
		w := p.Tensors[scaled.tensor].Data().([]float32)
		for i := range w {
			w[i] *= float32(scaled.by)
		}
	}
	img := &data.Split{Name: "one", N: 1, Binary: make([]uint8, data.Pixels), Intensity: make([]uint8, data.Pixels)}
	for i := range img.Binary {
		img.Binary[i] = uint8(rng.IntN(2))
	}

	// Posterior logits and KL from a graph run on the image.
	gr, err := model.NewGraph(cfg, p, model.Options{Batch: 1, Hard: true})
	if err != nil {
		t.Fatal(err)
	}
	x := gr.X.Data().([]float32)
	for i, v := range img.Binary {
		x[i] = float32(v)
	}
	if err := gr.Run(); err != nil {
		t.Fatal(err)
	}
	logits, kl := gr.Logits(), gr.KL()[0]
	q := make([]float64, len(logits))
	for v := 0; v < cfg.N; v++ {
		var s float64
		for k := 0; k < cfg.K; k++ {
			s += math.Exp(logits[v*cfg.K+k])
		}
		for k := 0; k < cfg.K; k++ {
			q[v*cfg.K+k] = math.Exp(logits[v*cfg.K+k]) / s
		}
	}

	// rec(x, z) for all 9 states from the decoder.
	dec, err := model.NewDecoder(cfg, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	var mean, second float64
	for z1 := 0; z1 < cfg.K; z1++ {
		for z2 := 0; z2 < cfg.K; z2++ {
			z := dec.Z.Data().([]float32)
			clear(z)
			z[z1], z[cfg.K+z2] = 1, 1
			if err := dec.Run(); err != nil {
				t.Fatal(err)
			}
			var rec float64
			for i, l := range dec.PixelLogits() {
				rec += math.Max(l, 0) + math.Log1p(math.Exp(-math.Abs(l))) - float64(img.Binary[i])*l
			}
			w := q[z1] * q[cfg.K+z2]
			mean += w * rec
			second += w * rec * rec
		}
	}
	exact := mean + kl
	se := math.Sqrt((second-mean*mean)/samples) + 1e-9

	got, err := NegELBO(context.Background(), cfg, p, img, samples, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sampled %.4f, exact %.4f, standard error %.4f (q = %.3f)", got.NegELBO, exact, se, q)
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
	cfg := model.Config{N: 2, K: 3, Hidden: []int{4}, Input: model.Pixels}
	p, err := model.NewParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	one := &data.Split{Name: "one", N: 1, Binary: make([]uint8, data.Pixels), Intensity: make([]uint8, data.Pixels)}
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
