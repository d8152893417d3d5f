package train

import (
	"errors"
	"fmt"
	"os"

	"gsvae/data"
	"gsvae/estimator"
	"gsvae/model"
)

// Config is every setting of a training run. It is written to
// <Out>/config.json and into every checkpoint, so a run can be resumed and
// a checkpoint sampled from without repeating any flag.
type Config struct {
	Model model.Config `json:"model"` // the architecture

	Epochs    int     `json:"epochs"`    // passes over the training images
	Batch     int     `json:"batch"`     // images per update
	LR        float64 `json:"lr"`        // learning rate
	Optimizer string  `json:"optimizer"` // OptAdam or OptMomentum; "" means Adam

	// Temperature schedule tau = max(TauMin, Tau0 exp(-AnnealRate t)),
	// recomputed every AnnealEvery steps (see Temperature).
	Tau0        float64 `json:"tau0"`
	TauMin      float64 `json:"tau_min"`
	AnnealRate  float64 `json:"anneal_rate"`
	AnnealEvery int     `json:"anneal_every"`

	// Estimator names the gradient estimator (see package estimator):
	// "gs" (the default), "st-gs", "st", "annealed-st", "sf", "nvil",
	// "muprop" or "darn".
	Estimator string `json:"estimator"`
	// Hard is how configurations written before Estimator existed said
	// st-gs; withDefaults turns it into Estimator and clears it.
	Hard bool `json:"hard,omitempty"`

	// KL is "analytic" (the discrete variables' KL, the default) or
	// "relaxed" (a single-sample KL of the relaxed variables against a
	// uniform ExpConcrete prior at temperature PriorTau, which keeps the
	// relaxed objective a bound; Maddison et al. 2017).
	KL       string  `json:"kl"`
	PriorTau float64 `json:"prior_tau"`

	// TrackGradVar measures every estimator's gradient variance and bias
	// at the current weights every TrackGradVar epochs (0: never), with
	// TrackDraws draws each, into metrics.jsonl (see eval.GradVar).
	TrackGradVar int `json:"track_gradvar,omitempty"`
	TrackDraws   int `json:"track_draws,omitempty"`

	Binarize string `json:"binarize"` // "fixed" or "dynamic" (see data.Binarization)
	Seed     uint64 `json:"seed"`     // seeds weights, shuffling, noise and dynamic binarization draws
	Limit    int    `json:"limit"`    // train on the first Limit images only; 0 means all 50,000
	Out      string `json:"out"`      // folder of config.json, metrics.jsonl, model.ckpt, best.ckpt, train.lock
	Data     string `json:"data"`     // folder of the MNIST idx files; "" finds GoMNIST's
}

// Defaults returns the settings of `make train`: the paper's 20x10
// categorical VAE, Adam 1e-3, batch 100, tau from 1 annealed towards 0.5 at
// rate 3e-5 every 1000 steps, fixed binarization, 10 epochs.
func Defaults() Config {
	return Config{
		Model:       model.DefaultConfig(),
		Epochs:      10,
		Batch:       100,
		LR:          1e-3,
		Tau0:        1,
		TauMin:      0.5,
		AnnealRate:  3e-5,
		AnnealEvery: 1000,
		Optimizer:   OptAdam,
		Estimator:   estimator.GS,
		KL:          KLAnalytic,
		PriorTau:    1,
		TrackDraws:  100,
		Binarize:    "fixed",
		Seed:        1,
		Out:         "checkpoints/default",
	}
}

// Validate reports the first setting that cannot give a run, naming the
// flag that sets it. It also refuses an Out that exists and is not a folder.
func (c Config) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("-epochs %d: need at least 1", c.Epochs)
	case c.Batch < 1 || c.Batch > maxBatch:
		return fmt.Errorf("-batch %d: need 1 to %d", c.Batch, maxBatch)
	case !(c.LR > 0) || c.LR > 1:
		return fmt.Errorf("-lr %v: need 0 < lr <= 1", c.LR)
	case c.Model.N < 1:
		return fmt.Errorf("-N %d: need at least 1 latent variable", c.Model.N)
	case c.Model.K < 2:
		return fmt.Errorf("-K %d: a categorical variable needs at least 2 classes", c.Model.K)
	case !(c.Tau0 > 0) || c.Tau0 > 1e4:
		return fmt.Errorf("-tau0 %v: need 0 < tau0 <= 1e4", c.Tau0)
	case !(c.TauMin > 0):
		return fmt.Errorf("-tau-min %v: need a positive temperature", c.TauMin)
	case c.TauMin > c.Tau0:
		return fmt.Errorf("-tau-min %v is above -tau0 %v", c.TauMin, c.Tau0)
	case !(c.AnnealRate >= 0) || c.AnnealRate > 1:
		return fmt.Errorf("-anneal-rate %v: need 0 <= rate <= 1", c.AnnealRate)
	case c.AnnealEvery < 1:
		return fmt.Errorf("-anneal-every %d: need at least 1", c.AnnealEvery)
	case c.Limit < 0 || c.Limit > data.TrainImages:
		return fmt.Errorf("-limit %d: need 0 (all %d images) or 1 to %d", c.Limit, data.TrainImages, data.TrainImages)
	case c.Out == "":
		return errors.New("-out: need a folder")
	}
	if p := c.Model.Prior; p != "" && p != model.PriorUniform && p != model.PriorLearned {
		return fmt.Errorf("-prior %q: want %s or %s", p, model.PriorUniform, model.PriorLearned)
	}
	if c.KL != "" && c.KL != KLAnalytic && c.KL != KLRelaxed {
		return fmt.Errorf("-kl %q: want %s or %s", c.KL, KLAnalytic, KLRelaxed)
	}
	if err := estimator.Check(c.Estimator); err != nil {
		return fmt.Errorf("-estimator: %w", err)
	}
	if c.KL == KLRelaxed && c.Estimator != estimator.GS && c.Estimator != estimator.STGS {
		return fmt.Errorf("-kl %s works with -estimator %s or %s only: the other estimators decode discrete samples, whose KL is the analytic one", KLRelaxed, estimator.GS, estimator.STGS)
	}
	if k := c.Model.Kind; k != "" && k != model.LatentCategorical && k != model.LatentBernoulli {
		return fmt.Errorf("-latent %q: want %s or %s", k, model.LatentCategorical, model.LatentBernoulli)
	}
	if c.Model.Bernoulli() && c.Model.K != 2 {
		return fmt.Errorf("-K %d: -latent %s has 2 classes per variable", c.Model.K, model.LatentBernoulli)
	}
	if want := baselineWidth(c.Estimator); c.Model.Baseline != want {
		return fmt.Errorf("model baseline width %d: -estimator %s uses %d", c.Model.Baseline, c.Estimator, want)
	}
	if c.KL == KLRelaxed && c.Model.Learned() {
		return fmt.Errorf("-prior %s works with -kl %s only (the relaxed KL uses the uniform prior)", model.PriorLearned, KLAnalytic)
	}
	if !(c.PriorTau > 0 && c.PriorTau <= 1e4) {
		return fmt.Errorf("-prior-tau %v: need 0 < prior-tau <= 1e4", c.PriorTau)
	}
	if c.TrackGradVar < 0 {
		return fmt.Errorf("-track-gradvar %d: want 0 (off) or a number of epochs", c.TrackGradVar)
	}
	if c.TrackGradVar > 0 && (c.TrackDraws < 2 || c.TrackDraws > 100000) {
		return fmt.Errorf("-track-draws %d: want 2 to 100000", c.TrackDraws)
	}
	if c.Optimizer != "" && c.Optimizer != OptAdam && c.Optimizer != OptMomentum {
		return fmt.Errorf("-optimizer %q: want %s or %s", c.Optimizer, OptAdam, OptMomentum)
	}
	if _, err := data.ParseBinarization(c.Binarize); err != nil {
		return fmt.Errorf("-binarize: %w", err)
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if c.Model.Input != data.Pixels {
		return fmt.Errorf("model input %d: MNIST images have %d pixels", c.Model.Input, data.Pixels)
	}
	if fi, err := os.Stat(c.Out); err == nil && !fi.IsDir() {
		return fmt.Errorf("-out %s is a file, not a folder", c.Out)
	}
	return nil
}

// maxBatch bounds -batch: beyond it a batch's activations alone need
// gigabytes.
const maxBatch = 10000

// KL terms accepted by Config.KL.
const (
	KLAnalytic = "analytic"
	KLRelaxed  = "relaxed"
)

// withDefaults fills the settings a configuration written before they
// existed leaves empty with the values such a run used.
func (c Config) withDefaults() Config {
	if c.Optimizer == "" {
		c.Optimizer = OptAdam
	}
	if c.KL == "" {
		c.KL = KLAnalytic
	}
	if c.PriorTau == 0 {
		c.PriorTau = 1
	}
	if c.Model.Prior == "" {
		c.Model.Prior = model.PriorUniform
	}
	if c.Model.Kind == "" {
		c.Model.Kind = model.LatentCategorical
	}
	if c.Estimator == "" {
		c.Estimator = estimator.GS
		if c.Hard {
			c.Estimator = estimator.STGS
		}
	}
	c.Hard = false
	return c
}

// baselineWidth returns the width of the baseline network the estimator
// trains alongside the model: estimator.BaselineWidth for nvil, else 0.
func baselineWidth(name string) int {
	if name == estimator.NVIL {
		return estimator.BaselineWidth
	}
	return 0
}

// WithEstimator returns c set to train with the estimator called name,
// with the baseline network that estimator needs (nvil's) or none.
func (c Config) WithEstimator(name string) Config {
	c.Estimator = name
	c.Model.Baseline = baselineWidth(name)
	return c
}

// optimizer returns the optimizer's name, Adam when unset.
func (c Config) optimizer() string {
	if c.Optimizer == "" {
		return OptAdam
	}
	return c.Optimizer
}

// estimatorOptions returns the options of the training estimator.
func (c Config) estimatorOptions() estimator.Options {
	return estimator.Options{Batch: c.Batch, RelaxedKL: c.KL == KLRelaxed, PriorTau: c.PriorTau, Normalize: true}
}

// temperature returns tau at global step t under c's schedule.
func (c Config) temperature(t int) float64 {
	return Temperature(t, c.Tau0, c.TauMin, c.AnnealRate, c.AnnealEvery)
}
