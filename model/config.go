package model

import (
	"fmt"
	"strings"
)

// Pixels is the length of one binarized MNIST image, 28*28.
const Pixels = 784

// Tasks accepted by Config.Task.
const (
	// TaskVAE is the variational autoencoder of Jang et al. (2017, Sec.
	// 4.2): an encoder q(z|x), one stochastic layer z, a decoder p(x|z).
	TaskVAE = "vae"
	// TaskSBN is the structured output prediction of Sec. 4.1 (after
	// Raiko et al. 2014 and Gu et al. 2016): a sigmoid (or softmax) belief
	// network with two stochastic layers predicts the lower half of an
	// image from its upper half, x_upper -> h1 -> h2 -> x_lower.
	TaskSBN = "sbn"
)

// Latent kinds accepted by Config.Kind.
const (
	LatentCategorical = "categorical"
	LatentBernoulli   = "bernoulli"
)

// Priors accepted by Config.Prior.
const (
	PriorUniform = "uniform"
	PriorLearned = "learned"
)

// Config describes a network. It is the one place where settings are
// checked (Validate); everything built from a valid Config trusts it.
type Config struct {
	// Task is TaskVAE (or "") or TaskSBN.
	Task string `json:"task,omitempty"`
	// N is the number of latent variables of each stochastic layer.
	N int `json:"n"`
	// K is the number of classes of each latent variable (2 for
	// Bernoulli latents).
	K int `json:"k"`
	// Hidden lists the VAE encoder's hidden layer widths, input side
	// first; the decoder uses them in reverse order. Empty gives the
	// linear encoder and decoder of the paper's figures (784-200-784). The
	// SBN has none: its layers are linear maps, 392-200-200-392.
	Hidden []int `json:"hidden"`
	// Input is the number of pixels of one image; the SBN reads its first
	// half and predicts the second.
	Input int `json:"input"`
	// Prior is PriorUniform (or "") for the fixed uniform prior over each
	// variable's classes, or PriorLearned for a categorical prior whose
	// logits are trained with the rest (Jang et al. 2017, v5). VAE only.
	Prior string `json:"prior,omitempty"`
	// Kind is LatentCategorical (or "") for variables of K classes, or
	// LatentBernoulli for binary variables (K must be 2).
	Kind string `json:"latent,omitempty"`
	// Baseline is the hidden width of the input-dependent baseline network
	// b(x) of NVIL (Mnih & Gregor 2014), In()-Baseline-1 with a ReLU; 0
	// when the model has none.
	Baseline int `json:"baseline,omitempty"`
}

// DefaultConfig returns the architecture of the paper's categorical VAE as
// in the authors' notebook: 784-512-256-(20x10)-256-512-784 with ReLU.
func DefaultConfig() Config {
	return Config{Task: TaskVAE, N: 20, K: 10, Hidden: []int{512, 256}, Input: Pixels, Prior: PriorUniform, Kind: LatentCategorical}
}

// SBN reports whether the network is the two-layer belief network.
func (c Config) SBN() bool { return c.Task == TaskSBN }

// Bernoulli reports whether the latent variables are binary.
//
// A Bernoulli variable with logit l is the categorical variable of K = 2
// classes with logits (l, 0): softmax gives (sigmoid(l), 1-sigmoid(l)), and
// the Gumbel-Softmax sample of the pair, sigmoid((l + g1 - g2)/tau), is the
// binary Concrete relaxation sigmoid((l + log u - log(1-u))/tau) because
// g1 - g2 is logistic (Maddison et al. 2017, Sec. 3.3). Every stochastic
// layer therefore works on the K = 2 pairs ("the categorical view", 2N
// wide): a network's N logits are widened to pairs, and the next network
// reads the first entry of each pair. Only the layers next to a stochastic
// layer are N wide (see Code).
func (c Config) Bernoulli() bool { return c.Kind == LatentBernoulli }

// Learned reports whether the prior's logits are parameters.
func (c Config) Learned() bool { return c.Prior == PriorLearned }

// Layers returns the number of stochastic layers: 1 for the VAE, 2 for the
// SBN.
func (c Config) Layers() int {
	if c.SBN() {
		return 2
	}
	return 1
}

// Code returns the width of a network's output into a stochastic layer and
// of a network's input from one: N for Bernoulli latents, N*K for
// categorical ones.
func (c Config) Code() int {
	if c.Bernoulli() {
		return c.N
	}
	return c.Latent()
}

// Latent returns N*K, the width of a stochastic layer in the categorical
// view (2N for Bernoulli latents, see Bernoulli).
func (c Config) Latent() int { return c.N * c.K }

// In returns the number of pixels the network reads: the whole image for
// the VAE, its upper half for the SBN.
func (c Config) In() int {
	if c.SBN() {
		return c.Input / 2
	}
	return c.Input
}

// Out returns the number of pixels the network predicts: the whole image
// for the VAE, its lower half for the SBN.
func (c Config) Out() int {
	if c.SBN() {
		return c.Input - c.In()
	}
	return c.Input
}

// Describe names the network, as in "20x10 categorical VAE (784-512-256-200)"
// or "200 Bernoulli SBN (392-200-200-392)".
func (c Config) Describe() string {
	latent := fmt.Sprintf("%dx%d categorical", c.N, c.K)
	if c.Bernoulli() {
		latent = fmt.Sprintf("%d Bernoulli", c.N)
	}
	widths := []int{c.In()}
	if c.SBN() {
		widths = append(widths, c.Code(), c.Code(), c.Out())
	} else {
		widths = append(append(widths, c.Hidden...), c.Code())
	}
	s := make([]string, len(widths))
	for i, w := range widths {
		s[i] = fmt.Sprint(w)
	}
	return fmt.Sprintf("%s %s (%s)", latent, strings.ToUpper(c.task()), strings.Join(s, "-"))
}

// task returns the task, TaskVAE when unset.
func (c Config) task() string {
	if c.Task == "" {
		return TaskVAE
	}
	return c.Task
}

// WithDefaults returns c with the settings a configuration written before
// they existed leaves empty set to the values such a model used.
func (c Config) WithDefaults() Config {
	if c.Task == "" {
		c.Task = TaskVAE
	}
	if c.Prior == "" {
		c.Prior = PriorUniform
	}
	if c.Kind == "" {
		c.Kind = LatentCategorical
	}
	return c
}

// A SettingError reports a setting of a configuration that cannot be
// used: its name (the JSON key, as "n" or "hidden"), its value, and what
// is wanted. Commands turn the name into their own flag's.
type SettingError struct {
	Setting string
	Value   any
	Want    string
}

// Error returns "setting value: want".
func (e *SettingError) Error() string { return fmt.Sprintf("%s %v: %s", e.Setting, e.Value, e.Want) }

// settingErr returns a *SettingError.
func settingErr(setting string, value any, format string, args ...any) error {
	return &SettingError{Setting: setting, Value: value, Want: fmt.Sprintf(format, args...)}
}

// Validate reports the first setting that cannot give a network, as a
// *SettingError.
func (c Config) Validate() error {
	switch {
	case c.Task != "" && c.Task != TaskVAE && c.Task != TaskSBN:
		return settingErr("task", c.Task, "want %s or %s", TaskVAE, TaskSBN)
	case c.N < 1 || c.N > maxWidth:
		return settingErr("n", c.N, "want 1 to %d latent variables", maxWidth)
	case c.K < 2 || c.K > maxWidth:
		return settingErr("k", c.K, "a categorical variable needs 2 to %d classes", maxWidth)
	case c.Input < 1 || c.Input > maxWidth:
		return settingErr("input", c.Input, "want 1 to %d pixels", maxWidth)
	case c.SBN() && c.Input < 2:
		return settingErr("input", c.Input, "the SBN needs an upper and a lower half")
	case c.Prior != "" && c.Prior != PriorUniform && c.Prior != PriorLearned:
		return settingErr("prior", c.Prior, "want %s or %s", PriorUniform, PriorLearned)
	case c.SBN() && c.Learned():
		return settingErr("prior", c.Prior, "the SBN has no prior to learn (its first layer is p(h1 | x_upper))")
	case c.SBN() && len(c.Hidden) > 0:
		return settingErr("hidden", c.Hidden, "the SBN's layers are linear maps between its stochastic layers (no hidden layers)")
	case c.Kind != "" && c.Kind != LatentCategorical && c.Kind != LatentBernoulli:
		return settingErr("latent", c.Kind, "want %s or %s", LatentCategorical, LatentBernoulli)
	case c.Bernoulli() && c.K != 2:
		return settingErr("k", c.K, "Bernoulli latents have 2 classes")
	case c.Baseline < 0 || c.Baseline > maxWidth:
		return settingErr("baseline", c.Baseline, "want 0 to %d", maxWidth)
	case len(c.Hidden) > 16:
		return settingErr("hidden", c.Hidden, "at most 16 hidden layers")
	case c.Latent() > maxWidth:
		return settingErr("n", c.N, "%d latent units (N*K): at most %d", c.Latent(), maxWidth)
	}
	for _, h := range c.Hidden {
		if h < 1 || h > maxWidth {
			return settingErr("hidden", c.Hidden, "layer width %d: want 1 to %d", h, maxWidth)
		}
	}
	n := 0
	for _, spec := range c.paramSpecs() {
		n += spec.shape[0] * spec.shape[1]
	}
	if n > maxParams {
		return settingErr("params", n, "at most %d parameters fit in memory with their optimiser state (the layer widths, N and K decide it)", maxParams)
	}
	return nil
}

// maxParams bounds the number of weights (64M: 256 MB in float32, 1 GB with
// Adam's moments and the gradients).
const maxParams = 1 << 26

// maxWidth bounds every layer width, so that a configuration read from a
// file cannot ask for more memory than a real model needs.
const maxWidth = 1 << 16

// Parts of a model's parameters (see Config.Part).
const (
	// PartEncoder is every layer that computes the logits of a stochastic
	// layer: the VAE's encoder, the SBN's first two layers. The estimators
	// differ in the gradients they give it.
	PartEncoder = "encoder"
	// PartDecoder is the layers from the last stochastic layer to the
	// pixels, which every estimator differentiates along the path.
	PartDecoder = "decoder"
	// PartPrior is a learned prior's logits.
	PartPrior = "prior"
	// PartBaseline is the NVIL baseline network's layers.
	PartBaseline = "baseline"
)

// layer is one affine map: (in) -> (out), weights "<name>.w" and bias
// "<name>.b", in the given part of the model.
type layer struct {
	name    string
	in, out int
	part    string
}

// netLayers lists the affine maps of the network, in order: for the VAE the
// encoder's "enc0", "enc1", ... then the decoder's "dec0", ...; for the SBN
// "h1" (x_upper to h1's logits), "h2" (h1 to h2's logits) and "xl" (h2 to
// the lower half's logits).
func (c Config) netLayers() []layer {
	if c.SBN() {
		return []layer{
			{"h1", c.In(), c.Code(), PartEncoder},
			{"h2", c.Code(), c.Code(), PartEncoder},
			{"xl", c.Code(), c.Out(), PartDecoder},
		}
	}
	widths := append(append([]int{c.Input}, c.Hidden...), c.Code())
	var ls []layer
	for i := 0; i+1 < len(widths); i++ {
		ls = append(ls, layer{fmt.Sprintf("enc%d", i), widths[i], widths[i+1], PartEncoder})
	}
	for i := len(widths) - 1; i > 0; i-- {
		ls = append(ls, layer{fmt.Sprintf("dec%d", len(widths)-1-i), widths[i], widths[i-1], PartDecoder})
	}
	return ls
}

// baselineLayers lists the affine maps of the NVIL baseline network.
func (c Config) baselineLayers() []layer {
	if c.Baseline == 0 {
		return nil
	}
	return []layer{{"base0", c.In(), c.Baseline, PartBaseline}, {"base1", c.Baseline, 1, PartBaseline}}
}

// paramSpec names one parameter tensor with its shape, its part and the
// fan-in of its layer (0 for the prior's logits, which start at zero:
// uniform).
type paramSpec struct {
	name  string
	shape []int
	part  string
	fanIn int
}

// paramSpecs lists the parameter tensors in a fixed order, the order of
// Params: for each layer of the network its (out, in) weights
// "<layer>.w" then its (1, out) bias "<layer>.b", then a learned prior's
// (1, Code) "prior.logits", and last the baseline network's layers.
func (c Config) paramSpecs() []paramSpec {
	var specs []paramSpec
	add := func(ls []layer) {
		for _, l := range ls {
			specs = append(specs,
				paramSpec{l.name + ".w", []int{l.out, l.in}, l.part, l.in},
				paramSpec{l.name + ".b", []int{1, l.out}, l.part, l.in})
		}
	}
	add(c.netLayers())
	if c.Learned() {
		specs = append(specs, paramSpec{"prior.logits", []int{1, c.Code()}, PartPrior, 0})
	}
	add(c.baselineLayers())
	return specs
}

// Shapes returns the name and shape of every parameter tensor, in the
// order of Params. Loaders compare a file against it before allocating
// anything.
func (c Config) Shapes() (names []string, shapes [][]int) {
	for _, spec := range c.paramSpecs() {
		names = append(names, spec.name)
		shapes = append(shapes, spec.shape)
	}
	return names, shapes
}

// Part returns the part of the model (PartEncoder, PartDecoder, PartPrior
// or PartBaseline) that parameter tensor i belongs to.
func (c Config) Part(i int) string { return c.paramSpecs()[i].part }

// Split writes, for each of the rows images of x (Input pixels each), what
// the network reads into in (In() pixels each) and what it predicts into
// target (Out() pixels each): the image itself for the VAE, its upper and
// lower halves (rows 0-13 and 14-27 of a 28x28 digit) for the SBN.
func Split[T ~float32 | ~float64](cfg Config, x, in, target []T, rows int) {
	n, a, b := cfg.Input, cfg.In(), cfg.Out()
	for r := range rows {
		img := x[r*n : (r+1)*n]
		if cfg.SBN() {
			copy(in[r*a:(r+1)*a], img[:a])
			copy(target[r*b:(r+1)*b], img[a:])
			continue
		}
		copy(in[r*a:(r+1)*a], img)
		copy(target[r*b:(r+1)*b], img)
	}
}
