package model

import (
	"encoding/json"
	"fmt"
	"slices"

	"gorgonia.org/tensor"

	"gsvae/checkpoint"
	"gsvae/internal/kernels"
)

// A model file is a checkpoint (package checkpoint) whose configuration
// JSON holds the model's Config under the key "model" and whose tensors
// include every parameter as "param/<name>", float32, with the shape
// Config.Shapes gives. A training checkpoint is a model file with more in
// it (the run's other settings beside "model", the optimiser's moments,
// counters, random state), so Load reads both.

// ParamPrefix prefixes the name of every parameter tensor in a model file.
const ParamPrefix = "param/"

// Tensors returns the parameters of p as checkpoint tensors named
// ParamPrefix + name, sharing p's float32 data.
func Tensors(p *Params) []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(p.Tensors))
	for i, t := range p.Tensors {
		out[i] = checkpoint.Tensor{Name: ParamPrefix + p.Names[i], Shape: []int(t.Shape().Clone()), Data: t.Float32s()}
	}
	return out
}

// Save writes the configuration and float32 parameters p of a model to
// path crash-safely (see checkpoint.Save).
func Save(path string, cfg Config, p *Params) error {
	if err := p.Check(cfg, tensor.Float32); err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	js, err := json.Marshal(struct {
		Model Config `json:"model"`
	}{cfg})
	if err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	return checkpoint.Save(path, &checkpoint.File{Config: js, Tensors: Tensors(p)})
}

// Load reads the model of a model file or training checkpoint: its
// configuration, checked with Validate, and its float32 parameters, each
// checked against the shape the configuration gives it before anything is
// allocated. Errors name the path and what is wrong.
func Load(path string) (Config, *Params, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return Config{}, nil, err
	}
	cfg, p, err := Decode(f)
	if err != nil {
		return Config{}, nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return cfg, p, nil
}

// DecodeConfig returns the model configuration of checkpoint content,
// with the defaults of configurations written before a setting existed
// (WithDefaults), checked with Validate.
func DecodeConfig(f *checkpoint.File) (Config, error) {
	var wrap struct {
		Model *Config `json:"model"`
	}
	if err := json.Unmarshal(f.Config, &wrap); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if wrap.Model == nil {
		return Config{}, fmt.Errorf("config: no model configuration")
	}
	cfg := wrap.Model.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Decode returns the model of checkpoint content (see Load).
func Decode(f *checkpoint.File) (Config, *Params, error) {
	cfg, err := DecodeConfig(f)
	if err != nil {
		return Config{}, nil, err
	}
	if err := CheckTensors(f, cfg, ParamPrefix); err != nil {
		return Config{}, nil, err
	}
	p := &Params{}
	names, shapes := cfg.Shapes()
	for i, name := range names {
		t, err := f.Tensor(ParamPrefix + name)
		if err != nil {
			return Config{}, nil, err
		}
		d := tensor.New(tensor.WithShape(shapes[i]...), tensor.Of(tensor.Float32))
		copy(d.Float32s(), t.Data)
		p.Names, p.Tensors = append(p.Names, name), append(p.Tensors, d)
	}
	return cfg, p, nil
}

// CheckTensors reports whether f holds, for every parameter of cfg, a
// tensor named prefix + name with the parameter's shape and only finite
// values, naming the first that is missing, misshapen or holds a NaN or an
// infinity (a model with one computes NaN bounds and NaN images, and a
// resumed run would stop at its first step). Loaders call it before
// allocating.
func CheckTensors(f *checkpoint.File, cfg Config, prefix string) error {
	names, shapes := cfg.Shapes()
	for i, name := range names {
		t, err := f.Tensor(prefix + name)
		if err != nil {
			return err
		}
		if !tensor.Shape(shapes[i]).Eq(tensor.Shape(t.Shape)) {
			return fmt.Errorf("tensor %s has shape %v, the configuration needs %v", t.Name, tensor.Shape(t.Shape), tensor.Shape(shapes[i]))
		}
		if !kernels.AllFinite(t.Data) {
			j := slices.IndexFunc(t.Data, func(v float32) bool { return v-v != 0 }) // NaN for a NaN or an infinity
			return fmt.Errorf("tensor %s holds %v at index %d; every weight must be finite", t.Name, t.Data[j], j)
		}
	}
	return nil
}
