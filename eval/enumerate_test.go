package eval

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/data"
	"gsvae/gumbel"
	"gsvae/internal/op"
	"gsvae/model"
)

// tinyCfg has N = 2 variables of K = 3 classes: 9 latent states, few
// enough to compute every expectation exactly.
var tinyCfg = model.Config{N: 2, K: 3, Hidden: []int{8, 8}, Input: model.Pixels}

// tinySBN is the two-layer belief network of the same size: 9 states of
// h1 and 9 of h2, 81 joint states.
var tinySBN = model.Config{Task: model.TaskSBN, N: 2, K: 3, Hidden: []int{}, Input: model.Pixels}

// tinyModel returns weights for tinyCfg whose encoder's last layer is scaled
// so q is far from uniform, and whose decoder's first layer is scaled so
// rec depends strongly on z: then sampling from the wrong distribution, or
// weighting samples wrongly, shows.
func tinyModel(t *testing.T) *model.Params {
	t.Helper()
	return tinyModelOf(t, tinyCfg)
}

// tinyModelOf is tinyModel for a tinyCfg variant or tinySBN; a learned
// prior gets random logits. The scaled tensors are the VAE's enc2.w (the
// logits' layer) by 20 and dec0.w (the codes' layer) by 30, or the SBN's
// h1.w by 5, h2.w by 3 and xl.w by 5.
func tinyModelOf(t *testing.T, cfg model.Config) *model.Params {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	p, err := model.NewParams(cfg, tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Learned() {
		prior := p.Tensors[p.Index("prior.logits")].Float32s()
		for i := range prior {
			prior[i] = float32(2 * rng.NormFloat64())
		}
	}
	scale := map[string]float32{"enc2.w": 20, "dec0.w": 30}
	if cfg.SBN() {
		scale = map[string]float32{"h1.w": 5, "h2.w": 3, "xl.w": 5}
	}
	for name, by := range scale {
		w := p.Tensors[p.Index(name)].Float32s()
		for i := range w {
			w[i] *= by
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

// repeated returns a split of n copies of the first image of s.
func repeated(s *data.Split, n int) *data.Split {
	r := &data.Split{Name: "repeated", N: n}
	for range n {
		r.Binary = append(r.Binary, s.Binary[:data.Pixels]...)
		r.Intensity = append(r.Intensity, s.Intensity[:data.Pixels]...)
	}
	return r
}

// exact holds, for one image, every latent state's posterior probability
// q(z|x), prior log-probability log p(z) and reconstruction cost
// rec(z) = -log p(x|z), and the analytic KL. For the SBN, q is the
// probability p(h1, h2 | x_upper) = p(h1 | x_upper) p(h2 | h1) of each
// joint state (h1 major), logp its logarithm (the states are drawn from
// the model itself, so the importance weight p(x|h) p(h) / q(h) is
// p(x_lower | h)) and rec(h) = -log p(x_lower | h2); the KL is zero.
type exact struct {
	q, logp, rec []float64
	kl           float64
}

// enumerate computes exact for image img of the tiny model.
func enumerate(t *testing.T, p *model.Params, img []uint8) exact {
	t.Helper()
	return enumerateOf(t, tinyCfg, p, img)
}

// codes returns every joint state of one stochastic layer of cfg in the
// categorical view, K^N rows of N*K: row c has variable v in class
// (c / K^v) mod K.
func codes(cfg model.Config) (rows int, z []float32) {
	rows = 1
	for range cfg.N {
		rows *= cfg.K
	}
	nk := cfg.Latent()
	z = make([]float32, rows*nk)
	for c := range rows {
		for v, r := 0, c; v < cfg.N; v, r = v+1, r/cfg.K {
			z[c*nk+v*cfg.K+r%cfg.K] = 1
		}
	}
	return rows, z
}

// enumerateOf computes exact for image img of a model of cfg (a tinyCfg
// variant or tinySBN): the network runs once, forward, on the image and
// on every state (model.Net's Logits, NegLogLik and KL), and the
// probabilities are computed here from the logits.
func enumerateOf(t *testing.T, cfg model.Config, p *model.Params, img []uint8) exact {
	t.Helper()
	m, z := codes(cfg)
	nk := cfg.Latent()
	x := make([]float32, cfg.Input)
	for i, v := range img[:cfg.Input] {
		x[i] = float32(v)
	}
	in, target := make([]float32, cfg.In()), make([]float32, cfg.Out())
	model.Split(cfg, x, in, target, 1)
	targets := make([]float32, 0, m*cfg.Out()) // the target once per state
	for range m {
		targets = append(targets, target...)
	}
	g := G.NewGraph()
	net, err := model.NewNet(g, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	matrix := func(name string, rows, cols int, v []float32) *G.Node {
		return G.NewMatrix(g, tensor.Float32, G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(v))))
	}
	zNode := matrix("z", m, nk, z)
	l1, err := net.Logits(0, matrix("x", 1, cfg.In(), in), false) // (1, N*K)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := net.NegLogLik(zNode, matrix("target", m, cfg.Out(), targets), false, false) // (m)
	if err != nil {
		t.Fatal(err)
	}
	var l2, kl *G.Node
	if cfg.SBN() {
		l2, err = net.Logits(1, zNode, false) // (m, N*K): h2's logits given each h1
	} else {
		kl, err = net.KL(l1) // (1)
	}
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// logProb returns log q(state c) for c = 0..m-1 under the logits l.
	logProb := func(l []float64) []float64 {
		lq := make([]float64, nk)
		gumbel.LogSoftmaxGroups(lq, l, cfg.K)
		out := make([]float64, m)
		for c := range m {
			for j := range nk {
				out[c] += float64(z[c*nk+j]) * lq[j]
			}
		}
		return out
	}
	logq1 := logProb(op.Float64s(nil, l1.Value()))
	recs := op.Float64s(nil, rec.Value())
	var e exact
	if !cfg.SBN() {
		logPrior := logProb(p.PriorLogits(cfg))
		e.kl = op.Float64s(nil, kl.Value())[0]
		for c := range m {
			e.q = append(e.q, math.Exp(logq1[c]))
			e.logp = append(e.logp, logPrior[c])
			e.rec = append(e.rec, recs[c])
		}
		return e
	}
	l2s := op.Float64s(nil, l2.Value())
	for c1 := range m {
		logq2 := logProb(l2s[c1*nk : (c1+1)*nk])
		for c2 := range m {
			e.q = append(e.q, math.Exp(logq1[c1]+logq2[c2]))
			e.logp = append(e.logp, logq1[c1]+logq2[c2])
			e.rec = append(e.rec, recs[c2])
		}
	}
	return e
}

// logPX returns log p(x) = log sum_z p(x|z) p(z) (for the SBN, log
// p(x_lower | x_upper) = log sum_h p(h | x_upper) p(x_lower | h)).
func (e exact) logPX() float64 {
	terms := make([]float64, len(e.rec))
	for z, r := range e.rec {
		terms[z] = -r + e.logp[z]
	}
	return gumbel.LogSumExp(terms)
}

// moments returns the mean and variance of rec under q.
func (e exact) moments() (mean, variance float64) {
	var second float64
	for z, q := range e.q {
		mean += q * e.rec[z]
		second += q * e.rec[z] * e.rec[z]
	}
	return mean, second - mean*mean
}
