package eval_test

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/estimator"
	"gsvae/eval"
	"gsvae/model"
)

// TestGradVarOnTinyModel measures every estimator on a model small enough
// for the exact gradient (2 variables of 3 classes; weights at 3 times the
// initial scale so that f depends strongly on z) and checks what theory
// says, each with a margin that the draws' own noise justifies:
//   - sf, nvil and muprop are unbiased: their relative bias is within 2
//     times RelBiasNoise, the value pure noise gives (|mean - g*|^2 sums
//     ~300 squared errors whose expectation is RelBiasNoise^2 |g*|^2, so it
//     concentrates near it);
//   - the bias of gs falls from tau = 2 to tau = 0.1;
//   - the encoder variance of sf exceeds that of muprop and of nvil (with
//     its baseline fitted by estimator.FitBaseline).
func TestGradVarOnTinyModel(t *testing.T) {
	cfg := model.Config{N: 2, K: 3, Hidden: []int{8, 6}, Input: 6, Kind: model.LatentCategorical, Prior: model.PriorUniform}
	rng := rand.New(rand.NewPCG(8, 1))
	p, err := model.NewParams(cfg, tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range p.Tensors {
		for i := range pt.Float32s() {
			pt.Float32s()[i] *= 3
		}
	}
	x := make([]float32, 4*cfg.Input)
	for i := range x {
		x[i] = float32(rng.IntN(2))
	}
	cfgB, pB, err := estimator.FitBaseline(cfg, p, x, estimator.FitBaselineSteps, 2)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eval.GradVar(context.Background(), cfgB, pB, x, eval.GradVarOptions{
		Estimators: estimator.Names, Taus: []float64{0.1, 2}, Draws: 2000, Warmup: eval.DefaultWarmup, Seed: 3,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reference != "exact" {
		t.Fatalf("reference %q, want exact", rep.Reference)
	}
	stat := map[[3]any]eval.GradStat{}
	for _, s := range rep.Stats {
		stat[[3]any{s.Estimator, s.Tau, s.Part}] = s
		t.Logf("%-11s tau %-4g %-7s log10 var %6.2f  snr %6.3f  rel bias %.4f (noise %.4f)  cos %.4f",
			s.Estimator, s.Tau, s.Part, s.Log10Var, s.SNR, s.RelBias, s.RelBiasNoise, s.Cosine)
	}
	for _, name := range []string{estimator.SF, estimator.NVIL, estimator.MuProp} {
		for _, part := range []string{model.PartEncoder, model.PartDecoder} {
			s := stat[[3]any{name, 0.0, part}]
			if !(s.RelBias <= 2*s.RelBiasNoise) {
				t.Errorf("%s %s: relative bias %.4f above twice its noise level %.4f", name, part, s.RelBias, s.RelBiasNoise)
			}
		}
	}
	for _, part := range []string{model.PartEncoder, model.PartDecoder} {
		lo, hi := stat[[3]any{estimator.GS, 0.1, part}], stat[[3]any{estimator.GS, 2.0, part}]
		if !(lo.RelBias+2*lo.RelBiasNoise < hi.RelBias) {
			t.Errorf("gs %s: relative bias %.4f (noise %.4f) at tau 0.1 is not clearly below %.4f at tau 2", part, lo.RelBias, lo.RelBiasNoise, hi.RelBias)
		}
	}
	sf := stat[[3]any{estimator.SF, 0.0, model.PartEncoder}]
	for _, name := range []string{estimator.MuProp, estimator.NVIL} {
		if s := stat[[3]any{name, 0.0, model.PartEncoder}]; !(s.Var < sf.Var) {
			t.Errorf("encoder variance of %s %.4g is not below that of sf %.4g", name, s.Var, sf.Var)
		}
	}
}

// randomModel returns float32 weights of cfg drawn from seed and a batch
// of rows random binary images of cfg.Input pixels.
func randomModel(t *testing.T, cfg model.Config, rows int, seed uint64) (*model.Params, []float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	p, err := model.NewParams(cfg, tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, rows*cfg.Input)
	for i := range x {
		x[i] = float32(rng.IntN(2))
	}
	return p, x
}

// TestGradVarReference checks where GradVar stops enumerating: the
// reference is exact while the batch times K^N is at most
// estimator.MaxEnumRows (65,536), and the mean of RefDraws muprop draws
// beyond, or when K^N exceeds estimator.MaxCodes (4,096). A 3x4 model (64
// codes) of 6-pixel images is enumerated at batch 1,024 and not at 1,025;
// a 4,097-code model never is. The muprop reference reports its draws and
// a finite relative standard error per part.
func TestGradVarReference(t *testing.T) {
	small := model.Config{N: 3, K: 4, Hidden: []int{4}, Input: 6}
	wide := model.Config{N: 1, K: 4097, Hidden: []int{4}, Input: 6}
	for _, tc := range []struct {
		cfg  model.Config
		rows int
		want string
	}{
		{small, 1024, "exact"},
		{small, 1025, estimator.MuProp},
		{wide, 1, estimator.MuProp},
	} {
		p, x := randomModel(t, tc.cfg, tc.rows, 4)
		rep, err := eval.GradVar(context.Background(), tc.cfg, p, x, eval.GradVarOptions{
			Estimators: []string{estimator.ST}, Draws: 2, RefDraws: 3, Seed: 1,
		}, nil)
		if err != nil {
			t.Fatalf("K^N = %d, batch %d: %v", estimator.Codes(tc.cfg), tc.rows, err)
		}
		if rep.Reference != tc.want {
			t.Errorf("%d^%d codes, batch %d: reference %q, want %q", tc.cfg.K, tc.cfg.N, tc.rows, rep.Reference, tc.want)
		}
		if tc.want == estimator.MuProp {
			for _, part := range []string{model.PartEncoder, model.PartDecoder} {
				if se := rep.RefRelSE[part]; rep.RefDraws != 3 || math.IsNaN(se) || math.IsInf(se, 0) || se <= 0 {
					t.Errorf("%d^%d codes, batch %d: %d reference draws, %s relative standard error %v", tc.cfg.K, tc.cfg.N, tc.rows, rep.RefDraws, part, se)
				}
			}
		}
	}
}

// TestGradVarDoesNotEnumerateLargeBatches measures a 784-pixel model with
// K^N = 4,096 codes (12 Bernoulli variables) on a batch of 100 images:
// enumeration would decode 409,600 rows of 784 pixels (it took 17.9 GB
// before GradVar checked the batch), so GradVar must fall back on a
// muprop reference, and allocate less than 256 MB in all.
func TestGradVarDoesNotEnumerateLargeBatches(t *testing.T) {
	cfg := model.Config{N: 12, K: 2, Kind: model.LatentBernoulli, Hidden: []int{8}, Input: model.Pixels}
	if estimator.Codes(cfg) != 4096 {
		t.Fatalf("K^N = %d, want 4096", estimator.Codes(cfg))
	}
	p, x := randomModel(t, cfg, 100, 5)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep, err := eval.GradVar(context.Background(), cfg, p, x, eval.GradVarOptions{
		Estimators: []string{estimator.GS}, Taus: []float64{1}, Draws: 2, RefDraws: 2, Seed: 1,
	}, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reference != estimator.MuProp {
		t.Errorf("reference %q, want muprop", rep.Reference)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("GradVar allocated %d MB", grew>>20)
	}
}

// TestGradVarOnTinySBN measures the score-function estimators on a
// two-layer belief network small enough for the exact gradient (2
// variables of 3 classes per layer, 3-pixel halves, weights at 3 times
// the initial scale, nvil's baseline fitted), for both latent kinds:
// sf, nvil and muprop, whose score terms reach both layers, must be
// unbiased, with the margin of TestGradVarOnTinyModel (relative bias
// within 2 times RelBiasNoise). A score term that misses h1, or takes
// p(h1) for p(h2 | h1), is biased by far more.
func TestGradVarOnTinySBN(t *testing.T) {
	for _, kind := range []string{model.LatentCategorical, model.LatentBernoulli} {
		cfg := model.Config{Task: model.TaskSBN, N: 2, K: 3, Hidden: []int{}, Input: 6, Kind: kind}
		if kind == model.LatentBernoulli {
			cfg.K = 2
		}
		t.Run(cfg.Describe(), func(t *testing.T) {
			p, x := randomModel(t, cfg, 4, 9)
			for _, pt := range p.Tensors {
				for i := range pt.Float32s() {
					pt.Float32s()[i] *= 3
				}
			}
			cfgB, pB, err := estimator.FitBaseline(cfg, p, x, estimator.FitBaselineSteps, 2)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{estimator.SF, estimator.NVIL, estimator.MuProp}
			rep, err := eval.GradVar(context.Background(), cfgB, pB, x, eval.GradVarOptions{
				Estimators: names, Draws: 2000, Warmup: eval.DefaultWarmup, Seed: 3,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Reference != "exact" {
				t.Fatalf("reference %q, want exact", rep.Reference)
			}
			for _, s := range rep.Stats {
				t.Logf("%-7s %-7s log10 var %6.2f  rel bias %.4f (noise %.4f)  cos %.4f", s.Estimator, s.Part, s.Log10Var, s.RelBias, s.RelBiasNoise, s.Cosine)
				if !(s.RelBias <= 2*s.RelBiasNoise) {
					t.Errorf("%s %s: relative bias %.4f above twice its noise level %.4f", s.Estimator, s.Part, s.RelBias, s.RelBiasNoise)
				}
			}
		})
	}
}
