package train

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"gsvae/estimator"
	"gsvae/model"
)

// Settings of FitBaseline: Adam at a rate well above the model's, since
// the targets are tens of nats and only the small baseline network moves.
const (
	fitBaselineLR = 1e-2
	// FitBaselineSteps is the default number of nvil estimates FitBaseline
	// learns from.
	FitBaselineSteps = 300
)

// FitBaseline returns the model (cfg, p) with an NVIL baseline network b(x)
// fitted to the minibatch x at the model's current weights: Adam (rate
// 1e-2) on b alone, for steps estimates of nvil, each moving b towards the
// centred learning signal f(z) - c of a fresh sample. The model's own
// tensors are shared, never changed; a baseline network p already has is
// copied, so a training run's is left alone. Measuring nvil at a
// checkpoint that was not trained with it needs this: an untrained b(x)
// only adds noise.
func FitBaseline(cfg model.Config, p *model.Params, x []float32, steps int, seed uint64) (model.Config, *model.Params, error) {
	rows := len(x) / cfg.Input
	if rows < 1 || rows*cfg.Input != len(x) {
		return cfg, nil, fmt.Errorf("fit baseline: %d pixels is not a batch of %d-pixel images", len(x), cfg.Input)
	}
	rng := rand.New(rand.NewPCG(seed, 0xba5e))
	withBase := cfg
	withBase.Baseline = estimator.BaselineWidth
	fresh, err := model.NewParams(withBase, tensor.Float32, rng)
	if err != nil {
		return cfg, nil, err
	}
	nModel := len(fresh.Tensors) - model.BaselineTensors // the model's tensors come first
	fit := &model.Params{}
	for i, name := range fresh.Names {
		t := fresh.Tensors[i]
		switch {
		case i < nModel:
			t = p.Tensors[i] // the model's own, shared
		case cfg.Baseline == estimator.BaselineWidth:
			copy(t.Float32s(), p.Tensors[i].Float32s()) // start from p's baseline
		}
		fit.Names, fit.Tensors = append(fit.Names, name), append(fit.Tensors, t)
	}
	est, err := estimator.New(estimator.NVIL, withBase, fit, estimator.Options{Batch: rows})
	if err != nil {
		return cfg, nil, err
	}
	copy(est.X.Float32s(), x)
	base := fit.Tensors[nModel:]
	sizes := make([]int, len(base))
	params := make([][]float32, len(base))
	for i, t := range base {
		sizes[i], params[i] = t.Len(), t.Float32s()
	}
	opt, err := NewOptimizer(OptAdam, fitBaselineLR, sizes)
	if err != nil {
		return cfg, nil, err
	}
	grads := make([][]float32, len(base))
	for range steps {
		if err := est.Estimate(1, rng); err != nil {
			return cfg, nil, fmt.Errorf("fit baseline: %w", err)
		}
		for i, g := range est.Grads()[nModel:] {
			grads[i] = g.Float32s()
		}
		if i := opt.Step(params, grads); i >= 0 {
			return cfg, nil, fmt.Errorf("fit baseline: %w: gradient of %s", ErrNonFinite, fit.Names[nModel+i])
		}
	}
	return withBase, fit, nil
}
