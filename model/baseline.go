package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Baseline is the input-dependent baseline b(x) of NVIL (Mnih & Gregor
// 2014, Sec. 3.3): a one-hidden-layer ReLU network from the pixels to one
// number per row, trained to predict the learning signal. With gradients
// it differentiates sum_b b(x_b) G_b for an injected OutGrad G (for the
// squared error 1/2 sum_b w_b (b(x_b) - s_b)^2, G_b = w_b (b(x_b) - s_b)).
type Baseline struct {
	g     *G.ExprGraph
	vm    G.VM
	out   *G.Node
	grads G.Nodes

	// X holds the (B, Input) binary pixels.
	X *tensor.Dense
	// OutGrad holds the (B, 1) gradient injected at the output.
	OutGrad *tensor.Dense
}

// NewBaseline builds the baseline network of cfg (cfg.Baseline > 0) over
// the weights p for batches of opt.Batch rows, with the gradients of its
// parameters when opt.Grad is set. The other fields of opt do not apply.
func NewBaseline(cfg Config, p *Params, opt Options) (*Baseline, error) {
	if cfg.Baseline == 0 {
		return nil, fmt.Errorf("model: the configuration has no baseline network")
	}
	dt, err := checkGraph(cfg, p, opt)
	if err != nil {
		return nil, err
	}
	b := &Baseline{
		g:       G.NewGraph(),
		X:       newLike(dt, opt.Batch, cfg.Input),
		OutGrad: newLike(dt, opt.Batch, 1),
	}
	if err := b.build(p.baseline(cfg), dt, opt.Grad); err != nil {
		return nil, fmt.Errorf("model: build baseline: %w", err)
	}
	b.vm = G.NewTapeMachine(b.g)
	return b, nil
}

func (b *Baseline) build(p *Params, dt tensor.Dtype, grad bool) error {
	nodes := paramNodes(b.g, p)
	x := G.NewMatrix(b.g, dt, G.WithName("x"), G.WithValue(b.X))
	var err error
	if b.out, err = mlp("base", x, nodes, false); err != nil { // (B, 1)
		return err
	}
	if !grad {
		return nil
	}
	og := G.NewMatrix(b.g, dt, G.WithName("out-grad"), G.WithValue(b.OutGrad))
	s, err := G.ApplyOp(injectOp{}, b.out, og)
	if err != nil {
		return err
	}
	b.grads, err = G.Grad(s, nodes...)
	return err
}

// Run computes b(x) for the current X (and its gradients for the current
// OutGrad).
func (b *Baseline) Run() error {
	defer b.vm.Reset()
	return b.vm.RunAll()
}

// Out returns b(x) of every row of the last run.
func (b *Baseline) Out() []float64 { return Float64s(b.out.Value()) }

// Grads returns the gradients of the baseline network's parameters, in the
// order of Params.Tensors; nil without Options.Grad.
func (b *Baseline) Grads() []*tensor.Dense {
	if b.grads == nil {
		return nil
	}
	return denseValues(b.grads)
}
