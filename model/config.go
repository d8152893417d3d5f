package model

import (
	"fmt"
)

// Pixels is the length of one binarized MNIST image, 28*28.
const Pixels = 784

// Config describes the architecture of the VAE. Its zero value is not
// usable; start from DefaultConfig.
type Config struct {
	// N is the number of categorical latent variables.
	N int `json:"n"`
	// K is the number of classes of each latent variable.
	K int `json:"k"`
	// Hidden lists the encoder's hidden layer widths, input side first; the
	// decoder uses them in reverse order. Empty gives the linear encoder and
	// decoder of the paper's figures (784-200-784).
	Hidden []int `json:"hidden"`
	// Input is the number of pixels of one image.
	Input int `json:"input"`
	// Prior is PriorUniform (or "") for the fixed uniform prior over each
	// variable's classes, or PriorLearned for a categorical prior whose
	// logits are trained with the rest (Jang et al. 2017, v5).
	Prior string `json:"prior,omitempty"`
	// Kind is LatentCategorical (or "") for N categorical variables of K
	// classes, or LatentBernoulli for N binary variables (K must be 2).
	Kind string `json:"latent,omitempty"`
	// Baseline is the hidden width of the input-dependent baseline network
	// b(x) of NVIL (Mnih & Gregor 2014), 784-Baseline-1 with a ReLU; 0 when
	// the model has none.
	Baseline int `json:"baseline,omitempty"`
}

// Latent kinds accepted by Config.Kind.
const (
	LatentCategorical = "categorical"
	LatentBernoulli   = "bernoulli"
)

// Bernoulli reports whether the latent variables are binary.
//
// A Bernoulli variable with logit l is the categorical variable of K = 2
// classes with logits (l, 0): softmax gives (sigmoid(l), 1-sigmoid(l)), and
// the Gumbel-Softmax sample of the pair, sigmoid((l + g1 - g2)/tau), is the
// binary Concrete relaxation sigmoid((l + log u - log(1-u))/tau) because
// g1 - g2 is logistic (Maddison et al. 2017, Sec. 3.3). Every graph therefore
// works on the K = 2 pairs ("the categorical view", N*K = 2N wide): the
// encoder's N logits are widened to pairs, and the decoder reads the first
// entry of each pair. Only the encoder's output and the decoder's input
// layers are N wide (see Code).
func (c Config) Bernoulli() bool { return c.Kind == LatentBernoulli }

// Code returns the width of the encoder's output and of the decoder's
// input: N for Bernoulli latents, N*K for categorical ones.
func (c Config) Code() int {
	if c.Bernoulli() {
		return c.N
	}
	return c.Latent()
}

// Priors accepted by Config.Prior.
const (
	PriorUniform = "uniform"
	PriorLearned = "learned"
)

// Learned reports whether the prior's logits are parameters.
func (c Config) Learned() bool { return c.Prior == PriorLearned }

// DefaultConfig returns the architecture of the paper's categorical VAE as
// in the authors' notebook: 784-512-256-(20x10)-256-512-784 with ReLU.
func DefaultConfig() Config {
	return Config{N: 20, K: 10, Hidden: []int{512, 256}, Input: Pixels, Prior: PriorUniform, Kind: LatentCategorical}
}

// tensorsPerNet is the number of parameter tensors of the encoder, and of
// the decoder: a weight and a bias per layer.
func (c Config) tensorsPerNet() int { return 2 * (len(c.Hidden) + 1) }

// modelTensors is the number of parameter tensors of the VAE itself:
// encoder, decoder and a learned prior, without the baseline network.
func (c Config) modelTensors() int {
	n := 2 * c.tensorsPerNet()
	if c.Learned() {
		n++
	}
	return n
}

// Latent returns N*K, the width of the latent layer in the categorical
// view (2N for Bernoulli latents, see Bernoulli).
func (c Config) Latent() int { return c.N * c.K }

// Validate reports the first setting that cannot give a model.
func (c Config) Validate() error {
	switch {
	case c.N < 1 || c.N > maxWidth:
		return fmt.Errorf("model: N = %d: want 1 to %d latent variables", c.N, maxWidth)
	case c.K < 2 || c.K > maxWidth:
		return fmt.Errorf("model: K = %d: a categorical variable needs 2 to %d classes", c.K, maxWidth)
	case c.Input < 1:
		return fmt.Errorf("model: input size %d is not positive", c.Input)
	case c.Prior != "" && c.Prior != PriorUniform && c.Prior != PriorLearned:
		return fmt.Errorf("model: prior %q: want %s or %s", c.Prior, PriorUniform, PriorLearned)
	case c.Kind != "" && c.Kind != LatentCategorical && c.Kind != LatentBernoulli:
		return fmt.Errorf("model: latent kind %q: want %s or %s", c.Kind, LatentCategorical, LatentBernoulli)
	case c.Bernoulli() && c.K != 2:
		return fmt.Errorf("model: K = %d: Bernoulli latents have 2 classes", c.K)
	case c.Baseline < 0 || c.Baseline > maxWidth:
		return fmt.Errorf("model: baseline width %d: want 0 to %d", c.Baseline, maxWidth)
	}
	for _, h := range c.Hidden {
		if h < 1 || h > maxWidth {
			return fmt.Errorf("model: hidden layer width %d: want 1 to %d", h, maxWidth)
		}
	}
	if c.Latent() > maxWidth || c.Input > maxWidth || len(c.Hidden) > 16 {
		return fmt.Errorf("model: %d inputs, %d latent units, %d hidden layers: too large", c.Input, c.Latent(), len(c.Hidden))
	}
	n := 0
	for _, spec := range c.paramSpecs() {
		n += spec.shape[0] * spec.shape[1]
	}
	if n > maxParams {
		return fmt.Errorf("model: %d parameters: at most %d fit in memory with their optimiser state", n, maxParams)
	}
	return nil
}

// maxParams bounds the number of weights (64M: 256 MB in float32, 1 GB with
// Adam's moments and the gradients).
const maxParams = 1 << 26

// maxWidth bounds every layer width, so that a configuration read from a
// file cannot ask for more memory than a real model needs.
const maxWidth = 1 << 16

// Shapes returns the name and shape of every parameter tensor of the
// architecture, in the order of Params: for each layer its (out, in)
// weights "<layer>.w" then its (1, out) bias "<layer>.b", then a learned
// prior's (1, Code) "prior.logits", then the baseline network's layers.
// Loaders compare a
// file against it before allocating anything.
func (c Config) Shapes() (names []string, shapes [][]int) {
	for _, spec := range c.paramSpecs() {
		names = append(names, spec.name)
		shapes = append(shapes, spec.shape)
	}
	return names, shapes
}

// layer is one affine map of the MLPs: (in) -> (out), weights "<name>.w"
// and bias "<name>.b".
type layer struct {
	name    string
	in, out int
}

// layers lists the affine maps of encoder then decoder, in order, then
// those of the baseline network if there is one.
func (c Config) layers() []layer {
	widths := append(append([]int{c.Input}, c.Hidden...), c.Code())
	var ls []layer
	for i := 0; i+1 < len(widths); i++ {
		ls = append(ls, layer{fmt.Sprintf("enc%d", i), widths[i], widths[i+1]})
	}
	for i := len(widths) - 1; i > 0; i-- {
		ls = append(ls, layer{fmt.Sprintf("dec%d", len(widths)-1-i), widths[i], widths[i-1]})
	}
	return ls
}

// BaselineTensors is the number of parameter tensors of the NVIL baseline
// network (two layers, a weight and a bias each); they come last in Params.
const BaselineTensors = 4

// baselineLayers lists the affine maps of the NVIL baseline network.
func (c Config) baselineLayers() []layer {
	if c.Baseline == 0 {
		return nil
	}
	return []layer{{"base0", c.Input, c.Baseline}, {"base1", c.Baseline, 1}}
}

// paramSpec names one parameter tensor with its shape and the fan-in of its
// layer (0 for the prior's logits, which start at zero: uniform).
type paramSpec struct {
	name  string
	shape []int
	fanIn int
}

// paramSpecs lists the parameter tensors of the architecture in a fixed
// order: for each layer its (out, in) weights "<layer>.w" then its (1, out)
// bias "<layer>.b", then a learned prior's "prior.logits", and last the
// baseline network's layers "base0", "base1".
func (c Config) paramSpecs() []paramSpec {
	var specs []paramSpec
	for _, l := range c.layers() {
		specs = append(specs,
			paramSpec{l.name + ".w", []int{l.out, l.in}, l.in},
			paramSpec{l.name + ".b", []int{1, l.out}, l.in})
	}
	if c.Learned() {
		specs = append(specs, paramSpec{"prior.logits", []int{1, c.Code()}, 0})
	}
	for _, l := range c.baselineLayers() {
		specs = append(specs,
			paramSpec{l.name + ".w", []int{l.out, l.in}, l.in},
			paramSpec{l.name + ".b", []int{1, l.out}, l.in})
	}
	return specs
}
