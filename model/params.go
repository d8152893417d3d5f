package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Params holds the weights of a network outside any graph, so that a
// training graph and an evaluation graph can share them: an optimiser
// updates the backing slices in place and every graph sees the change.
type Params struct {
	// Names are unique, in the order of Tensors (see Config.Shapes): for
	// the VAE "enc0.w", "enc0.b", ..., the decoder's "dec0.w", ..., then
	// "prior.logits" for a learned prior; for the SBN "h1.w", ...,
	// "xl.b"; last "base0.w", ... for the NVIL baseline network.
	Names []string
	// Tensors are (out, in) weight matrices, as in PyTorch, and (1, out)
	// biases: a layer maps h to h W^T + b; a learned prior's logits are
	// (1, Config.Code()).
	Tensors []*tensor.Dense
}

// NewParams initialises the weights of cfg from rng the way PyTorch's
// nn.Linear does, so that runs compare with the reference peer: every weight
// and bias of a layer with fan-in n is drawn from U(-1/sqrt(n), 1/sqrt(n)).
// A learned prior's logits start at zero (uniform). Weights are drawn in
// (in, out) row-major order and stored transposed, so a seed gives the
// same model as before the (out, in) layout was adopted. dt is
// tensor.Float32 for training or tensor.Float64 for gradient checks.
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
		p.Names = append(p.Names, spec.name)
		p.Tensors = append(p.Tensors, d)
		if spec.fanIn == 0 { // the prior's logits: uniform to start
			continue
		}
		bound := 1 / math.Sqrt(float64(spec.fanIn))
		rows, cols := spec.shape[0], spec.shape[1]
		vals := make([]float64, rows*cols)
		for j := 0; j < cols; j++ { // (out, in) filled column by column
			for i := 0; i < rows; i++ {
				vals[i*cols+j] = bound * (2*rng.Float64() - 1)
			}
		}
		switch s := d.Data().(type) {
		case []float32:
			for i, v := range vals {
				s[i] = float32(v)
			}
		case []float64:
			copy(s, vals)
		}
	}
	return p, nil
}

// Index returns the position of the parameter tensor called name, or -1.
func (p *Params) Index(name string) int {
	for i, n := range p.Names {
		if n == name {
			return i
		}
	}
	return -1
}

// PriorLogits returns the (N*K) logits of the VAE's prior p(z) in the
// categorical view: the learned ones, or zeros (uniform) for the uniform
// prior; for Bernoulli latents each logit l becomes the pair (l, 0).
func (p *Params) PriorLogits(cfg Config) []float64 {
	out := make([]float64, cfg.Latent())
	i := p.Index("prior.logits")
	if i < 0 {
		return out
	}
	var l []float64
	switch d := p.Tensors[i].Data().(type) {
	case []float32:
		for _, v := range d {
			l = append(l, float64(v))
		}
	case []float64:
		l = append(l, d...)
	}
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

// WithBaseline returns p with the NVIL baseline network's tensors of cfg
// (cfg.Baseline > 0) appended: p's own tensors are shared, the baseline's
// are drawn from rng. A model trained without NVIL is measured with it
// this way (see train.FitBaseline).
func (p *Params) WithBaseline(cfg Config, rng *rand.Rand) (*Params, error) {
	if cfg.Baseline == 0 {
		return nil, fmt.Errorf("model: the configuration has no baseline network")
	}
	fresh, err := NewParams(cfg, p.Tensors[0].Dtype(), rng)
	if err != nil {
		return nil, err
	}
	out := &Params{Names: fresh.Names, Tensors: fresh.Tensors}
	copy(out.Tensors, p.Tensors[:min(len(p.Tensors), len(fresh.Tensors)-BaselineTensors)])
	return out, out.Check(cfg, p.Tensors[0].Dtype())
}

// BaselineTensors is the number of parameter tensors of the NVIL baseline
// network (two layers, a weight and a bias each); they come last in Params.
const BaselineTensors = 4
