package model

import (
	"fmt"
	"math"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Options selects what a Graph computes.
type Options struct {
	// Batch is the number of rows of every run. Fewer real rows are handled
	// by SetRows, which gives the padding rows zero weight in the loss.
	Batch int
	// Hard feeds the decoder the one-hot argmax of the relaxed sample
	// (straight-through Gumbel-Softmax); evaluation with hard samples is the
	// ELBO of the discrete model.
	Hard bool
	// Grad adds the gradient of the loss for every parameter.
	Grad bool
	// RelaxedKL replaces the analytic KL of the discrete variables by the
	// single-sample KL of the relaxed ones against a uniform ExpConcrete
	// prior at temperature PriorTau (see relaxedKLOp), which keeps the
	// relaxed objective a bound (Maddison et al. 2017).
	RelaxedKL bool
	PriorTau  float64
}

// Graph is one compiled VAE computation over a minibatch: encoder, Gumbel-
// Softmax relaxation, decoder and the negative ELBO, with gradients when
// asked. Build it once, then per step refill X and Noise in place, set the
// temperature, and Run.
type Graph struct {
	cfg Config
	opt Options
	g   *G.ExprGraph
	vm  G.VM

	// X holds the (B, Input) binary pixels of the batch.
	X *tensor.Dense
	// Noise holds the (B, N*K) Gumbel noise g of the relaxation; fill it
	// with SampleGumbel.
	Noise *tensor.Dense
	// weight holds the (B) weight of every row in the loss.
	weight *tensor.Dense

	tau, logits, xlogits, rec, kl, loss *G.Node
	grads                               G.Nodes
}

// NewGraph builds and compiles the VAE of cfg over the weights p (shared,
// not copied).
func NewGraph(cfg Config, p *Params, opt Options) (*Graph, error) {
	if opt.RelaxedKL && !(opt.PriorTau > 0) {
		return nil, fmt.Errorf("model: prior temperature %v is not positive", opt.PriorTau)
	}
	if opt.RelaxedKL && cfg.Learned() {
		return nil, fmt.Errorf("model: the relaxed KL supports the uniform prior only")
	}
	dt, err := checkGraph(cfg, p, opt)
	if err != nil {
		return nil, err
	}
	gr := &Graph{
		cfg:    cfg,
		opt:    opt,
		g:      G.NewGraph(),
		X:      newLike(dt, opt.Batch, cfg.Input),
		Noise:  newLike(dt, opt.Batch, cfg.Latent()),
		weight: newLike(dt, opt.Batch),
	}
	if err := gr.SetRows(opt.Batch); err != nil {
		return nil, err
	}
	if err := gr.build(p, dt); err != nil {
		return nil, fmt.Errorf("model: build graph: %w", err)
	}
	gr.vm = G.NewTapeMachine(gr.g)
	return gr, nil
}

func (gr *Graph) build(p *Params, dt tensor.Dtype) error {
	nodes := paramNodes(gr.g, p)
	x := G.NewMatrix(gr.g, dt, G.WithName("x"), G.WithValue(gr.X))
	noise := G.NewMatrix(gr.g, dt, G.WithName("gumbel"), G.WithValue(gr.Noise))
	weight := G.NewVector(gr.g, dt, G.WithName("row-weight"), G.WithValue(gr.weight))
	gr.tau = G.NewScalar(gr.g, dt, G.WithName("tau"))
	if err := gr.SetTau(1); err != nil {
		return err
	}
	nl := gr.cfg.tensorsPerNet() // encoder nodes, then decoder nodes, then the prior's
	var err error
	if gr.logits, err = encode(gr.cfg, x, nodes[:nl]); err != nil { // (B, N*K)
		return err
	}
	y, err := G.ApplyOp(newRelaxOp(gr.cfg.K, gr.opt.Hard), gr.logits, noise, gr.tau) // (B, N*K)
	if err != nil {
		return err
	}
	if gr.xlogits, err = decode(gr.cfg, y, nodes[nl:2*nl], true); err != nil { // (B, Input)
		return err
	}
	if gr.rec, err = G.ApplyOp(newNLLOp(), gr.xlogits, x); err != nil { // (B)
		return err
	}
	if gr.opt.RelaxedKL {
		gr.kl, err = G.ApplyOp(newRelaxedKLOp(gr.cfg.K, gr.opt.PriorTau), gr.logits, noise, gr.tau) // (B)
	} else {
		gr.kl, err = analyticKL(gr.cfg, gr.logits, nodes)
	}
	if err != nil {
		return err
	}
	if gr.loss, err = G.ApplyOp(lossOp{}, gr.rec, gr.kl, weight); err != nil { // scalar
		return err
	}
	if gr.opt.Grad {
		if gr.grads, err = G.Grad(gr.loss, nodes[:gr.cfg.modelTensors()]...); err != nil {
			return err
		}
	}
	return nil
}

// encode builds the encoder: the (B, N*K) logits of q(z|x) in the
// categorical view, from the (B, Input) pixels x and the encoder's
// parameter nodes.
func encode(cfg Config, x *G.Node, enc G.Nodes) (*G.Node, error) {
	logits, err := mlp("enc", x, enc, false) // (B, Code)
	if err != nil || !cfg.Bernoulli() {
		return logits, err
	}
	return G.ApplyOp(newPairsOp(true), logits)
}

// decode builds the decoder: the (B, Input) Bernoulli logits of p(x|z) from
// the (B, N*K) codes y in the categorical view and the decoder's parameter
// nodes. inputGrad says whether y needs a gradient.
func decode(cfg Config, y *G.Node, dec G.Nodes, inputGrad bool) (*G.Node, error) {
	if cfg.Bernoulli() {
		var err error
		if y, err = G.ApplyOp(newPairsOp(false), y); err != nil {
			return nil, err
		}
	}
	return mlp("dec", y, dec, inputGrad)
}

// analyticKL builds the (B) analytic KL(q(z|x) || p(z)) of the logits in
// the categorical view, with the learned prior's logits from nodes (all the
// parameter nodes) when the model has one.
func analyticKL(cfg Config, logits *G.Node, nodes G.Nodes) (*G.Node, error) {
	in := G.Nodes{logits}
	if cfg.Learned() {
		prior := nodes[2*cfg.tensorsPerNet()] // (1, Code)
		if cfg.Bernoulli() {
			var err error
			if prior, err = G.ApplyOp(newPairsOp(true), prior); err != nil {
				return nil, err
			}
		}
		in = append(in, prior)
	}
	return G.ApplyOp(newKLOp(cfg.K, cfg.Learned()), in...)
}

// paramNodes wraps every parameter tensor in a graph node of the same name.
func paramNodes(g *G.ExprGraph, p *Params) G.Nodes {
	nodes := make(G.Nodes, len(p.Tensors))
	for i, t := range p.Tensors {
		nodes[i] = G.NewMatrix(g, t.Dtype(), G.WithName(p.Names[i]), G.WithValue(t))
	}
	return nodes
}

// mlp applies the layers given as (weight, bias) node pairs, with a ReLU
// after every layer but the last: h <- relu(h W^T + b). name tells the
// layers apart; inputGrad says whether h itself needs a gradient.
func mlp(name string, h *G.Node, wb G.Nodes, inputGrad bool) (*G.Node, error) {
	var err error
	for i := 0; i < len(wb); i += 2 {
		op := newLinearOp(fmt.Sprintf("%s%d", name, i/2), i+2 < len(wb), inputGrad || i > 0)
		if h, err = G.ApplyOp(op, h, wb[i], wb[i+1]); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// checkGraph checks what every graph needs: a positive batch size and
// parameters that match cfg. It returns their dtype.
func checkGraph(cfg Config, p *Params, opt Options) (tensor.Dtype, error) {
	if opt.Batch < 1 {
		return tensor.Dtype{}, fmt.Errorf("model: batch size %d is not positive", opt.Batch)
	}
	if len(p.Tensors) == 0 {
		return tensor.Dtype{}, fmt.Errorf("model: no parameters")
	}
	dt := p.Tensors[0].Dtype()
	return dt, p.Check(cfg, dt)
}

// SetTau sets the temperature tau of the relaxation for the next runs.
func (gr *Graph) SetTau(tau float64) error {
	if !(tau > 0) {
		return fmt.Errorf("model: temperature %v is not positive", tau)
	}
	if gr.X.Dtype() == tensor.Float32 {
		return G.Let(gr.tau, float32(tau))
	}
	return G.Let(gr.tau, tau)
}

// SetRows declares that only the first n rows of X hold data, 1 <= n <=
// Batch: the loss is the mean over those rows and the rest get zero weight.
func (gr *Graph) SetRows(n int) error { return setRowWeights(gr.weight, n) }

// setRowWeights writes the row weights of a loss over the first n rows: 1/n
// for those, 0 for the rest.
func setRowWeights(weight *tensor.Dense, n int) error {
	if n < 1 || n > weight.Len() {
		return fmt.Errorf("model: %d rows in a batch of %d", n, weight.Len())
	}
	switch w := weight.Data().(type) {
	case []float32:
		for i := range w {
			w[i] = float32(boolTo(i < n)) / float32(n)
		}
	case []float64:
		for i := range w {
			w[i] = boolTo(i < n) / float64(n)
		}
	}
	return nil
}

func boolTo(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Run computes the graph on the current inputs.
func (gr *Graph) Run() error {
	defer gr.vm.Reset()
	return gr.vm.RunAll()
}

// Loss returns the negative ELBO of the last run, averaged over the real
// rows.
func (gr *Graph) Loss() float64 { return scalarOf(gr.loss.Value()) }

// Rec returns -log p(x|y) of every row of the last run.
func (gr *Graph) Rec() []float64 { return Float64s(gr.rec.Value()) }

// KL returns the KL term of every row of the last run: KL(q(z|x) || p(z))
// with the model's prior, or its relaxed single-sample estimate with
// Options.RelaxedKL.
func (gr *Graph) KL() []float64 { return Float64s(gr.kl.Value()) }

// Logits returns the (B, N*K) posterior logits of the last run, row-major.
func (gr *Graph) Logits() []float64 { return Float64s(gr.logits.Value()) }

// PixelLogits returns the (B, Input) Bernoulli logits of the decoder in the
// last run, row-major.
func (gr *Graph) PixelLogits() []float64 { return Float64s(gr.xlogits.Value()) }

// Grads returns the gradient of the loss for every parameter of the VAE
// (the baseline network's, which the loss does not depend on, excluded), in
// the order of Params.Tensors; nil unless the graph was built with
// Options.Grad. The tensors belong to the graph and change with the next
// Run.
func (gr *Graph) Grads() []*tensor.Dense {
	if gr.grads == nil {
		return nil
	}
	return denseValues(gr.grads)
}

// denseValues returns the tensor values of nodes.
func denseValues(nodes G.Nodes) []*tensor.Dense {
	out := make([]*tensor.Dense, len(nodes))
	for i, n := range nodes {
		out[i] = n.Value().(*tensor.Dense)
	}
	return out
}

// scalarOf converts a float scalar value to float64 (NaN if it is not one).
func scalarOf(v G.Value) float64 {
	f, err := scalarValue(v)
	if err != nil {
		return math.NaN()
	}
	return f
}

// Float64s copies a float32 or float64 tensor value into a new []float64
// (nil for any other value).
func Float64s(v G.Value) []float64 { return Float64sInto(nil, v) }

// Float64sInto is Float64s writing into dst, which it returns, when dst
// has the capacity, so that a loop of runs allocates nothing.
func Float64sInto(dst []float64, v G.Value) []float64 {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil
	}
	switch d.Dtype() {
	case tensor.Float32:
		s := d.Float32s()
		dst = slices.Grow(dst[:0], len(s))[:len(s)]
		for i, x := range s {
			dst[i] = float64(x)
		}
		return dst
	case tensor.Float64:
		return append(dst[:0], d.Float64s()...)
	}
	return nil
}
