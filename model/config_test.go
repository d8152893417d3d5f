package model

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sbnDefault is the SBN of the paper's structured output prediction: 200
// Bernoulli units per layer, 392-200-200-392.
var sbnDefault = Config{Task: TaskSBN, N: 200, K: 2, Input: Pixels, Kind: LatentBernoulli}

// with returns DefaultConfig changed by f.
func with(f func(*Config)) Config {
	c := DefaultConfig()
	f(&c)
	return c
}

// sbnWith returns sbnDefault changed by f.
func sbnWith(f func(*Config)) Config {
	c := sbnDefault
	f(&c)
	return c
}

// TestValidate checks every rule of Config.Validate: each bad setting is a
// *SettingError naming the setting (its JSON key) and its value; the
// configurations the commands build (the default VAE, -hidden none, the
// Bernoulli and learned-prior VAEs, both SBNs, a baseline) and the limits
// themselves are valid.
func TestValidate(t *testing.T) {
	many := make([]int, 17)
	sixteen := make([]int, 16)
	for i := range many {
		many[i] = 8
	}
	copy(sixteen, many)
	for _, tc := range []struct {
		name    string
		cfg     Config
		setting string // "" for a valid configuration
		value   any
	}{
		{"default", DefaultConfig(), "", nil},
		{"hidden none (nil)", with(func(c *Config) { c.Hidden = nil; c.N, c.K = 200, 2 }), "", nil},
		{"hidden none (empty)", with(func(c *Config) { c.Hidden = []int{} }), "", nil},
		{"unset task, prior, latent", with(func(c *Config) { c.Task, c.Prior, c.Kind = "", "", "" }), "", nil},
		{"bernoulli learned prior", with(func(c *Config) { c.N, c.K, c.Kind, c.Prior = 200, 2, LatentBernoulli, PriorLearned }), "", nil},
		{"baseline", with(func(c *Config) { c.Baseline = 100 }), "", nil},
		{"sixteen hidden layers", with(func(c *Config) { c.Hidden = sixteen }), "", nil},
		{"smallest", Config{N: 1, K: 2, Input: 1}, "", nil},
		{"widest layers", Config{N: 1, K: 2, Input: maxWidth, Hidden: []int{1, maxWidth}, Baseline: 1}, "", nil},
		{"N*K at the limit", Config{N: maxWidth / 4, K: 4, Input: 1}, "", nil},
		{"K at the limit", Config{N: 1, K: maxWidth, Input: 1}, "", nil},
		{"baseline at the limit", Config{N: 1, K: 2, Input: 1, Baseline: maxWidth}, "", nil},
		// 769-43605-769: 2*769*43605 + 43605 + 769 = 2^26 weights and biases.
		{"parameters at the limit", Config{N: 8721, K: 5, Input: 769}, "", nil},
		{"sbn bernoulli", sbnDefault, "", nil},
		{"sbn categorical", sbnWith(func(c *Config) { c.N, c.K, c.Kind = 20, 10, LatentCategorical }), "", nil},
		{"sbn smallest", Config{Task: TaskSBN, N: 1, K: 2, Input: 2}, "", nil},
		{"sbn baseline", sbnWith(func(c *Config) { c.Baseline = 100 }), "", nil},
		{"sbn uniform prior", sbnWith(func(c *Config) { c.Prior = PriorUniform }), "", nil},

		{"task", with(func(c *Config) { c.Task = "gan" }), "task", "gan"},
		{"task case", with(func(c *Config) { c.Task = "VAE" }), "task", "VAE"},
		{"n zero", with(func(c *Config) { c.N = 0 }), "n", 0},
		{"n negative", with(func(c *Config) { c.N = -1 }), "n", -1},
		{"n too large", with(func(c *Config) { c.N = maxWidth + 1 }), "n", maxWidth + 1},
		{"k one", with(func(c *Config) { c.K = 1 }), "k", 1},
		{"k too large", with(func(c *Config) { c.K = maxWidth + 1 }), "k", maxWidth + 1},
		{"input zero", with(func(c *Config) { c.Input = 0 }), "input", 0},
		{"input too large", with(func(c *Config) { c.Input = maxWidth + 1 }), "input", maxWidth + 1},
		{"sbn input one", Config{Task: TaskSBN, N: 1, K: 2, Input: 1}, "input", 1},
		{"prior", with(func(c *Config) { c.Prior = "flat" }), "prior", "flat"},
		{"sbn learned prior", sbnWith(func(c *Config) { c.Prior = PriorLearned }), "prior", PriorLearned},
		{"sbn hidden", sbnWith(func(c *Config) { c.Hidden = []int{100} }), "hidden", []int{100}},
		{"latent", with(func(c *Config) { c.Kind = "gaussian" }), "latent", "gaussian"},
		{"bernoulli k", with(func(c *Config) { c.Kind = LatentBernoulli }), "k", 10},
		{"sbn bernoulli k", sbnWith(func(c *Config) { c.K = 3 }), "k", 3},
		{"baseline negative", with(func(c *Config) { c.Baseline = -1 }), "baseline", -1},
		{"baseline too large", with(func(c *Config) { c.Baseline = maxWidth + 1 }), "baseline", maxWidth + 1},
		{"seventeen hidden layers", with(func(c *Config) { c.Hidden = many }), "hidden", many},
		{"N*K too large", with(func(c *Config) { c.N, c.K = 300, 300 }), "n", 300},
		{"hidden width zero", with(func(c *Config) { c.Hidden = []int{512, 0} }), "hidden", []int{512, 0}},
		{"hidden width too large", with(func(c *Config) { c.Hidden = []int{maxWidth + 1} }), "hidden", []int{maxWidth + 1}},
		// 535-62658-535 and a baseline 535-3-1: 2*535*62658 + 62658 + 535 +
		// (535*3 + 3 + 3 + 1) = 2^26 + 1.
		{"one parameter over the limit", Config{N: 31329, K: 2, Input: 535, Baseline: 3}, "params", maxParams + 1},
		{"too many parameters", with(func(c *Config) { c.Hidden = []int{maxWidth, maxWidth} }), "params", 784*maxWidth*2 + maxWidth*maxWidth*2 + maxWidth*200*2 + 2*maxWidth + 2*maxWidth + 200 + 784},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.setting == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var se *SettingError
			if !errors.As(err, &se) {
				t.Fatalf("Validate() = %v (%T), want a *SettingError", err, err)
			}
			if se.Setting != tc.setting || !reflect.DeepEqual(se.Value, tc.value) || se.Want == "" {
				t.Errorf("Validate() = %#v, want setting %q value %v and a reason", se, tc.setting, tc.value)
			}
			if prefix := tc.setting + " "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want it to start with %q", err, prefix)
			}
		})
	}
}

// TestSettingErrorMessage checks the "setting value: want" form by hand.
func TestSettingErrorMessage(t *testing.T) {
	err := Config{N: 0, K: 10, Input: 784}.Validate()
	if want := "n 0: want 1 to 65536 latent variables"; err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
}

// shape is one parameter tensor's name, shape and part.
type shape struct {
	name string
	dims []int
	part string
}

// TestShapes checks the parameter layout (Shapes and Part) of the default
// VAE (784-512-256-200 with its mirror), the linear VAE (-hidden none),
// a Bernoulli VAE with a learned prior and a baseline, and both SBNs, all
// written out by hand from the package documentation: (out, in) weights
// and (1, out) biases, encoder then decoder, then the prior's (1, Code)
// logits, then the baseline network In()-Baseline-1.
func TestShapes(t *testing.T) {
	enc, dec, pri, base := PartEncoder, PartDecoder, PartPrior, PartBaseline
	for _, tc := range []struct {
		name string
		cfg  Config
		want []shape
	}{
		{"default VAE", DefaultConfig(), []shape{
			{"enc0.w", []int{512, 784}, enc}, {"enc0.b", []int{1, 512}, enc},
			{"enc1.w", []int{256, 512}, enc}, {"enc1.b", []int{1, 256}, enc},
			{"enc2.w", []int{200, 256}, enc}, {"enc2.b", []int{1, 200}, enc},
			{"dec0.w", []int{256, 200}, dec}, {"dec0.b", []int{1, 256}, dec},
			{"dec1.w", []int{512, 256}, dec}, {"dec1.b", []int{1, 512}, dec},
			{"dec2.w", []int{784, 512}, dec}, {"dec2.b", []int{1, 784}, dec},
		}},
		{"linear VAE", with(func(c *Config) { c.Hidden = nil }), []shape{
			{"enc0.w", []int{200, 784}, enc}, {"enc0.b", []int{1, 200}, enc},
			{"dec0.w", []int{784, 200}, dec}, {"dec0.b", []int{1, 784}, dec},
		}},
		{"bernoulli VAE, learned prior, baseline", Config{N: 200, K: 2, Kind: LatentBernoulli, Hidden: []int{512}, Input: Pixels, Prior: PriorLearned, Baseline: 100}, []shape{
			{"enc0.w", []int{512, 784}, enc}, {"enc0.b", []int{1, 512}, enc},
			{"enc1.w", []int{200, 512}, enc}, {"enc1.b", []int{1, 200}, enc},
			{"dec0.w", []int{512, 200}, dec}, {"dec0.b", []int{1, 512}, dec},
			{"dec1.w", []int{784, 512}, dec}, {"dec1.b", []int{1, 784}, dec},
			{"prior.logits", []int{1, 200}, pri},
			{"base0.w", []int{100, 784}, base}, {"base0.b", []int{1, 100}, base},
			{"base1.w", []int{1, 100}, base}, {"base1.b", []int{1, 1}, base},
		}},
		{"categorical VAE, learned prior", Config{N: 20, K: 10, Input: Pixels, Prior: PriorLearned}, []shape{
			{"enc0.w", []int{200, 784}, enc}, {"enc0.b", []int{1, 200}, enc},
			{"dec0.w", []int{784, 200}, dec}, {"dec0.b", []int{1, 784}, dec},
			{"prior.logits", []int{1, 200}, pri},
		}},
		{"bernoulli SBN", sbnWith(func(c *Config) { c.Baseline = 50 }), []shape{
			{"h1.w", []int{200, 392}, enc}, {"h1.b", []int{1, 200}, enc},
			{"h2.w", []int{200, 200}, enc}, {"h2.b", []int{1, 200}, enc},
			{"xl.w", []int{392, 200}, dec}, {"xl.b", []int{1, 392}, dec},
			{"base0.w", []int{50, 392}, base}, {"base0.b", []int{1, 50}, base},
			{"base1.w", []int{1, 50}, base}, {"base1.b", []int{1, 1}, base},
		}},
		{"categorical SBN", Config{Task: TaskSBN, N: 20, K: 10, Input: Pixels}, []shape{
			{"h1.w", []int{200, 392}, enc}, {"h1.b", []int{1, 200}, enc},
			{"h2.w", []int{200, 200}, enc}, {"h2.b", []int{1, 200}, enc},
			{"xl.w", []int{392, 200}, dec}, {"xl.b", []int{1, 392}, dec},
		}},
		{"odd SBN input", Config{Task: TaskSBN, N: 3, K: 2, Input: 7, Kind: LatentBernoulli}, []shape{
			{"h1.w", []int{3, 3}, enc}, {"h1.b", []int{1, 3}, enc},
			{"h2.w", []int{3, 3}, enc}, {"h2.b", []int{1, 3}, enc},
			{"xl.w", []int{4, 3}, dec}, {"xl.b", []int{1, 4}, dec},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, shapes := tc.cfg.Shapes()
			if len(names) != len(tc.want) || len(shapes) != len(tc.want) {
				t.Fatalf("Shapes() gives %d names %v, %d shapes; want %d", len(names), names, len(shapes), len(tc.want))
			}
			for i, w := range tc.want {
				if names[i] != w.name || !reflect.DeepEqual(shapes[i], w.dims) || tc.cfg.Part(i) != w.part {
					t.Errorf("tensor %d: %s %v %s, want %s %v %s", i, names[i], shapes[i], tc.cfg.Part(i), w.name, w.dims, w.part)
				}
			}
		})
	}
}

// TestConfigDerived checks the widths and names derived from a Config
// (Layers, Code, Latent, In, Out, SBN, Bernoulli, Learned, Describe) for
// the default VAE, the linear and Bernoulli VAEs and both SBNs, by hand
// from the package documentation: Code is N for Bernoulli latents and N*K
// otherwise, Latent is always N*K, the SBN reads and predicts half an
// image each.
func TestConfigDerived(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		cfg                           Config
		layers, code, latent, in, out int
		sbn, bernoulli, learnedPrior  bool
		describe                      string
	}{
		{"default VAE", DefaultConfig(), 1, 200, 200, 784, 784, false, false, false, "20x10 categorical VAE (784-512-256-200)"},
		{"task unset", with(func(c *Config) { c.Task = "" }), 1, 200, 200, 784, 784, false, false, false, "20x10 categorical VAE (784-512-256-200)"},
		{"linear VAE", with(func(c *Config) { c.Hidden = nil }), 1, 200, 200, 784, 784, false, false, false, "20x10 categorical VAE (784-200)"},
		{"bernoulli VAE, learned prior", with(func(c *Config) { c.N, c.K, c.Kind, c.Prior = 200, 2, LatentBernoulli, PriorLearned }), 1, 200, 400, 784, 784, false, true, true, "200 Bernoulli VAE (784-512-256-200)"},
		{"bernoulli SBN", sbnDefault, 2, 200, 400, 392, 392, true, true, false, "200 Bernoulli SBN (392-200-200-392)"},
		{"categorical SBN", Config{Task: TaskSBN, N: 20, K: 10, Input: Pixels}, 2, 200, 200, 392, 392, true, false, false, "20x10 categorical SBN (392-200-200-392)"},
		{"odd SBN input", Config{Task: TaskSBN, N: 3, K: 2, Input: 7, Kind: LatentBernoulli}, 2, 3, 6, 3, 4, true, true, false, "3 Bernoulli SBN (3-3-3-4)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			got := []any{c.Layers(), c.Code(), c.Latent(), c.In(), c.Out(), c.SBN(), c.Bernoulli(), c.Learned(), c.Describe()}
			want := []any{tc.layers, tc.code, tc.latent, tc.in, tc.out, tc.sbn, tc.bernoulli, tc.learnedPrior, tc.describe}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Layers, Code, Latent, In, Out, SBN, Bernoulli, Learned, Describe = %v, want %v", got, want)
			}
		})
	}
}

// TestWithDefaults checks that a configuration written before Task, Prior
// and Kind existed reads as the model such a file held (a categorical VAE
// with the uniform prior), and that set values are kept.
func TestWithDefaults(t *testing.T) {
	old := Config{N: 20, K: 10, Hidden: []int{512, 256}, Input: Pixels}
	if got, want := old.WithDefaults(), DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("WithDefaults() = %+v, want %+v", got, want)
	}
	if got := sbnDefault.WithDefaults(); got.Task != TaskSBN || got.Kind != LatentBernoulli || got.Prior != PriorUniform {
		t.Errorf("WithDefaults() of the SBN = %+v", got)
	}
}

// TestSplit checks Split on hand-made images for both tasks and both
// element types: the VAE reads and predicts the whole image; the SBN reads
// the first In() pixels (the upper half) and predicts the rest, also for
// an odd Input (3 pixels in, 4 out). Only the first rows images are
// written: the entries past them keep their sentinel.
func TestSplit(t *testing.T) {
	const sentinel = -1
	for _, tc := range []struct {
		name       string
		cfg        Config
		x          []float64
		rows       int
		in, target []float64
	}{
		{"vae", Config{N: 1, K: 2, Input: 4}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 2,
			[]float64{1, 2, 3, 4, 5, 6, 7, 8}, []float64{1, 2, 3, 4, 5, 6, 7, 8}},
		{"vae, 1 of 2 rows", Config{N: 1, K: 2, Input: 4}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 1,
			[]float64{1, 2, 3, 4, sentinel, sentinel, sentinel, sentinel}, []float64{1, 2, 3, 4, sentinel, sentinel, sentinel, sentinel}},
		{"sbn", Config{Task: TaskSBN, N: 1, K: 2, Input: 4}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 2,
			[]float64{1, 2, 5, 6}, []float64{3, 4, 7, 8}},
		{"sbn, odd input", Config{Task: TaskSBN, N: 1, K: 2, Input: 7}, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, 2,
			[]float64{1, 2, 3, 8, 9, 10}, []float64{4, 5, 6, 7, 11, 12, 13, 14}},
		{"sbn, 1 of 2 rows", Config{Task: TaskSBN, N: 1, K: 2, Input: 4}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 1,
			[]float64{1, 2, sentinel, sentinel}, []float64{3, 4, sentinel, sentinel}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, target := fill(len(tc.in), sentinel), fill(len(tc.target), sentinel)
			Split(tc.cfg, tc.x, in, target, tc.rows)
			if !equal(in, tc.in) || !equal(target, tc.target) {
				t.Errorf("float64: in %v target %v, want %v %v", in, target, tc.in, tc.target)
			}
			in32, target32 := to32(fill(len(tc.in), sentinel)), to32(fill(len(tc.target), sentinel))
			Split(tc.cfg, to32(tc.x), in32, target32, tc.rows)
			if !reflect.DeepEqual(in32, to32(tc.in)) || !reflect.DeepEqual(target32, to32(tc.target)) {
				t.Errorf("float32: in %v target %v, want %v %v", in32, target32, tc.in, tc.target)
			}
		})
	}
}

// fill returns n copies of v.
func fill(n int, v float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = v
	}
	return x
}
