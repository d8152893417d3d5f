package eval_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/estimator"
	"gsvae/eval"
	"gsvae/model"
	"gsvae/train"
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
//     its baseline fitted by train.FitBaseline).
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
	cfgB, pB, err := train.FitBaseline(cfg, p, x, train.FitBaselineSteps, 2)
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
