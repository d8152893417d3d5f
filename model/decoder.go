package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Decoder is the generative half of the VAE on its own: latent codes in,
// Bernoulli pixel logits and -log p(x|z) out. It draws images from the
// prior, where no encoder is involved, scores many latent samples of one
// image for importance-weighted bounds, and, with gradients, gives the
// gradient estimators f(z) = -log p(x|z) and its derivatives at any code z.
type Decoder struct {
	g            *G.ExprGraph
	vm           G.VM
	xlogits, rec *G.Node
	loss         *G.Node
	grads        G.Nodes // the decoder's parameters, then z
	weight       *tensor.Dense

	// Z holds the (B, N*K) latent codes in the categorical view (see
	// Config.Bernoulli), one-hot per variable for samples of the discrete
	// model.
	Z *tensor.Dense
	// X holds the (B, Input) binary pixels that Rec scores (zero unless set).
	X *tensor.Dense
}

// NewDecoder builds the decoder of cfg over the weights p (shared, not
// copied) for batches of opt.Batch rows. With opt.Grad it also computes the
// gradient of sum_b w_b Rec_b (see SetRows) with respect to the decoder's
// parameters and to Z. The other fields of opt do not apply.
func NewDecoder(cfg Config, p *Params, opt Options) (*Decoder, error) {
	dt, err := checkGraph(cfg, p, opt)
	if err != nil {
		return nil, err
	}
	d := &Decoder{
		g:      G.NewGraph(),
		Z:      newLike(dt, opt.Batch, cfg.Latent()),
		X:      newLike(dt, opt.Batch, cfg.Input),
		weight: newLike(dt, opt.Batch),
	}
	if err := setRowWeights(d.weight, opt.Batch); err != nil {
		return nil, err
	}
	if err := d.build(cfg, p, dt, opt.Grad); err != nil {
		return nil, fmt.Errorf("model: build decoder: %w", err)
	}
	d.vm = G.NewTapeMachine(d.g)
	return d, nil
}

func (d *Decoder) build(cfg Config, p *Params, dt tensor.Dtype, grad bool) error {
	z := G.NewMatrix(d.g, dt, G.WithName("z"), G.WithValue(d.Z))
	x := G.NewMatrix(d.g, dt, G.WithName("x"), G.WithValue(d.X))
	dec, _ := p.layers(cfg)
	nodes := paramNodes(d.g, dec)
	var err error
	if d.xlogits, err = decode(cfg, z, nodes, grad); err != nil {
		return err
	}
	if d.rec, err = G.ApplyOp(newNLLOp(), d.xlogits, x); err != nil { // (B)
		return err
	}
	if !grad {
		return nil
	}
	weight := G.NewVector(d.g, dt, G.WithName("row-weight"), G.WithValue(d.weight))
	zero := G.NewVector(d.g, dt, G.WithName("no-kl"), G.WithValue(newLike(dt, d.weight.Len())))
	if d.loss, err = G.ApplyOp(lossOp{}, d.rec, zero, weight); err != nil {
		return err
	}
	d.grads, err = G.Grad(d.loss, append(nodes, z)...)
	return err
}

// SetRows sets the weight of every row in the loss whose gradient the
// decoder computes: 1/n for the first n rows, 0 for the rest.
func (d *Decoder) SetRows(n int) error { return setRowWeights(d.weight, n) }

// Weights returns the (B) row weights w_b of the loss sum_b w_b Rec_b, for
// callers that need other weights than SetRows gives; write into it before
// Run.
func (d *Decoder) Weights() *tensor.Dense { return d.weight }

// Run decodes the current Z.
func (d *Decoder) Run() error {
	defer d.vm.Reset()
	return d.vm.RunAll()
}

// PixelLogits returns the (B, Input) Bernoulli logits of the last run,
// row-major; sigmoid of a logit is the probability that the pixel is on.
func (d *Decoder) PixelLogits() []float64 { return Float64s(d.xlogits.Value()) }

// Rec returns -log p(x|z) of every row of the last run, for the pixels in
// X and the codes in Z.
func (d *Decoder) Rec() []float64 { return Float64s(d.rec.Value()) }

// Grads returns the gradient of sum_b w_b Rec_b for every decoder
// parameter, in the order of Params.Tensors; nil without Options.Grad. The
// tensors belong to the graph and change with the next Run.
func (d *Decoder) Grads() []*tensor.Dense {
	if d.grads == nil {
		return nil
	}
	return denseValues(d.grads[:len(d.grads)-1])
}

// ZGrad returns the (B, N*K) gradient of sum_b w_b Rec_b with respect to Z,
// row-major; nil without Options.Grad. For Bernoulli latents the second
// entry of each pair is 0: the decoder reads only the first.
func (d *Decoder) ZGrad() []float64 { return d.ZGradInto(nil) }

// ZGradInto is ZGrad writing into dst when it has the capacity.
func (d *Decoder) ZGradInto(dst []float64) []float64 {
	if d.grads == nil {
		return nil
	}
	return Float64sInto(dst, d.grads[len(d.grads)-1].Value())
}
