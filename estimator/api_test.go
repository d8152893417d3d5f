package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/model"
)

// TestNames checks the estimator names and their classes: Check accepts
// the eight names and lists them when refusing another; Tempered is true
// for gs, st-gs and annealed-st only, Scored for sf, nvil, muprop and darn
// only.
func TestNames(t *testing.T) {
	want := []string{"gs", "st-gs", "st", "annealed-st", "sf", "nvil", "muprop", "darn"}
	if !slices.Equal(Names, want) {
		t.Errorf("Names = %v, want %v", Names, want)
	}
	for _, n := range Names {
		if err := Check(n); err != nil {
			t.Errorf("Check(%q): %v", n, err)
		}
		tempered := n == GS || n == STGS || n == AnnealedST
		scored := n == SF || n == NVIL || n == MuProp || n == DARN
		if Tempered(n) != tempered || Scored(n) != scored {
			t.Errorf("%s: Tempered %t, Scored %t", n, Tempered(n), Scored(n))
		}
	}
	err := Check("rebar")
	if err == nil || !strings.Contains(err.Error(), `unknown estimator "rebar": want one of gs, st-gs, st, annealed-st, sf, nvil, muprop, darn`) {
		t.Errorf("Check(rebar): %v", err)
	}
}

// TestNewRejectsBadCombinations checks the refusals of New, SetRows and
// NewExact that users can hit, by the words of their messages.
func TestNewRejectsBadCombinations(t *testing.T) {
	p, _ := newTiny(t, vaeCat, 1, 1)
	noBase := vaeCat
	noBase.Baseline = 0
	pNo, _ := newTiny(t, noBase, 1, 1)
	pSBN, _ := newTiny(t, sbnCat, 1, 1)
	pLearned, _ := newTiny(t, learned(vaeCat), 1, 1)
	relaxed := Options{Batch: 2, RelaxedKL: true, PriorTau: 0.5}
	for _, tc := range []struct {
		name string
		cfg  model.Config
		p    *model.Params
		opt  Options
		want string
	}{
		{"rebar", vaeCat, p, Options{Batch: 2}, "want one of gs, st-gs"},
		{SF, vaeCat, p, relaxed, "the relaxed KL needs relaxed samples (gs or st-gs)"},
		{ST, vaeCat, p, relaxed, "the relaxed KL needs relaxed samples (gs or st-gs)"},
		{GS, sbnCat, pSBN, relaxed, "the relaxed KL is the VAE's, with the uniform prior"},
		{STGS, learned(vaeCat), pLearned, relaxed, "the relaxed KL is the VAE's, with the uniform prior"},
		{GS, vaeCat, p, Options{Batch: 2, RelaxedKL: true}, "estimator: prior temperature 0 is not positive"}, // refused before the graph is built
		{NVIL, noBase, pNo, Options{Batch: 2}, "the model has no baseline network"},
		{SF, vaeCat, p, Options{Batch: 0}, "batch size 0 is not positive"},
		{SF, vaeBern, p, Options{Batch: 2}, "model:"},
	} {
		_, err := New(tc.name, tc.cfg, tc.p, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s, %s, %+v): error %v, want one containing %q", tc.name, tc.cfg.Describe(), tc.opt, err, tc.want)
		}
	}
	e, err := New(SF, vaeCat, p, Options{Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := NewExact(vaeCat, p, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, est := range []*Estimator{e, ex} {
		for _, n := range []int{0, -1, 6} {
			if err := est.SetRows(n); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d rows in a batch of 5", n)) {
				t.Errorf("%s: SetRows(%d): error %v", est.Name(), n, err)
			}
		}
	}
}

// TestLogitGradByHand checks row.go's per-row formulas, the oracle of the
// VAE tests, against values worked out by hand for one variable of K = 3
// with logits (0, ln 2, ln 5), so mu = (1, 2, 5)/8, the sample
// z = (0, 1, 0), df/dz = d = (1, -1, 2), f = 3:
//
//	st:          <mu, d> = 9/8, g = mu (d - 9/8) = (-1, -34, 35)/64
//	annealed-st: tau = 1/2, p = softmax(2 l) = (1, 4, 25)/30, <p, d> = 47/30,
//	             g = p (d - 47/30) / (1/2) = (-34, -616, 650)/900
//	gs, st-gs:   y = (1/2, 1/4, 1/4), tau = 1/2, <y, d> = 3/4,
//	             g = y (d - 3/4) / (1/2) = (1/4, -7/8, 5/8)
//	darn:        signal d.(z - 1/3) = -5/3; with c = 1,
//	             g = (-5/3 - 1) (z - mu) = (1/3, -2, 5/3)
//	sf:          signal f = 3; with c = 1, g = 2 (z - mu) = (-1/4, 3/2, -5/4)
//	nvil:        b = 1/2: signal f - b = 5/2; with c = 1,
//	             g = 3/2 (z - mu) = (-3/16, 9/8, -15/16)
//	muprop:      f(mu) = 2, f'(mu) = (1, 0, -1): Taylor term
//	             f'(mu).(z - mu) = 1/2, signal 3 - 2 - 1/2 = 1/2; with c = 0,
//	             g = J_mu^T f'(mu) + 1/2 (z - mu)
//	               = mu (f'(mu) + 1/2) + 1/2 (z - mu) = (1/8, 1/2, -5/8)
//
// Tolerance: float64 rounding.
func TestLogitGradByHand(t *testing.T) {
	const tol = 1e-14
	logits := []float64{0, math.Log(2), math.Log(5)}
	r := row{k: 3, tau: 0.5, logits: logits, z: []float64{0, 1, 0}, mu: []float64{1.0 / 8, 2.0 / 8, 5.0 / 8},
		y: []float64{0.5, 0.25, 0.25}, f: 3, d: []float64{1, -1, 2}, fMean: 2, dMean: []float64{1, 0, -1}, base: 0.5}
	for _, tc := range []struct {
		name   string
		c      float64
		want   []float64
		signal float64
		scored bool
	}{
		{ST, 0, []float64{-1.0 / 64, -34.0 / 64, 35.0 / 64}, 0, false},
		{AnnealedST, 0, []float64{-34.0 / 900, -616.0 / 900, 650.0 / 900}, 0, false},
		{GS, 0, []float64{0.25, -7.0 / 8, 5.0 / 8}, 0, false},
		{STGS, 0, []float64{0.25, -7.0 / 8, 5.0 / 8}, 0, false},
		{DARN, 1, []float64{1.0 / 3, -2, 5.0 / 3}, -5.0 / 3, true},
		{SF, 1, []float64{-0.25, 1.5, -1.25}, 3, true},
		{NVIL, 1, []float64{-3.0 / 16, 9.0 / 8, -15.0 / 16}, 2.5, true},
		{MuProp, 0, []float64{1.0 / 8, 0.5, -5.0 / 8}, 0.5, true},
	} {
		g := make([]float64, 3)
		signal, scored := logitGrad(tc.name, r, tc.c, g)
		if scored != tc.scored || math.Abs(signal-tc.signal) > tol {
			t.Errorf("%s: signal %v, scored %t; want %v, %t", tc.name, signal, scored, tc.signal, tc.scored)
		}
		for i := range g {
			if math.Abs(g[i]-tc.want[i]) > tol {
				t.Errorf("%s: g = %v, by hand %v", tc.name, g, tc.want)
				break
			}
		}
	}
}

// TestFloat32 checks the float32 graphs, which training uses, against the
// float64 ones on the same weights, images and seeds, for every estimator,
// NewExact and every tiny model, over 3 draws with variance normalisation:
// the gradients agree to 1e-5 of the largest |gradient| (float32 rounding,
// about 1e-7 relative, through a few layers; the Gumbel noise's float32
// logarithms differ by an ulp, which never flips a sample here), and the
// moving averages likewise.
func TestFloat32(t *testing.T) {
	const tol = 1e-5
	for _, m := range allModels() {
		for _, name := range append(slices.Clone(Names), exact) {
			t.Run(fmt.Sprintf("%s/%s", m.name, name), func(t *testing.T) {
				p64, x64 := newTiny(t, m.cfg, 15, 4)
				p32 := &model.Params{Names: p64.Names}
				for _, pt := range p64.Tensors {
					v := make([]float32, pt.Len())
					for i, x := range pt.Float64s() {
						v[i] = float32(x)
					}
					p32.Tensors = append(p32.Tensors, tensor.New(tensor.WithShape(pt.Shape()...), tensor.WithBacking(v)))
				}
				build := func(p *model.Params) *Estimator {
					var e *Estimator
					var err error
					if name == exact {
						e, err = NewExact(m.cfg, p, 4)
					} else {
						e, err = New(name, m.cfg, p, Options{Batch: 4, Normalize: true})
					}
					if err != nil {
						t.Fatal(err)
					}
					switch x := e.X.Data().(type) {
					case []float64:
						copy(x, x64)
					case []float32:
						for i, v := range x64 {
							x[i] = float32(v)
						}
					}
					return e
				}
				e64, e32 := build(p64), build(p32)
				r64, r32 := rand.New(rand.NewPCG(4, 4)), rand.New(rand.NewPCG(4, 4))
				for d := range 3 {
					if err := e64.Estimate(0.8, r64); err != nil {
						t.Fatal(err)
					}
					if err := e32.Estimate(0.8, r32); err != nil {
						t.Fatal(err)
					}
					var g32 []float64
					for _, g := range e32.Grads() {
						for _, v := range g.Float32s() {
							g32 = append(g32, float64(v))
						}
					}
					if msg := closeVec(p64, g32, flatGrads(e64), tol); msg != "" {
						t.Fatalf("draw %d: float32 vs float64: %s", d, msg)
					}
					if a, b := e32.Loss(), e64.Loss(); math.Abs(a-b) > tol*math.Max(1, math.Abs(b)) {
						t.Fatalf("draw %d: loss %.8g in float32, %.8g in float64", d, a, b)
					}
					for i, st := range e64.Stats() {
						got := e32.Stats()[i]
						if math.Abs(got.Mean-st.Mean) > tol*math.Max(1, math.Abs(st.Mean)) || math.Abs(got.Var-st.Var) > tol*math.Max(1, st.Var) {
							t.Fatalf("draw %d layer %d: moving averages %+v in float32, %+v in float64", d, i, got, st)
						}
					}
				}
			})
		}
	}
}
