package train

import (
	"os"

	"gsvae/data"
	"gsvae/estimator"
	"gsvae/model"
)

// Config is every setting of a training run. It is written to
// <Out>/config.json and into every checkpoint, so a run can be resumed and
// a checkpoint sampled from without repeating any setting.
type Config struct {
	Model model.Config `json:"model"` // the network

	Epochs    int     `json:"epochs"`    // passes over the training images
	Batch     int     `json:"batch"`     // images per update
	LR        float64 `json:"lr"`        // learning rate
	Optimizer string  `json:"optimizer"` // OptAdam or OptMomentum

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
	// st-gs; WithDefaults turns it into Estimator and clears it.
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

// KL terms accepted by Config.KL.
const (
	KLAnalytic = "analytic"
	KLRelaxed  = "relaxed"
)

// maxBatch bounds Batch: beyond it a batch's activations alone need
// gigabytes.
const maxBatch = 10000

// settingErr returns a *model.SettingError for a training setting.
func settingErr(setting string, value any, want string) error {
	return &model.SettingError{Setting: setting, Value: value, Want: want}
}

// Validate reports the first setting that cannot give a run, as a
// *model.SettingError naming it (the network's settings are checked by
// model.Config.Validate, once). It also refuses an Out that exists and is
// not a folder.
func (c Config) Validate() error {
	switch {
	case c.Epochs < 1:
		return settingErr("epochs", c.Epochs, "need at least 1")
	case c.Batch < 1 || c.Batch > maxBatch:
		return settingErr("batch", c.Batch, "need 1 to 10000")
	case !(c.LR > 0) || c.LR > 1:
		return settingErr("lr", c.LR, "need 0 < lr <= 1")
	case c.Optimizer != OptAdam && c.Optimizer != OptMomentum:
		return settingErr("optimizer", c.Optimizer, "want adam or momentum")
	case !(c.Tau0 > 0) || c.Tau0 > 1e4:
		return settingErr("tau0", c.Tau0, "need 0 < tau0 <= 1e4")
	case !(c.TauMin > 0):
		return settingErr("tau_min", c.TauMin, "need a positive temperature")
	case c.TauMin > c.Tau0:
		return settingErr("tau_min", c.TauMin, "is above tau0")
	case !(c.AnnealRate >= 0) || c.AnnealRate > 1:
		return settingErr("anneal_rate", c.AnnealRate, "need 0 <= rate <= 1")
	case c.AnnealEvery < 1:
		return settingErr("anneal_every", c.AnnealEvery, "need at least 1")
	case c.Limit < 0 || c.Limit > data.TrainImages:
		return settingErr("limit", c.Limit, "need 0 (all 50000 images) or 1 to 50000")
	case c.Out == "":
		return settingErr("out", c.Out, "need a folder")
	case !(c.PriorTau > 0 && c.PriorTau <= 1e4):
		return settingErr("prior_tau", c.PriorTau, "need 0 < prior-tau <= 1e4")
	case c.TrackGradVar < 0:
		return settingErr("track_gradvar", c.TrackGradVar, "want 0 (off) or a number of epochs")
	case c.TrackGradVar > 0 && (c.TrackDraws < 2 || c.TrackDraws > 100000):
		return settingErr("track_draws", c.TrackDraws, "want 2 to 100000")
	case c.KL != KLAnalytic && c.KL != KLRelaxed:
		return settingErr("kl", c.KL, "want analytic or relaxed")
	}
	if err := estimator.Check(c.Estimator); err != nil {
		return settingErr("estimator", c.Estimator, err.Error())
	}
	if c.KL == KLRelaxed && c.Estimator != estimator.GS && c.Estimator != estimator.STGS {
		return settingErr("kl", c.KL, "works with estimator gs or st-gs only: the other estimators decode discrete samples, whose KL is the analytic one")
	}
	if _, err := data.ParseBinarization(c.Binarize); err != nil {
		return settingErr("binarize", c.Binarize, err.Error())
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if c.KL == KLRelaxed && (c.Model.Learned() || c.Model.SBN()) {
		return settingErr("kl", c.KL, "the relaxed KL is the VAE's, with the uniform prior")
	}
	if want := baselineWidth(c.Estimator); c.Model.Baseline != want {
		return settingErr("baseline", c.Model.Baseline, "the estimator "+c.Estimator+" uses a baseline network of that width")
	}
	if c.Model.Input != data.Pixels {
		return settingErr("input", c.Model.Input, "MNIST images have 784 pixels")
	}
	if fi, err := os.Stat(c.Out); err == nil && !fi.IsDir() {
		return settingErr("out", c.Out, "is a file, not a folder")
	}
	return nil
}

// WithDefaults fills the settings that a configuration written before they
// existed leaves empty with the values such a run used.
func (c Config) WithDefaults() Config {
	if c.Optimizer == "" {
		c.Optimizer = OptAdam
	}
	if c.KL == "" {
		c.KL = KLAnalytic
	}
	if c.PriorTau == 0 {
		c.PriorTau = 1
	}
	c.Model = c.Model.WithDefaults()
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

// estimatorOptions returns the options of the training estimator:
// variance normalisation on, as the paper needed it for SF, DARN and
// MuProp.
func (c Config) estimatorOptions() estimator.Options {
	return estimator.Options{Batch: c.Batch, RelaxedKL: c.KL == KLRelaxed, PriorTau: c.PriorTau, Normalize: true}
}

// temperature returns tau at global step t under c's schedule.
func (c Config) temperature(t int) float64 {
	return Temperature(t, c.Tau0, c.TauMin, c.AnnealRate, c.AnnealEvery)
}
