package eval

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/data"
	"gsvae/model"
)

// tinyCfg has N = 2 variables of K = 3 classes: 9 latent states, few
// enough to compute every expectation exactly.
var tinyCfg = model.Config{N: 2, K: 3, Hidden: []int{8, 8}, Input: model.Pixels}

// tinyModel returns weights for tinyCfg whose encoder's last layer is scaled
// so q is far from uniform, and whose decoder's first layer is scaled so
// rec depends strongly on z: then sampling from the wrong distribution, or
// weighting samples wrongly, shows.
func tinyModel(t *testing.T) *model.Params {
	t.Helper()
	return tinyModelOf(t, tinyCfg)
}

// tinyModelOf is tinyModel for a tinyCfg variant; a learned prior gets
// random logits (the last tensor).
func tinyModelOf(t *testing.T, cfg model.Config) *model.Params {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	p, err := model.NewParams(cfg, tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Learned() {
		prior := p.Tensors[len(p.Tensors)-1].Float32s()
		for i := range prior {
			prior[i] = float32(2 * rng.NormFloat64())
		}
	}
	for _, scaled := range []struct{ tensor, by int }{{4, 20}, {6, 30}} {
		w := p.Tensors[scaled.tensor].Float32s()
		for i := range w {
			w[i] *= float32(scaled.by)
		}
	}
	return p
}

// randomImages returns a split of n random binary images.
func randomImages(n int, seed uint64) *data.Split {
	rng := rand.New(rand.NewPCG(seed, 3))
	s := &data.Split{Name: "random", N: n, Binary: make([]uint8, n*data.Pixels), Intensity: make([]uint8, n*data.Pixels)}
	for i := range s.Binary {
		s.Binary[i] = uint8(rng.IntN(2))
		s.Intensity[i] = 255 * s.Binary[i]
	}
	return s
}

// exact holds, for one image, every latent state's posterior probability
// q(z|x), prior log-probability log p(z) and reconstruction cost
// rec(z) = -log p(x|z), and the analytic KL.
type exact struct {
	q, logp, rec []float64
	kl           float64
}

// enumerate computes exact for image img of the tiny model by running the
// encoder once and the decoder at each of the 9 one-hot states.
func enumerate(t *testing.T, p *model.Params, img []uint8) exact {
	t.Helper()
	return enumerateOf(t, tinyCfg, p, img)
}

// enumerateOf is enumerate for a tinyCfg variant (e.g. a learned prior).
func enumerateOf(t *testing.T, cfg model.Config, p *model.Params, img []uint8) exact {
	t.Helper()
	gr, err := model.NewGraph(cfg, p, model.Options{Batch: 1, Hard: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range img {
		gr.X.Float32s()[i] = float32(v)
	}
	if err := gr.Run(); err != nil {
		t.Fatal(err)
	}
	logits := gr.Logits()
	qv := make([]float64, len(logits))
	for v := 0; v < cfg.N; v++ {
		var s float64
		for k := 0; k < cfg.K; k++ {
			s += math.Exp(logits[v*cfg.K+k])
		}
		for k := 0; k < cfg.K; k++ {
			qv[v*cfg.K+k] = math.Exp(logits[v*cfg.K+k]) / s
		}
	}
	dec, err := model.NewDecoder(cfg, p, model.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range img {
		dec.X.Float32s()[i] = float32(v)
	}
	logPrior := model.LogSoftmaxGroups(p.PriorLogits(cfg), cfg.K)
	e := exact{kl: gr.KL()[0]}
	for z1 := 0; z1 < cfg.K; z1++ {
		for z2 := 0; z2 < cfg.K; z2++ {
			z := dec.Z.Float32s()
			clear(z)
			z[z1], z[cfg.K+z2] = 1, 1
			if err := dec.Run(); err != nil {
				t.Fatal(err)
			}
			e.q = append(e.q, qv[z1]*qv[cfg.K+z2])
			e.logp = append(e.logp, logPrior[z1]+logPrior[cfg.K+z2])
			e.rec = append(e.rec, dec.Rec()[0])
		}
	}
	return e
}

// logPX returns log p(x) = log sum_z p(x|z) p(z).
func (e exact) logPX() float64 {
	terms := make([]float64, len(e.rec))
	for z, r := range e.rec {
		terms[z] = -r + e.logp[z]
	}
	return model.LogSumExp(terms)
}
