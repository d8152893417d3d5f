package estimator

import (
	"fmt"
	"math/rand/v2"

	"gsvae/internal/kernels"
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
// fitted to the minibatch x (rows of cfg.Input float32 pixels) at the
// model's current weights: Adam (rate 1e-2) on b alone, for steps
// estimates of nvil, each moving b towards the centred learning signal
// f(z) - c of a fresh sample. The model's own tensors are shared, never
// changed; a baseline network p already has is copied, so a training run's
// is left alone. Measuring nvil at a checkpoint that was not trained with
// it needs this: an untrained b(x) only adds noise.
func FitBaseline(cfg model.Config, p *model.Params, x []float32, steps int, seed uint64) (model.Config, *model.Params, error) {
	rows := len(x) / cfg.Input
	if rows < 1 || rows*cfg.Input != len(x) {
		return cfg, nil, fmt.Errorf("fit baseline: %d pixels is not a batch of %d-pixel images", len(x), cfg.Input)
	}
	rng := rand.New(rand.NewPCG(seed, 0xba5e))
	withBase := cfg
	withBase.Baseline = BaselineWidth
	own := p
	if cfg.Baseline > 0 { // leave out the run's own baseline, then copy it in
		own = &model.Params{Names: p.Names[:len(p.Names)-model.BaselineTensors], Tensors: p.Tensors[:len(p.Tensors)-model.BaselineTensors]}
	}
	fit, err := own.WithBaseline(withBase, rng)
	if err != nil {
		return cfg, nil, err
	}
	nModel := len(fit.Tensors) - model.BaselineTensors
	if cfg.Baseline == BaselineWidth {
		for i := nModel; i < len(fit.Tensors); i++ {
			copy(fit.Tensors[i].Float32s(), p.Tensors[i].Float32s())
		}
	}
	est, err := New(NVIL, withBase, fit, Options{Batch: rows})
	if err != nil {
		return cfg, nil, err
	}
	copy(est.X.Float32s(), x)
	base := fit.Tensors[nModel:]
	m, v := make([][]float32, len(base)), make([][]float32, len(base))
	for i, t := range base {
		m[i], v[i] = make([]float32, t.Len()), make([]float32, t.Len())
	}
	for t := 1; t <= steps; t++ {
		if err := est.Estimate(1, rng); err != nil {
			return cfg, nil, fmt.Errorf("fit baseline: %w", err)
		}
		r := kernels.NewAdamRule(fitBaselineLR, 0.9, 0.999, 1e-8, t)
		for i, g := range est.Grads()[nModel:] {
			if !kernels.Adam(r, base[i].Float32s(), g.Float32s(), m[i], v[i]) {
				return cfg, nil, fmt.Errorf("fit baseline: non-finite gradient of %s", fit.Names[nModel+i])
			}
		}
	}
	return withBase, fit, nil
}
