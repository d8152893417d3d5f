package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Encoder is the inference half of the VAE on its own: pixels in, the
// logits of q(z|x) and the analytic KL(q(z|x) || p(z)) out. With gradients
// it differentiates the surrogate
//
//	S = sum_b w_b KL_b + sum_bj logits_bj G_bj
//
// where G (LogitGrad) is a gradient dL/dlogits computed outside the graph by
// a gradient estimator: the KL keeps its exact gradient and the estimate
// for the expected reconstruction term is back-propagated through the
// encoder.
type Encoder struct {
	g                *G.ExprGraph
	vm               G.VM
	logits, kl, surr *G.Node
	grads            G.Nodes
	weight           *tensor.Dense

	// X holds the (B, Input) binary pixels.
	X *tensor.Dense
	// LogitGrad holds the (B, N*K) gradient G injected at the logits, in the
	// categorical view; it already carries the row weights.
	LogitGrad *tensor.Dense
}

// NewEncoder builds the encoder of cfg over the weights p (shared, not
// copied) for batches of opt.Batch rows, with the gradient of S for the
// encoder's parameters and a learned prior's logits when opt.Grad is set.
// The other fields of opt do not apply.
func NewEncoder(cfg Config, p *Params, opt Options) (*Encoder, error) {
	dt, err := checkGraph(cfg, p, opt)
	if err != nil {
		return nil, err
	}
	e := &Encoder{
		g:         G.NewGraph(),
		X:         newLike(dt, opt.Batch, cfg.Input),
		LogitGrad: newLike(dt, opt.Batch, cfg.Latent()),
		weight:    newLike(dt, opt.Batch),
	}
	if err := setRowWeights(e.weight, opt.Batch); err != nil {
		return nil, err
	}
	if err := e.build(cfg, p, dt, opt.Grad); err != nil {
		return nil, fmt.Errorf("model: build encoder: %w", err)
	}
	e.vm = G.NewTapeMachine(e.g)
	return e, nil
}

func (e *Encoder) build(cfg Config, p *Params, dt tensor.Dtype, grad bool) error {
	nodes := paramNodes(e.g, p.slice(0, cfg.modelTensors()))
	x := G.NewMatrix(e.g, dt, G.WithName("x"), G.WithValue(e.X))
	var err error
	if e.logits, err = encode(cfg, x, nodes[:cfg.tensorsPerNet()]); err != nil {
		return err
	}
	if e.kl, err = analyticKL(cfg, e.logits, nodes); err != nil {
		return err
	}
	if !grad {
		return nil
	}
	weight := G.NewVector(e.g, dt, G.WithName("row-weight"), G.WithValue(e.weight))
	zero := G.NewVector(e.g, dt, G.WithName("no-rec"), G.WithValue(newLike(dt, e.weight.Len())))
	kl, err := G.ApplyOp(lossOp{}, zero, e.kl, weight)
	if err != nil {
		return err
	}
	lg := G.NewMatrix(e.g, dt, G.WithName("logit-grad"), G.WithValue(e.LogitGrad))
	injected, err := G.ApplyOp(injectOp{}, e.logits, lg)
	if err != nil {
		return err
	}
	if e.surr, err = G.Add(kl, injected); err != nil {
		return err
	}
	params := append(nodes[:cfg.tensorsPerNet():cfg.tensorsPerNet()], nodes[2*cfg.tensorsPerNet():]...) // encoder, prior
	e.grads, err = G.Grad(e.surr, params...)
	return err
}

// SetRows sets the weight of every row's KL in S: 1/n for the first n rows,
// 0 for the rest.
func (e *Encoder) SetRows(n int) error { return setRowWeights(e.weight, n) }

// Weights returns the (B) row weights w_b of the KL in S, for callers that
// need other weights than SetRows gives; write into it before Run.
func (e *Encoder) Weights() *tensor.Dense { return e.weight }

// Run encodes the current X (and, with gradients, differentiates S for the
// current LogitGrad).
func (e *Encoder) Run() error {
	defer e.vm.Reset()
	return e.vm.RunAll()
}

// Logits returns the (B, N*K) logits of q(z|x) in the categorical view,
// row-major.
func (e *Encoder) Logits() []float64 { return e.LogitsInto(nil) }

// LogitsInto is Logits writing into dst when it has the capacity.
func (e *Encoder) LogitsInto(dst []float64) []float64 { return Float64sInto(dst, e.logits.Value()) }

// KL returns KL(q(z|x) || p(z)) of every row.
func (e *Encoder) KL() []float64 { return Float64s(e.kl.Value()) }

// Grads returns the gradient of S for the encoder's parameters and then a
// learned prior's logits, in the order of Params.Tensors; nil without
// Options.Grad. The tensors belong to the graph and change with the next
// Run.
func (e *Encoder) Grads() []*tensor.Dense {
	if e.grads == nil {
		return nil
	}
	return denseValues(e.grads)
}
