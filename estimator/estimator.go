package estimator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"gsvae/model"
)

// The estimators, by the names the command line uses.
const (
	GS         = "gs"
	STGS       = "st-gs"
	ST         = "st"
	AnnealedST = "annealed-st"
	SF         = "sf"
	NVIL       = "nvil"
	MuProp     = "muprop"
	DARN       = "darn"
)

// Names lists every estimator, the relaxations first.
var Names = []string{GS, STGS, ST, AnnealedST, SF, NVIL, MuProp, DARN}

// Tempered reports whether the estimator depends on the temperature.
func Tempered(name string) bool { return name == GS || name == STGS || name == AnnealedST }

// Check returns an error listing the allowed names unless name is one.
func Check(name string) error {
	if slices.Contains(Names, name) {
		return nil
	}
	return fmt.Errorf("unknown estimator %q: want one of %s", name, strings.Join(Names, ", "))
}

// BaselineWidth is the hidden width of NVIL's baseline network b(x), as in
// Mnih & Gregor (2014, 100 units; ReLU here).
const BaselineWidth = 100

// Options configures an Estimator.
type Options struct {
	// Batch is the number of rows of X.
	Batch int
	// RelaxedKL and PriorTau select the relaxed single-sample KL of
	// model.Options; only gs and st-gs, whose decoder sees relaxed samples,
	// accept it.
	RelaxedKL bool
	PriorTau  float64
	// Normalize divides the score-function estimators' learning signal by
	// the running standard deviation (when above 1); see the package
	// documentation.
	Normalize bool
}

// Estimator draws gradient estimates of one estimator for a model. Fill X,
// call SetRows if fewer rows hold data, then Estimate; Loss, Rec, KL and
// Grads describe the last estimate.
type Estimator struct {
	name string
	cfg  model.Config
	opt  Options

	fused *model.Graph // gs and st-gs: the whole relaxed VAE in one graph
	split *split       // the others

	// X holds the (B, Input) binary pixels of the batch.
	X    *tensor.Dense
	rows int
}

// New returns the estimator called name for the model cfg with weights p
// (shared, not copied). nvil needs cfg.Baseline > 0; the others ignore the
// baseline network.
func New(name string, cfg model.Config, p *model.Params, opt Options) (*Estimator, error) {
	if err := Check(name); err != nil {
		return nil, err
	}
	if opt.RelaxedKL && name != GS && name != STGS {
		return nil, fmt.Errorf("estimator %s: the relaxed KL needs relaxed samples (gs or st-gs)", name)
	}
	if name == NVIL && cfg.Baseline == 0 {
		return nil, fmt.Errorf("estimator %s: the model has no baseline network", name)
	}
	e := &Estimator{name: name, cfg: cfg, opt: opt, rows: opt.Batch}
	var err error
	if name == GS || name == STGS {
		e.fused, err = model.NewGraph(cfg, p, model.Options{
			Batch: opt.Batch, Hard: name == STGS, Grad: true, RelaxedKL: opt.RelaxedKL, PriorTau: opt.PriorTau,
		})
		if err != nil {
			return nil, err
		}
		e.X = e.fused.X
		return e, nil
	}
	if e.split, err = newSplit(name, cfg, p, opt); err != nil {
		return nil, err
	}
	e.X = e.split.encFwd.X
	return e, nil
}

// Name returns the estimator's name.
func (e *Estimator) Name() string { return e.name }

// SetRows declares that only the first n rows of X hold data: the loss and
// gradients are means over those rows.
func (e *Estimator) SetRows(n int) error {
	if n < 1 || n > e.opt.Batch {
		return fmt.Errorf("estimator: %d rows in a batch of %d", n, e.opt.Batch)
	}
	e.rows = n
	if e.fused != nil {
		return e.fused.SetRows(n)
	}
	return e.split.setRows(n)
}

// Estimate draws one gradient estimate at temperature tau (which only the
// tempered estimators read, but must be positive), with its Gumbel noise
// from rng.
func (e *Estimator) Estimate(tau float64, rng *rand.Rand) error {
	if e.fused == nil {
		return e.split.estimate(e.X, e.rows, tau, rng)
	}
	if err := e.fused.SetTau(tau); err != nil {
		return err
	}
	switch noise := e.fused.Noise.Data().(type) {
	case []float32:
		model.SampleGumbel(noise, rng)
	case []float64:
		model.SampleGumbel(noise, rng)
	}
	return e.fused.Run()
}

// Loss returns the negative ELBO of the last estimate, averaged over the
// real rows: f at the code the decoder saw (relaxed for gs) plus the KL.
func (e *Estimator) Loss() float64 {
	if e.fused != nil {
		return e.fused.Loss()
	}
	var s float64
	for b := 0; b < e.rows; b++ {
		s += e.split.rec[b] + e.split.kl[b]
	}
	return s / float64(e.rows)
}

// Rec returns f = -log p(x|z) of every row of the last estimate.
func (e *Estimator) Rec() []float64 {
	if e.fused != nil {
		return e.fused.Rec()
	}
	return e.split.rec
}

// KL returns the KL term of every row of the last estimate.
func (e *Estimator) KL() []float64 {
	if e.fused != nil {
		return e.fused.KL()
	}
	return e.split.kl
}

// Grads returns the gradient estimate for every parameter, in the order of
// Params.Tensors (the baseline network's too, for nvil). The tensors belong
// to the estimator and change with the next Estimate.
func (e *Estimator) Grads() []*tensor.Dense {
	if e.fused != nil {
		return e.fused.Grads()
	}
	return e.split.grads()
}

// Stats are the moving averages behind the score-function estimators'
// baseline c and variance normalisation: Mean is c, Var the variance of the
// centred learning signal. A training checkpoint stores them so that a
// resumed run continues exactly.
type Stats struct {
	Mean, Var float64
}

// Stats returns the estimator's moving averages (zero Mean and unit Var
// for the estimators that keep none).
func (e *Estimator) Stats() Stats {
	if e.split == nil {
		return Stats{Var: 1}
	}
	return e.split.stats
}

// SetStats restores moving averages saved from Stats.
func (e *Estimator) SetStats(s Stats) error {
	if !(s.Var >= 0) || s.Mean-s.Mean != 0 || s.Var-s.Var != 0 {
		return fmt.Errorf("estimator: moving averages mean %v, variance %v are not finite", s.Mean, s.Var)
	}
	if e.split != nil {
		e.split.stats = s
	}
	return nil
}
