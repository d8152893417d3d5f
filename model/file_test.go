package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/checkpoint"
)

// float32Params returns float32 parameters of cfg drawn from seed, with
// some awkward values (-0, the smallest denormal, the largest float32)
// that a lossy round trip would change.
func float32Params(t *testing.T, cfg Config, seed uint64) *Params {
	t.Helper()
	p, err := NewParams(cfg, tensor.Float32, rand.New(rand.NewPCG(seed, 3)))
	if err != nil {
		t.Fatal(err)
	}
	last := p.Tensors[len(p.Tensors)-1].Float32s()
	last[0] = float32(math.Copysign(0, -1))
	if len(last) > 1 {
		last[1] = math.SmallestNonzeroFloat32
	}
	p.Tensors[0].Float32s()[0] = math.MaxFloat32
	return p
}

// sameParams reports the first difference of names, shapes or bits
// between two float32 parameter sets, or "".
func sameParams(got, want *Params) string {
	if !reflect.DeepEqual(got.Names, want.Names) {
		return "names " + strings.Join(got.Names, ",") + ", want " + strings.Join(want.Names, ",")
	}
	for i := range want.Tensors {
		if !got.Tensors[i].Shape().Eq(want.Tensors[i].Shape()) || got.Tensors[i].Dtype() != tensor.Float32 {
			return fmt.Sprintf("%s: shape %v %v, want %v float32", want.Names[i], got.Tensors[i].Shape(), got.Tensors[i].Dtype(), want.Tensors[i].Shape())
		}
		g, w := got.Tensors[i].Float32s(), want.Tensors[i].Float32s()
		for j := range w {
			if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
				return want.Names[i] + ": bits differ"
			}
		}
	}
	return ""
}

// TestSaveLoadRoundTrip checks that Save then Load, and Decode of the
// checkpoint content, give back the configuration (with the defaults of
// unset settings filled in) and the float32 parameters bit for bit, for
// the VAEs (with hidden layers, linear, Bernoulli with a learned prior and
// a baseline) and the SBN; and that the file holds the configuration under
// "model" and the parameters as "param/<name>".
func TestSaveLoadRoundTrip(t *testing.T) {
	for _, cfg := range []Config{
		tinyVAE,
		tinyLinear, // Task, Prior and Kind unset
		{N: 3, K: 2, Hidden: []int{5}, Input: 6, Kind: LatentBernoulli, Prior: PriorLearned, Baseline: 4},
		tinySBNBernoulli,
	} {
		t.Run(cfg.Describe(), func(t *testing.T) {
			p := float32Params(t, cfg, 1)
			path := filepath.Join(t.TempDir(), "model.ckpt")
			if err := Save(path, cfg, p); err != nil {
				t.Fatal(err)
			}
			got, q, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := cfg.WithDefaults(); !reflect.DeepEqual(got, want) {
				t.Errorf("config %+v, want %+v", got, want)
			}
			if d := sameParams(q, p); d != "" {
				t.Error(d)
			}
			f, err := checkpoint.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var wrap map[string]json.RawMessage
			if err := json.Unmarshal(f.Config, &wrap); err != nil || len(wrap) != 1 || wrap["model"] == nil {
				t.Errorf("config JSON %s: want one key, model (%v)", f.Config, err)
			}
			for _, name := range p.Names {
				if _, err := f.Tensor(ParamPrefix + name); err != nil {
					t.Error(err)
				}
			}
			cfg2, q2, err := Decode(f)
			if err != nil || !reflect.DeepEqual(cfg2, got) || sameParams(q2, p) != "" {
				t.Errorf("Decode: %+v, %v", cfg2, err)
			}
		})
	}
}

// TestTensors checks that Tensors names every parameter ParamPrefix +
// name with its shape and shares its data.
func TestTensors(t *testing.T) {
	p := float32Params(t, tinySBN, 1)
	ts := Tensors(p)
	if len(ts) != len(p.Tensors) {
		t.Fatalf("%d tensors, want %d", len(ts), len(p.Tensors))
	}
	for i, tt := range ts {
		if tt.Name != "param/"+p.Names[i] || !reflect.DeepEqual(tt.Shape, []int(p.Tensors[i].Shape())) || &tt.Data[0] != &p.Tensors[i].Float32s()[0] {
			t.Errorf("tensor %d: %s %v, want param/%s %v sharing the data", i, tt.Name, tt.Shape, p.Names[i], p.Tensors[i].Shape())
		}
	}
}

// modelFile returns checkpoint content of cfg with the tensors of p, the
// configuration JSON given.
func modelFile(js string, p *Params) *checkpoint.File {
	return &checkpoint.File{Config: []byte(js), Tensors: Tensors(p)}
}

// withValue returns f with value v at index j of its tensor i, on a copy
// of that tensor's data (Tensors shares the parameters' memory).
func withValue(f *checkpoint.File, i, j int, v float32) *checkpoint.File {
	d := slices.Clone(f.Tensors[i].Data)
	d[j] = v
	f.Tensors[i].Data = d
	return f
}

// TestLoadErrors checks that Load refuses what is not a model file of a
// valid configuration, naming the path and what is wrong: a missing
// tensor, a misshapen tensor, a NaN or infinite weight, an invalid
// configuration (its *SettingError), no model configuration,
// configuration JSON that does not parse, a file that is not a
// checkpoint, no file at all.
func TestLoadErrors(t *testing.T) {
	const tinyJSON = `{"model":{"task":"vae","n":2,"k":3,"hidden":[5,4],"input":6}}`
	p := float32Params(t, tinyVAE, 2)
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		file  *checkpoint.File // nil: write raw
		raw   string
		is    error    // errors.Is target, or nil
		parts []string // substrings of the message
		as    string   // a *SettingError's setting, or ""
	}{
		{"missing tensor", func() *checkpoint.File {
			f := modelFile(tinyJSON, p)
			f.Tensors = append(f.Tensors[:9:9], f.Tensors[10:]...) // no dec1.b
			return f
		}(), "", checkpoint.ErrNoTensor, []string{`"param/dec1.b"`}, ""},
		{"misshapen tensor", func() *checkpoint.File {
			f := modelFile(tinyJSON, p)
			f.Tensors[2].Shape = []int{5, 4}
			return f
		}(), "", nil, []string{"param/enc1.w", "(5, 4)", "(4, 5)"}, ""},
		{"NaN weight", withValue(modelFile(tinyJSON, p), 2, 3, float32(math.NaN())), "", nil, []string{"param/enc1.w", "NaN at index 3"}, ""},
		{"infinite weight", withValue(modelFile(tinyJSON, p), 11, 0, float32(math.Inf(-1))), "", nil, []string{"param/dec2.b", "-Inf at index 0"}, ""},
		{"wrong architecture", modelFile(`{"model":{"n":3,"k":3,"hidden":[5,4],"input":6}}`, p), "", nil, []string{"param/enc2.w", "(6, 4)", "(9, 4)"}, ""},
		{"invalid configuration", modelFile(`{"model":{"n":0,"k":3,"hidden":[5,4],"input":6}}`, p), "", nil, []string{"config: n 0"}, "n"},
		{"invalid task", modelFile(`{"model":{"task":"gan","n":2,"k":3,"input":6}}`, p), "", nil, []string{"config: task gan"}, "task"},
		{"no model configuration", modelFile(`{"n":2,"k":3,"hidden":[5,4],"input":6}`, p), "", nil, []string{"no model configuration"}, ""},
		{"configuration not JSON", modelFile(`n=2`, p), "", nil, []string{"config: "}, ""},
		{"not a checkpoint", nil, "hello, world: this is not a checkpoint file", checkpoint.ErrNotCheckpoint, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".ckpt")
			if tc.file != nil {
				if err := checkpoint.Save(path, tc.file); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte(tc.raw), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, q, err := Load(path)
			if err == nil {
				t.Fatalf("Load = %+v, %d tensors, nil error", cfg, len(q.Tensors))
			}
			if q != nil {
				t.Errorf("Load returned parameters with the error %v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the path", msg)
			}
			for _, part := range tc.parts {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q does not say %q", msg, part)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", msg, tc.is)
			}
			var se *SettingError
			if tc.as != "" && (!errors.As(err, &se) || se.Setting != tc.as) {
				t.Errorf("error %q: want a *SettingError for %s", msg, tc.as)
			}
		})
	}
	if _, _, err := Load(filepath.Join(dir, "absent.ckpt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// goldenConfig is the config.json of a training run made before the
// redesign (copied from the categorical-gs run of the golden set, seed 1):
// the model's settings under "model", without "task", beside the run's.
const goldenConfig = `{
  "model": {
    "n": 20,
    "k": 10,
    "hidden": [
      512,
      256
    ],
    "input": 784,
    "prior": "uniform",
    "latent": "categorical"
  },
  "epochs": 2,
  "batch": 100,
  "lr": 0.001,
  "optimizer": "adam",
  "tau0": 1,
  "tau_min": 0.5,
  "anneal_rate": 0.01,
  "anneal_every": 10,
  "estimator": "gs",
  "kl": "analytic",
  "prior_tau": 1,
  "track_draws": 100,
  "binarize": "fixed",
  "seed": 1,
  "limit": 2000,
  "out": "/work/golden/categorical-gs",
  "data": ""
}`

// oldTrainingCheckpoint returns the content train.State.file wrote before
// the redesign (train/state.go at 14eea7c) for the run configuration js
// and the model cfg: per parameter "param/<name>", "opt.m/<name>" and
// "opt.v/<name>" (Adam's moments, here distinct values so that reading the
// wrong prefix shows), the random state and other blobs, and counters.
// The parameters are returned for comparison.
func oldTrainingCheckpoint(t *testing.T, js string, cfg Config) (*checkpoint.File, *Params) {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, 4))
	names, shapes := cfg.Shapes()
	p := &Params{}
	f := &checkpoint.File{Config: []byte(js)}
	for i, name := range names {
		n := shapes[i][0] * shapes[i][1]
		w, m, v := make([]float32, n), make([]float32, n), make([]float32, n)
		for j := range w {
			w[j], m[j], v[j] = rng.Float32()-0.5, rng.Float32()-0.5, rng.Float32()
		}
		p.Names = append(p.Names, name)
		p.Tensors = append(p.Tensors, tensor.New(tensor.WithShape(shapes[i]...), tensor.WithBacking(w)))
		f.Tensors = append(f.Tensors,
			checkpoint.Tensor{Name: "param/" + name, Shape: shapes[i], Data: w},
			checkpoint.Tensor{Name: "opt.m/" + name, Shape: shapes[i], Data: m},
			checkpoint.Tensor{Name: "opt.v/" + name, Shape: shapes[i], Data: v})
	}
	state, err := rand.NewPCG(1, 2).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	float := func(x float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(x)) }
	f.Blobs = map[string][]byte{
		"rng": state, "order": binary.LittleEndian.AppendUint32(nil, 7),
		"epoch_loss": float(120.5), "best_valid": float(math.Inf(1)),
		"signal_mean": float(0), "signal_var": float(1),
	}
	f.Counters = map[string]int64{"epoch": 1, "step": 20, "opt_t": 20, "next": 0, "epoch_images": 2000}
	return f, p
}

// TestLoadOldTrainingCheckpoint checks that Load reads the model of a
// training checkpoint written before the redesign: its configuration JSON
// has no "task" key (and, from still older runs, no "prior" and "latent"
// keys, and "hidden": null for -hidden none) and holds the model under
// "model" among the run's settings; the model is a VAE with the defaults
// of WithDefaults, and its parameters are the "param/" tensors bit for
// bit, the optimiser's moments ignored. CheckTensors also accepts the
// moments under their own prefix.
func TestLoadOldTrainingCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		js   string
		want Config
	}{
		{"golden categorical-gs config", goldenConfig, Config{Task: TaskVAE, N: 20, K: 10, Hidden: []int{512, 256}, Input: Pixels, Prior: PriorUniform, Kind: LatentCategorical}},
		{"no prior, latent; hidden null", `{"model":{"n":2,"k":3,"hidden":null,"input":6},"epochs":1,"batch":2,"seed":3}`, Config{Task: TaskVAE, N: 2, K: 3, Input: 6, Prior: PriorUniform, Kind: LatentCategorical}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, p := oldTrainingCheckpoint(t, tc.js, tc.want)
			path := filepath.Join(t.TempDir(), "model.ckpt")
			if err := checkpoint.Save(path, f); err != nil {
				t.Fatal(err)
			}
			cfg, q, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg, tc.want) {
				t.Errorf("config %+v, want %+v", cfg, tc.want)
			}
			if d := sameParams(q, p); d != "" {
				t.Error(d)
			}
			if err := CheckTensors(f, cfg, "opt.v/"); err != nil {
				t.Errorf("CheckTensors(opt.v/): %v", err)
			}
			if err := CheckTensors(f, cfg, "opt.x/"); !errors.Is(err, checkpoint.ErrNoTensor) {
				t.Errorf("CheckTensors(opt.x/): %v, want ErrNoTensor", err)
			}
		})
	}
}
