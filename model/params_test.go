package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// TestNewParamsDeterministic checks that a seed gives one model: the same
// bits on every call, float32 weights the rounding of the float64 ones
// (both are drawn in float64), and another seed other weights.
func TestNewParamsDeterministic(t *testing.T) {
	for _, cfg := range []Config{{N: 20, K: 10, Hidden: []int{16, 8}, Input: 64}, tinySBNBernoulli, learned(tinyBernoulli)} {
		t.Run(cfg.Describe(), func(t *testing.T) {
			draw := func(dt tensor.Dtype, seed uint64) *Params {
				p, err := NewParams(cfg, dt, rand.New(rand.NewPCG(seed, 2)))
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			a, b, c := draw(tensor.Float64, 1), draw(tensor.Float64, 1), draw(tensor.Float64, 2)
			f := draw(tensor.Float32, 1)
			same := true
			for i := range a.Tensors {
				x, y, z, w := a.Tensors[i].Float64s(), b.Tensors[i].Float64s(), c.Tensors[i].Float64s(), f.Tensors[i].Float32s()
				for j := range x {
					if math.Float64bits(x[j]) != math.Float64bits(y[j]) {
						t.Fatalf("%s[%d]: %v then %v from one seed", a.Names[i], j, x[j], y[j])
					}
					if w[j] != float32(x[j]) {
						t.Fatalf("%s[%d]: float32 %v, float64 %v", a.Names[i], j, w[j], x[j])
					}
					same = same && x[j] == z[j]
				}
			}
			if same {
				t.Error("seeds 1 and 2 give the same weights")
			}
		})
	}
}

// TestNewParamsInit checks NewParams against a hand loop of PyTorch's
// nn.Linear initialisation (torch.nn.Linear.reset_parameters: weights by
// kaiming_uniform_ with a = sqrt(5), which is U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), and the bias from the same bound): layer by layer, the
// weights drawn in (in, out) row-major order, that is column by column of
// the stored (out, in) matrix, then the bias; a learned prior's logits
// zero and drawing nothing; the baseline's layers last. The layers are
// written out by hand, not taken from the package.
func TestNewParamsInit(t *testing.T) {
	type lay struct {
		name    string
		in, out int
	}
	for _, tc := range []struct {
		name   string
		cfg    Config
		layers []lay // in the order of Params, the prior's logits as out=N*K, in=0
	}{
		{"tiny VAE, learned prior, baseline", Config{N: 2, K: 3, Hidden: []int{5, 4}, Input: 6, Prior: PriorLearned, Baseline: 3}, []lay{
			{"enc0", 6, 5}, {"enc1", 5, 4}, {"enc2", 4, 6}, {"dec0", 6, 4}, {"dec1", 4, 5}, {"dec2", 5, 6},
			{"prior", 0, 6}, {"base0", 6, 3}, {"base1", 3, 1},
		}},
		{"linear bernoulli VAE", Config{N: 3, K: 2, Input: 6, Kind: LatentBernoulli}, []lay{{"enc0", 6, 3}, {"dec0", 3, 6}}},
		{"bernoulli SBN", tinySBNBernoulli, []lay{{"h1", 4, 3}, {"h2", 3, 3}, {"xl", 3, 4}}},
		{"categorical SBN", tinySBN, []lay{{"h1", 4, 6}, {"h2", 6, 6}, {"xl", 6, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewParams(tc.cfg, tensor.Float64, rand.New(rand.NewPCG(7, 7)))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 7))
			var want [][]float64
			var bounds []float64 // per tensor; 0 for the prior's logits
			for _, l := range tc.layers {
				if l.in == 0 {
					want, bounds = append(want, make([]float64, l.out)), append(bounds, 0)
					continue
				}
				bound := 1 / math.Sqrt(float64(l.in))
				w := make([]float64, l.out*l.in)
				for j := range l.in {
					for i := range l.out {
						w[i*l.in+j] = bound * (2*rng.Float64() - 1)
					}
				}
				b := make([]float64, l.out)
				for j := range b {
					b[j] = bound * (2*rng.Float64() - 1)
				}
				want, bounds = append(want, w, b), append(bounds, bound, bound)
			}
			if len(p.Tensors) != len(want) {
				t.Fatalf("%d tensors, want %d", len(p.Tensors), len(want))
			}
			for k, d := range p.Tensors {
				got := d.Float64s()
				if !equal(got, want[k]) {
					t.Errorf("%s: %v, want %v", p.Names[k], got, want[k])
				}
				for _, v := range got {
					if math.Abs(v) > bounds[k] {
						t.Errorf("%s: %v outside +-%v", p.Names[k], v, bounds[k])
						break
					}
				}
			}
		})
	}
}

// TestNewParamsErrors checks that NewParams refuses an invalid
// configuration (with its *SettingError) and a dtype other than float32
// and float64.
func TestNewParamsErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var se *SettingError
	if _, err := NewParams(Config{N: 0, K: 2, Input: 4}, tensor.Float32, rng); !errors.As(err, &se) || se.Setting != "n" {
		t.Errorf("N = 0: error %v, want a *SettingError for n", err)
	}
	if _, err := NewParams(tinyVAE, tensor.Int, rng); err == nil || !strings.Contains(err.Error(), "dtype") {
		t.Errorf("int dtype: error %v, want one naming the dtype", err)
	}
}

// TestParamsCheck checks that Check accepts the parameters NewParams makes
// and names the first difference of anything else: the number of tensors,
// a name, a shape, the dtype, an invalid configuration, the parameters of
// another architecture.
func TestParamsCheck(t *testing.T) {
	cfg := learned(tinyVAE)
	fresh := func() *Params {
		p, err := NewParams(cfg, tensor.Float64, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		cfg    Config
		dt     tensor.Dtype
		change func(p *Params)
		want   string // a substring of the error; "" for none
	}{
		{"valid", cfg, tensor.Float64, func(*Params) {}, ""},
		{"missing tensor", cfg, tensor.Float64, func(p *Params) {
			p.Names, p.Tensors = p.Names[:12], p.Tensors[:12]
		}, "12 parameter tensors, the architecture needs 13"},
		{"names and tensors differ in number", cfg, tensor.Float64, func(p *Params) { p.Names = append(p.Names[:12:12], "prior.logits", "extra") }, "parameter tensors"},
		{"renamed", cfg, tensor.Float64, func(p *Params) { p.Names[2] = "enc1.weights" }, `parameter 2 is "enc1.weights", want "enc1.w"`},
		{"swapped", cfg, tensor.Float64, func(p *Params) {
			p.Names[0], p.Names[1] = p.Names[1], p.Names[0]
			p.Tensors[0], p.Tensors[1] = p.Tensors[1], p.Tensors[0]
		}, `parameter 0 is "enc0.b", want "enc0.w"`},
		{"transposed", cfg, tensor.Float64, func(p *Params) { p.Tensors[2] = tensor.New(tensor.WithShape(5, 4), tensor.Of(tensor.Float64)) }, "enc1.w has shape (5, 4), want (4, 5)"},
		{"prior shape", cfg, tensor.Float64, func(p *Params) { p.Tensors[12] = tensor.New(tensor.WithShape(1, 2), tensor.Of(tensor.Float64)) }, "prior.logits has shape (1, 2), want (1, 6)"},
		{"dtype", cfg, tensor.Float32, func(*Params) {}, "enc0.w has dtype float64, want float32"},
		{"invalid configuration", Config{N: 2, K: 1, Input: 6}, tensor.Float64, func(*Params) {}, "k 1: "},
		{"uniform prior", tinyVAE, tensor.Float64, func(*Params) {}, "13 parameter tensors, the architecture needs 12"},
		{"other N", learned(Config{N: 3, K: 3, Hidden: []int{5, 4}, Input: 6}), tensor.Float64, func(*Params) {}, "enc2.w has shape (6, 4), want (9, 4)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fresh()
			tc.change(p)
			err := p.Check(tc.cfg, tc.dt)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Check = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestPriorLogits checks the prior's logits in the categorical view:
// zeros (uniform) without a learned prior, the learned logits as they
// are for categorical latents (from float64 and float32 tensors), and
// each Bernoulli logit l as the pair (l, 0).
func TestPriorLogits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		dt     tensor.Dtype
		logits []float64 // the prior.logits tensor's values
		want   []float64
	}{
		{"uniform categorical", tinyVAE, tensor.Float64, nil, []float64{0, 0, 0, 0, 0, 0}},
		{"uniform bernoulli", tinyBernoulli, tensor.Float32, nil, []float64{0, 0, 0, 0, 0, 0}},
		{"learned categorical float64", learned(tinyVAE), tensor.Float64, []float64{1, -2, 0.5, 3, 0, -1}, []float64{1, -2, 0.5, 3, 0, -1}},
		{"learned categorical float32", learned(tinyVAE), tensor.Float32, []float64{1, -2, 0.5, 3, 0.25, -1}, []float64{1, -2, 0.5, 3, 0.25, -1}},
		{"learned bernoulli", learned(tinyBernoulli), tensor.Float64, []float64{1.5, -2, 3}, []float64{1.5, 0, -2, 0, 3, 0}},
		{"learned bernoulli float32", learned(tinyBernoulli), tensor.Float32, []float64{1.5, -2, 3}, []float64{1.5, 0, -2, 0, 3, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewParams(tc.cfg, tc.dt, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.logits != nil {
				d := p.Tensors[p.Index("prior.logits")]
				for i, v := range tc.logits {
					d.SetAt(castTo(tc.dt, v), 0, i)
				}
			}
			if got := p.PriorLogits(tc.cfg); !equal(got, tc.want) {
				t.Errorf("PriorLogits = %v, want %v", got, tc.want)
			}
		})
	}
}

// castTo returns v as a value of dtype dt.
func castTo(dt tensor.Dtype, v float64) any {
	if dt == tensor.Float32 {
		return float32(v)
	}
	return v
}

// TestWithBaseline checks that WithBaseline appends the baseline network's
// tensors (In()-Baseline-1) to a model and shares the model's own: the
// same *tensor.Dense values, so an update through either is seen by both;
// a baseline the model already has is replaced by one of the new width.
func TestWithBaseline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config // the model's
		baseline int
	}{
		{"vae", tinyVAE, 3},
		{"linear vae", tinyLinear, 2},
		{"sbn", tinySBNBernoulli, 3},
		{"vae with a baseline", with(func(c *Config) { *c = tinyVAE; c.Baseline = 5 }), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewParams(tc.cfg, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			cfg := tc.cfg
			cfg.Baseline = tc.baseline
			q, err := p.WithBaseline(cfg, rand.New(rand.NewPCG(2, 2)))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Check(cfg, tensor.Float32); err != nil {
				t.Fatal(err)
			}
			names, _ := cfg.Shapes()
			if !reflect.DeepEqual(q.Names, names) {
				t.Errorf("names %v, want %v", q.Names, names)
			}
			model := len(names) - BaselineTensors
			for i := range model {
				if q.Tensors[i] != p.Tensors[i] {
					t.Errorf("%s is a copy, want the model's tensor", q.Names[i])
				}
			}
			p.Tensors[0].Float32s()[0] = 42
			if q.Tensors[0].Float32s()[0] != 42 {
				t.Error("an update of the model's weights is not seen through WithBaseline's")
			}
			for i := model; i < len(q.Tensors); i++ {
				var nonzero bool
				for _, v := range q.Tensors[i].Float32s() {
					nonzero = nonzero || v != 0
				}
				if !nonzero {
					t.Errorf("%s is all zero, want drawn weights", q.Names[i])
				}
			}
		})
	}
}

// TestParamsIndexLen checks Index (position by name, -1 when absent) and
// Len (the number of scalars) on the tiny VAE: 6*5+5 + 5*4+4 + 4*6+6 +
// 6*4+4 + 4*5+5 + 5*6+6 = 178.
func TestParamsIndexLen(t *testing.T) {
	p, _ := newTinyParams(t, tinyVAE, 1)
	if got := p.Len(); got != 178 {
		t.Errorf("Len = %d, want 178", got)
	}
	for name, want := range map[string]int{"enc0.w": 0, "enc2.b": 5, "dec0.w": 6, "dec2.b": 11, "prior.logits": -1, "": -1} {
		if got := p.Index(name); got != want {
			t.Errorf("Index(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestWithBaselineNeedsWidth checks that WithBaseline refuses a
// configuration without a baseline network (Baseline 0). It used to
// return, without an error, parameters whose last four tensors were freshly
// drawn in place of the model's (for the linear VAE, every tensor): it
// keeps the model's tensors up to len - BaselineTensors of the new ones.
func TestWithBaselineNeedsWidth(t *testing.T) {
	for _, cfg := range []Config{tinyVAE, tinyLinear, tinySBN} {
		p, err := NewParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		q, err := p.WithBaseline(cfg, rand.New(rand.NewPCG(2, 2)))
		if err == nil {
			shared := 0
			for i := range q.Tensors {
				if q.Tensors[i] == p.Tensors[i] {
					shared++
				}
			}
			t.Errorf("%s: WithBaseline with Baseline 0 gave no error and shares %d of %d tensors", cfg.Describe(), shared, len(p.Tensors))
		}
	}
}
