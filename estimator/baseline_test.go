package estimator

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/model"
)

// to32 returns float32 copies of p's tensors; to64 float64 copies.
func to32(p *model.Params) *model.Params {
	out := &model.Params{Names: p.Names}
	for _, t := range p.Tensors {
		v := make([]float32, t.Len())
		for i, x := range t.Float64s() {
			v[i] = float32(x)
		}
		out.Tensors = append(out.Tensors, tensor.New(tensor.WithShape(t.Shape()...), tensor.WithBacking(v)))
	}
	return out
}

func to64(p *model.Params) *model.Params {
	out := &model.Params{Names: p.Names}
	for _, t := range p.Tensors {
		v := make([]float64, t.Len())
		for i, x := range t.Float32s() {
			v[i] = float64(x)
		}
		out.Tensors = append(out.Tensors, tensor.New(tensor.WithShape(t.Shape()...), tensor.WithBacking(v)))
	}
	return out
}

// TestFitBaseline fits NVIL's baseline network to a batch of 16 images of
// the categorical VAE without one (float32, as training uses it) and
// checks that FitBaseline returns the configuration with a baseline of
// BaselineWidth units, shares the model's tensors and leaves their values
// alone, and learns: b(x) regresses f(z) - c, c a constant, so the spread
// over the images of E[f | x] - b(x) (E by enumeration, by the oracle),
// which is that of E[f | x] for the untrained, near-constant b, must
// shrink to less than a quarter. It also refuses a batch that is not
// whole images.
func TestFitBaseline(t *testing.T) {
	cfg := vaeCat
	cfg.Baseline = 0
	p64, x64 := newTiny(t, cfg, 3, 16)
	p := to32(p64)
	x := make([]float32, len(x64))
	for i, v := range x64 {
		x[i] = float32(v)
	}
	before := append([]float32(nil), p.Tensors[0].Float32s()...)
	spread := func(cfgB model.Config, pB *model.Params) float64 {
		ref := newRef(cfgB, to64(pB))
		var d []float64
		for b := range 16 {
			img := x64[b*cfg.Input : (b+1)*cfg.Input]
			l, _ := ref.logits(0, img)
			var ef float64
			for _, z := range enumCodes(cfg) {
				f, _, _ := ref.decode(z, img)
				ef += codeProb(l, z, cfg.K) * f
			}
			base, _ := ref.baseline(img)
			d = append(d, ef-base)
		}
		var mean, sq float64
		for _, v := range d {
			mean += v / float64(len(d))
		}
		for _, v := range d {
			sq += (v - mean) * (v - mean) / float64(len(d))
		}
		return math.Sqrt(sq)
	}
	cfg0, p0, err := FitBaseline(cfg, p, x, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfgB, pB, err := FitBaseline(cfg, p, x, FitBaselineSteps, 1)
	if err != nil {
		t.Fatal(err)
	}
	if cfgB.Baseline != BaselineWidth || cfg0.Baseline != BaselineWidth {
		t.Fatalf("baseline width %d, want %d", cfgB.Baseline, BaselineWidth)
	}
	if err := pB.Check(cfgB, tensor.Float32); err != nil {
		t.Fatal(err)
	}
	for i, tt := range p.Tensors {
		if pB.Tensors[i] != tt {
			t.Errorf("tensor %s is not shared", p.Names[i])
		}
	}
	for i, v := range p.Tensors[0].Float32s() {
		if v != before[i] {
			t.Fatalf("FitBaseline changed the model's %s", p.Names[0])
		}
	}
	s0, s1 := spread(cfg0, p0), spread(cfgB, pB)
	t.Logf("spread of E[f|x] - b(x) over 16 images: %.3f untrained, %.3f after %d steps", s0, s1, FitBaselineSteps)
	if !(s1 < s0/4) {
		t.Errorf("spread of E[f|x] - b(x): %.3f after fitting, %.3f before", s1, s0)
	}
	if _, _, err := FitBaseline(cfg, p, x[:len(x)-1], 10, 1); err == nil || !strings.Contains(err.Error(), "is not a batch of 6-pixel images") {
		t.Errorf("FitBaseline on a partial image: %v", err)
	}
}

// TestFitBaselineSteps checks what FitBaseline does besides learning
// (TestFitBaseline): it fits a batch of one image; it takes exactly steps
// Adam steps, each of which moves b (the baseline networks after 0, 1
// and 2 steps differ pairwise); and for a model that has a baseline network
// already, it leaves the model's tensors shared and its baseline alone,
// starting from a copy of it when its width is BaselineWidth (after 0
// steps the fitted baseline equals it) and from a fresh one of
// BaselineWidth units otherwise (width 3 here).
func TestFitBaselineSteps(t *testing.T) {
	p64, x64 := newTiny(t, vaeCat, 4, 1) // vaeCat has a 3-unit baseline
	p := to32(p64)
	x := make([]float32, len(x64))
	for i, v := range x64 {
		x[i] = float32(v)
	}
	own := len(p.Tensors) - model.BaselineTensors
	noBase := vaeCat
	noBase.Baseline = 0
	bare := &model.Params{Names: p.Names[:own], Tensors: p.Tensors[:own]}
	var fits [][]float32
	for steps := range 3 {
		cfgB, pB, err := FitBaseline(noBase, bare, x, steps, 5)
		if err != nil {
			t.Fatalf("%d steps on one image: %v", steps, err)
		}
		if cfgB.Baseline != BaselineWidth {
			t.Fatalf("baseline width %d, want %d", cfgB.Baseline, BaselineWidth)
		}
		var b []float32
		for _, tt := range pB.Tensors[own:] {
			b = append(b, tt.Float32s()...)
		}
		fits = append(fits, b)
	}
	for a := range fits {
		for b := a + 1; b < len(fits); b++ {
			if slices.Equal(fits[a], fits[b]) {
				t.Errorf("the baseline network is the same after %d and after %d steps", a, b)
			}
		}
	}

	for _, width := range []int{3, BaselineWidth} {
		cfg := vaeCat
		cfg.Baseline = width
		pw, err := bare.WithBaseline(cfg, rand.New(rand.NewPCG(6, 6)))
		if err != nil {
			t.Fatal(err)
		}
		saved := make([][]float32, len(pw.Tensors))
		for i, tt := range pw.Tensors {
			saved[i] = append([]float32(nil), tt.Float32s()...)
		}
		for _, steps := range []int{0, 2} {
			cfgB, pB, err := FitBaseline(cfg, pw, x, steps, 5)
			if err != nil {
				t.Fatalf("width %d, %d steps: %v", width, steps, err)
			}
			if cfgB.Baseline != BaselineWidth || pB.Check(cfgB, tensor.Float32) != nil {
				t.Fatalf("width %d: fitted baseline width %d (%v)", width, cfgB.Baseline, pB.Check(cfgB, tensor.Float32))
			}
			for i := range own {
				if pB.Tensors[i] != pw.Tensors[i] {
					t.Errorf("width %d: tensor %s is not shared", width, p.Names[i])
				}
			}
			for i, tt := range pw.Tensors {
				if !slices.Equal(tt.Float32s(), saved[i]) {
					t.Errorf("width %d, %d steps: FitBaseline changed the model's %s", width, steps, pw.Names[i])
				}
			}
			if width == BaselineWidth && steps == 0 {
				for i := own; i < len(pB.Tensors); i++ {
					if pB.Tensors[i] == pw.Tensors[i] || !slices.Equal(pB.Tensors[i].Float32s(), saved[i]) {
						t.Errorf("width %d: %s is not a copy of the model's", width, pB.Names[i])
					}
				}
			}
		}
	}
}

// TestFitBaselineNamesNonFiniteGradient checks that FitBaseline refuses a
// non-finite gradient of the baseline network and names its tensor. The
// baseline is built so that only base1.w's gradient overflows: base0.w = 0
// and base0.b = 3e38 make every hidden unit 3e38 whatever the image,
// base1.w = 1e-39 and base1.b = 1000 make b(x) about 1030, far above the
// signal s (a few nats), so base1.w's gradient, about (b(x) - s) times
// 3e38, passes float32's largest 3.4e38, while base0's, (b(x) - s) times
// 1e-39, and base1.b's, b(x) - s, stay finite.
func TestFitBaselineNamesNonFiniteGradient(t *testing.T) {
	p64, x64 := newTiny(t, vaeCat, 4, 2)
	p := to32(p64)
	x := make([]float32, len(x64))
	for i, v := range x64 {
		x[i] = float32(v)
	}
	cfg := vaeCat
	cfg.Baseline = BaselineWidth
	own := len(p.Tensors) - model.BaselineTensors
	pb, err := (&model.Params{Names: p.Names[:own], Tensors: p.Tensors[:own]}).WithBaseline(cfg, rand.New(rand.NewPCG(6, 6)))
	if err != nil {
		t.Fatal(err)
	}
	fill := map[string]float32{"base0.w": 0, "base0.b": 3e38, "base1.w": 1e-39, "base1.b": 1000}
	for i, name := range pb.Names {
		if v, ok := fill[name]; ok {
			for j := range pb.Tensors[i].Float32s() {
				pb.Tensors[i].Float32s()[j] = v
			}
		}
	}
	_, _, err = FitBaseline(cfg, pb, x, 1, 5)
	if err == nil || !strings.Contains(err.Error(), "fit baseline: non-finite gradient of base1.w") {
		t.Errorf("FitBaseline with an overflowing base1.w gradient: error %v, want one naming base1.w", err)
	}
}
