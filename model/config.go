package model

import (
	"errors"
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
	// decoder uses them in reverse order.
	Hidden []int `json:"hidden"`
	// Input is the number of pixels of one image.
	Input int `json:"input"`
}

// DefaultConfig returns the architecture of the paper's categorical VAE as
// in the authors' notebook: 784-512-256-(20x10)-256-512-784 with ReLU.
func DefaultConfig() Config {
	return Config{N: 20, K: 10, Hidden: []int{512, 256}, Input: Pixels}
}

// Latent returns N*K, the width of the latent layer.
func (c Config) Latent() int { return c.N * c.K }

// Validate reports the first setting that cannot give a model.
func (c Config) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("model: N = %d: need at least one latent variable", c.N)
	case c.K < 2:
		return fmt.Errorf("model: K = %d: a categorical variable needs at least 2 classes", c.K)
	case c.Input < 1:
		return fmt.Errorf("model: input size %d is not positive", c.Input)
	case len(c.Hidden) == 0:
		return errors.New("model: no hidden layers")
	}
	for _, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("model: hidden layer width %d is not positive", h)
		}
	}
	return nil
}

// layer is one affine map of the MLPs: (in) -> (out), weights "<name>.w"
// and bias "<name>.b".
type layer struct {
	name    string
	in, out int
}

// layers lists the affine maps of encoder then decoder, in order.
func (c Config) layers() []layer {
	widths := append(append([]int{c.Input}, c.Hidden...), c.Latent())
	var ls []layer
	for i := 0; i+1 < len(widths); i++ {
		ls = append(ls, layer{fmt.Sprintf("enc%d", i), widths[i], widths[i+1]})
	}
	for i := len(widths) - 1; i > 0; i-- {
		ls = append(ls, layer{fmt.Sprintf("dec%d", len(widths)-1-i), widths[i], widths[i-1]})
	}
	return ls
}

// paramSpec names one parameter tensor with its shape and the fan-in of its
// layer.
type paramSpec struct {
	name  string
	shape []int
	fanIn int
}

// paramSpecs lists the parameter tensors of the architecture in a fixed
// order: for each layer its (in, out) weights "<layer>.w" then its (1, out)
// bias "<layer>.b".
func (c Config) paramSpecs() []paramSpec {
	var specs []paramSpec
	for _, l := range c.layers() {
		specs = append(specs,
			paramSpec{l.name + ".w", []int{l.in, l.out}, l.in},
			paramSpec{l.name + ".b", []int{1, l.out}, l.in})
	}
	return specs
}
