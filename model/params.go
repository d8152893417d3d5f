package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Params holds the weights of a VAE outside any graph, so that a training
// graph and an evaluation graph can share them: an optimiser updates the
// backing slices in place and every graph sees the change.
type Params struct {
	// Names are unique, in the order of Tensors: "enc0.w", "enc0.b", ...,
	// then the decoder's "dec0.w", ..., then "prior.logits" for a learned
	// prior, then "base0.w", ... for the NVIL baseline network.
	Names []string
	// Tensors are (out, in) weight matrices, as in PyTorch, and (1, out)
	// biases: layer l maps h to h W^T + b; a learned prior's logits are
	// (1, Config.Code()).
	Tensors []*tensor.Dense
}

// NewParams initialises the weights of cfg from rng the way PyTorch's
// nn.Linear does, so that runs compare with the reference peer: every weight
// and bias of a layer with fan-in n is drawn from U(-1/sqrt(n), 1/sqrt(n)).
// A learned prior's logits start at zero (uniform). Weights are drawn in
// (in, out) row-major order and stored transposed, so a
// seed gives the same model as before the (out, in) layout was adopted.
// dt is tensor.Float32 for training or tensor.Float64 for gradient checks.
func NewParams(cfg Config, dt tensor.Dtype, rng *rand.Rand) (*Params, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("model: unsupported dtype %v", dt)
	}
	p := &Params{}
	for _, spec := range cfg.paramSpecs() {
		d := tensor.New(tensor.WithShape(spec.shape...), tensor.Of(dt))
		if spec.fanIn == 0 { // the prior's logits: uniform to start
			p.Names = append(p.Names, spec.name)
			p.Tensors = append(p.Tensors, d)
			continue
		}
		bound := 1 / math.Sqrt(float64(spec.fanIn))
		rows, cols := spec.shape[0], spec.shape[1]
		for j := 0; j < cols; j++ { // (out, in) filled column by column
			for i := 0; i < rows; i++ {
				v := bound * (2*rng.Float64() - 1)
				switch s := d.Data().(type) {
				case []float32:
					s[i*cols+j] = float32(v)
				case []float64:
					s[i*cols+j] = v
				}
			}
		}
		p.Names = append(p.Names, spec.name)
		p.Tensors = append(p.Tensors, d)
	}
	return p, nil
}

// layers returns the decoder's (weight, bias) pairs and the prior's logits
// (nil for the uniform prior); the encoder's pairs come first in p.
func (p *Params) layers(cfg Config) (dec *Params, prior *tensor.Dense) {
	n := cfg.tensorsPerNet()
	dec = p.slice(n, 2*n)
	if cfg.Learned() {
		prior = p.Tensors[2*n]
	}
	return dec, prior
}

// Parts of a model's parameters, for Params.Part.
const (
	PartEncoder  = "encoder"  // the encoder's layers
	PartDecoder  = "decoder"  // the decoder's layers
	PartPrior    = "prior"    // a learned prior's logits
	PartBaseline = "baseline" // the NVIL baseline network's layers
)

// Part returns the name of the part of the model that parameter i belongs
// to: PartEncoder, PartDecoder, PartPrior or PartBaseline. Gradient
// estimators differ in how they treat each part.
func (c Config) Part(i int) string {
	n := c.tensorsPerNet()
	switch {
	case i < n:
		return PartEncoder
	case i < 2*n:
		return PartDecoder
	case c.Learned() && i == 2*n:
		return PartPrior
	}
	return PartBaseline
}

// slice returns the tensors i to j of p, sharing their storage.
func (p *Params) slice(i, j int) *Params {
	return &Params{Names: p.Names[i:j], Tensors: p.Tensors[i:j]}
}

// baseline returns the NVIL baseline network's (weight, bias) pairs, empty
// when the model has none.
func (p *Params) baseline(cfg Config) *Params {
	return p.slice(cfg.modelTensors(), len(p.Tensors))
}

// PriorLogits returns the (N*K) logits of the prior p(z) in the categorical
// view: the learned ones, or zeros (uniform) for the uniform prior; for
// Bernoulli latents each logit l becomes the pair (l, 0).
func (p *Params) PriorLogits(cfg Config) []float64 {
	out := make([]float64, cfg.Latent())
	_, prior := p.layers(cfg)
	if prior == nil {
		return out
	}
	l := Float64s(prior)
	if !cfg.Bernoulli() {
		return l
	}
	for i, v := range l {
		out[2*i] = v
	}
	return out
}

// Len returns the total number of scalar parameters.
func (p *Params) Len() int {
	n := 0
	for _, t := range p.Tensors {
		n += t.Len()
	}
	return n
}

// Check reports whether p has exactly the tensors, shapes and dtype that cfg
// needs, naming the first difference; use it before building a graph from
// weights read from a file.
func (p *Params) Check(cfg Config, dt tensor.Dtype) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	specs := cfg.paramSpecs()
	if len(p.Names) != len(specs) || len(p.Tensors) != len(p.Names) {
		return fmt.Errorf("model: %d parameter tensors, the architecture needs %d", len(p.Tensors), len(specs))
	}
	for i, spec := range specs {
		if p.Names[i] != spec.name {
			return fmt.Errorf("model: parameter %d is %q, want %q", i, p.Names[i], spec.name)
		}
		if !p.Tensors[i].Shape().Eq(tensor.Shape(spec.shape)) {
			return fmt.Errorf("model: parameter %s has shape %v, want %v", spec.name, p.Tensors[i].Shape(), tensor.Shape(spec.shape))
		}
		if p.Tensors[i].Dtype() != dt {
			return fmt.Errorf("model: parameter %s has dtype %v, want %v", spec.name, p.Tensors[i].Dtype(), dt)
		}
	}
	return nil
}
