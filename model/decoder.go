package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Decoder is the generative half of the VAE on its own: latent codes in,
// Bernoulli pixel logits and -log p(x|z) out. It draws images from the
// prior, where no encoder is involved, and scores many latent samples of
// one image for importance-weighted bounds.
type Decoder struct {
	g            *G.ExprGraph
	vm           G.VM
	xlogits, rec *G.Node

	// Z holds the (B, N*K) latent codes, one-hot per variable for samples of
	// the discrete model.
	Z *tensor.Dense
	// X holds the (B, Input) binary pixels that Rec scores (zero unless set).
	X *tensor.Dense
}

// NewDecoder builds the decoder of cfg over the weights p (shared, not
// copied) for batches of the given size.
func NewDecoder(cfg Config, p *Params, batch int) (*Decoder, error) {
	if batch < 1 {
		return nil, fmt.Errorf("model: batch size %d is not positive", batch)
	}
	if len(p.Tensors) == 0 {
		return nil, fmt.Errorf("model: no parameters")
	}
	dt := p.Tensors[0].Dtype()
	if err := p.Check(cfg, dt); err != nil {
		return nil, err
	}
	d := &Decoder{g: G.NewGraph(), Z: newLike(dt, batch, cfg.Latent()), X: newLike(dt, batch, cfg.Input)}
	z := G.NewMatrix(d.g, dt, G.WithName("z"), G.WithValue(d.Z))
	x := G.NewMatrix(d.g, dt, G.WithName("x"), G.WithValue(d.X))
	dec, _ := p.layers(cfg)
	var err error
	if d.xlogits, err = mlp("dec", z, paramNodes(d.g, dec), false); err != nil {
		return nil, fmt.Errorf("model: build decoder: %w", err)
	}
	if d.rec, err = G.ApplyOp(newNLLOp(), d.xlogits, x); err != nil { // (B)
		return nil, fmt.Errorf("model: build decoder: %w", err)
	}
	d.vm = G.NewTapeMachine(d.g)
	return d, nil
}

// Run decodes the current Z.
func (d *Decoder) Run() error {
	defer d.vm.Reset()
	return d.vm.RunAll()
}

// PixelLogits returns the (B, Input) Bernoulli logits of the last run,
// row-major; sigmoid of a logit is the probability that the pixel is on.
func (d *Decoder) PixelLogits() []float64 { return float64s(d.xlogits.Value()) }

// Rec returns -log p(x|z) of every row of the last run, for the pixels in
// X and the codes in Z.
func (d *Decoder) Rec() []float64 { return float64s(d.rec.Value()) }
