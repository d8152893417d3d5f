package estimator

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/model"
)

// exact names the enumeration "estimator" of NewExact.
const exact = "exact"

// MaxCodes bounds K^N, the number of joint codes of one stochastic layer
// that NewExact enumerates.
const MaxCodes = 4096

// MaxEnumRows bounds the rows that NewExact decodes in one run: the batch
// times the codes of the last stochastic layer. Each row holds an image
// and the activations of every layer (about 3 KB in float32 for the
// default 784-512-256 network, doubled by the backward pass), so 65,536
// rows take a few hundred MB; beyond it enumeration is refused, and a
// caller such as eval.GradVar falls back on a sampled reference.
const MaxEnumRows = 1 << 16

// Codes returns K^N, the number of joint codes of one stochastic layer, or
// 0 when it exceeds MaxCodes.
func Codes(cfg model.Config) int {
	n := 1
	for range cfg.N {
		n *= cfg.K
		if n > MaxCodes {
			return 0
		}
	}
	return n
}

// Enumerable reports whether NewExact accepts cfg at the given batch size:
// K^N <= MaxCodes and batch K^N <= MaxEnumRows.
func Enumerable(cfg model.Config, batch int) bool {
	m := Codes(cfg)
	return m > 0 && batch*m <= MaxEnumRows
}

// NewExact returns an Estimator whose every estimate is the exact gradient
// of the minibatch loss, computed by enumerating every joint code of every
// stochastic layer. For the VAE, with q the posterior of the logits l,
//
//	E_q[f] = sum_z q(z|x) f(z),
//
// and for the SBN, whose layers are p(h1|x_upper) and p(h2|h1),
//
//	E[f] = sum_h1 sum_h2 p(h1|x_upper) p(h2|h1) f(h2),
//
// both finite sums that gorgonia differentiates like any other loss: the
// gradient reaches the decoder through f and the layers' logits through
// the probabilities, the score identity made exact. Added to the VAE's
// analytic KL, it is the reference that the tests and the
// gradient-variance report hold the estimators against, on models small
// enough (see Enumerable; it refuses others, naming the limit). It ignores
// the temperature and draws no noise.
func NewExact(cfg model.Config, p *model.Params, batch int) (*Estimator, error) {
	m := Codes(cfg)
	if m == 0 {
		return nil, fmt.Errorf("estimator: %d^%d codes per stochastic layer: exact enumeration handles at most %d (estimator.MaxCodes)", cfg.K, cfg.N, MaxCodes)
	}
	if batch*m > MaxEnumRows {
		return nil, fmt.Errorf("estimator: a batch of %d images times %d codes is %d decoded rows: exact enumeration handles at most %d (estimator.MaxEnumRows); use a smaller batch", batch, m, batch*m, MaxEnumRows)
	}
	e, err := newEstimator(exact, cfg, p, Options{Batch: batch})
	if err != nil {
		return nil, err
	}
	e.noise = nil
	if err := e.buildExact(m); err != nil {
		return nil, fmt.Errorf("estimator: build the enumeration: %w", err)
	}
	e.vm = G.NewTapeMachine(e.net.Graph())
	return e, nil
}

// enumeration holds the inputs of the exact graph that Estimate refills:
// every image once per code of the last layer.
type enumeration struct {
	codes  int           // K^N
	target *tensor.Dense // (B*codes, Out())
}

// buildExact composes the enumeration graph of NewExact.
func (e *Estimator) buildExact(m int) error {
	g, dt, k, b := e.net.Graph(), e.net.Dtype(), e.cfg.K, e.opt.Batch
	codes := allCodes(e.cfg, dt) // (m, N*K)
	in := G.NewMatrix(g, dt, G.WithName("x"), G.WithValue(e.in))
	w := G.NewVector(g, dt, G.WithName("row-weight"), G.WithValue(e.w))
	e.enum = &enumeration{codes: m, target: tensor.New(tensor.WithShape(b*m, e.cfg.Out()), tensor.Of(dt))}
	tiled := tensor.New(tensor.WithShape(b*m, e.cfg.Latent()), tensor.Of(dt))
	for r := range b {
		copyRows(tiled, r*m, codes, 0, m)
	}
	codeNode := G.NewMatrix(g, dt, G.WithName("codes"), G.WithValue(codes))
	tiledNode := G.NewMatrix(g, dt, G.WithName("codes-tiled"), G.WithValue(tiled))
	targetNode := G.NewMatrix(g, dt, G.WithName("target-tiled"), G.WithValue(e.enum.target))

	l1, err := e.net.Logits(0, in, false) // (B, N*K)
	if err != nil {
		return err
	}
	logq := G.Nodes{}
	lq1, err := enumLogProb(l1, codeNode, k) // (B, m): log q(z_c | x_b)
	if err != nil {
		return err
	}
	logq = append(logq, lq1)
	if e.cfg.SBN() {
		l2, err := e.net.Logits(1, codeNode, false) // (m, N*K): the logits of h2 given each h1
		if err != nil {
			return err
		}
		lq2, err := enumLogProb(l2, codeNode, k) // (m, m): log p(h2 = c2 | h1 = c1)
		if err != nil {
			return err
		}
		logq = append(logq, lq2)
	}
	f, err := e.net.NegLogLik(tiledNode, targetNode, false, false) // (B*m): f at every code
	if err != nil {
		return err
	}
	rec, err := expectation(logq, f) // (B): E[f] per image
	if err != nil {
		return err
	}
	e.pass = &model.Pass{Logits: G.Nodes{l1}, Rec: rec}
	terms := G.Nodes{rec}
	if !e.cfg.SBN() {
		if e.pass.KL, err = e.net.KL(l1); err != nil {
			return err
		}
		terms = append(terms, e.pass.KL)
	}
	if e.elbo, err = model.WeightedSum(w, terms...); err != nil {
		return err
	}
	var wrt G.Nodes
	for i, n := range e.net.Params() {
		if e.cfg.Part(i) != model.PartBaseline {
			wrt = append(wrt, n)
		}
	}
	e.nGrads = len(wrt)
	e.grads, err = G.Grad(e.elbo, wrt...)
	return err
}

// fill copies every image's target pixels once per code into the tiled
// target of the enumeration.
func (en *enumeration) fill(target *tensor.Dense) {
	b := target.Shape()[0]
	for r := range b {
		for c := range en.codes {
			copyRows(en.target, r*en.codes+c, target, r, 1)
		}
	}
}

// allCodes returns every joint code of one stochastic layer of cfg, one
// per row, in the categorical view: row c has variable v in class
// (c / K^v) mod K.
func allCodes(cfg model.Config, dt tensor.Dtype) *tensor.Dense {
	m := Codes(cfg)
	t := tensor.New(tensor.WithShape(m, cfg.Latent()), tensor.Of(dt))
	for c := range m {
		for v, code := 0, c; v < cfg.N; v, code = v+1, code/cfg.K {
			j := c*cfg.Latent() + v*cfg.K + code%cfg.K
			switch d := t.Data().(type) {
			case []float32:
				d[j] = 1
			case []float64:
				d[j] = 1
			}
		}
	}
	return t
}

// copyRows copies n rows of src from row si into dst from row di (two
// tensors of one dtype and width).
func copyRows(dst *tensor.Dense, di int, src *tensor.Dense, si, n int) {
	cols := src.Shape()[1]
	switch d := dst.Data().(type) {
	case []float32:
		copy(d[di*cols:(di+n)*cols], src.Float32s()[si*cols:(si+n)*cols])
	case []float64:
		copy(d[di*cols:(di+n)*cols], src.Float64s()[si*cols:(si+n)*cols])
	}
}
