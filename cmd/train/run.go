package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gsvae/estimator"
	"gsvae/internal/cli"
	"gsvae/model"
	"gsvae/train"
)

const usage = `train: train a Gumbel-Softmax VAE on binarized MNIST.

Usage:
  train [flags]                        start a run in -out (default checkpoints/default)
  train -resume -out DIR [-epochs E]   continue the run saved in DIR

Every epoch prints one line (train -ELBO, valid -ELBO with discrete samples,
temperature, seconds) and saves DIR/model.ckpt, DIR/best.ckpt (lowest valid
-ELBO), DIR/metrics.jsonl and DIR/config.json. Ctrl-C stops after the current
update, saves the position reached to DIR/model.ckpt and exits with status
130; train -resume -out DIR continues exactly there.`

// newFlags defines every flag of train, bound to the fields of cfg with
// cfg's values as defaults.
func newFlags(cfg *train.Config, resume *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "number of `epochs` (passes over the training images); with -resume, the total to reach")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "minibatch `size` (images per update)")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "learning `rate`")
	fs.StringVar(&cfg.Optimizer, "optimizer", cfg.Optimizer, "`adam` (default) or momentum (SGD with momentum 0.9, as in the paper)")
	fs.StringVar(&cfg.Model.Task, "task", cfg.Model.Task, "`task`: vae (the VAE of Sec. 4.2) or sbn (Sec. 4.1: predict the lower half of a digit from its upper half with two stochastic layers, 392-200-200-392; no hidden layers)")
	fs.IntVar(&cfg.Model.N, "N", cfg.Model.N, "`number` of latent variables (of each stochastic layer)")
	fs.IntVar(&cfg.Model.K, "K", cfg.Model.K, "`classes` per latent variable (at least 2)")
	fs.StringVar(&cfg.Model.Prior, "prior", cfg.Model.Prior, "prior over each latent variable: `uniform` or learned (its logits trained with the rest)")
	fs.Var((*widths)(&cfg.Model.Hidden), "hidden", "encoder hidden layer `widths`, comma-separated, or none for the paper's linear encoder and decoder; the decoder mirrors them")
	fs.Float64Var(&cfg.Tau0, "tau0", cfg.Tau0, "initial Gumbel-Softmax `temperature`")
	fs.Float64Var(&cfg.TauMin, "tau-min", cfg.TauMin, "lowest `temperature` of the schedule tau = max(tau-min, tau0*exp(-rate*t))")
	fs.Float64Var(&cfg.AnnealRate, "anneal-rate", cfg.AnnealRate, "annealing `rate` r per step (0 keeps tau0)")
	fs.IntVar(&cfg.AnnealEvery, "anneal-every", cfg.AnnealEvery, "recompute the temperature every `n` steps")
	fs.StringVar(&cfg.Estimator, "estimator", cfg.Estimator, "gradient `estimator`: "+strings.Join(estimator.Names, ", ")+" (see README, Estimators)")
	fs.BoolVar(&cfg.Hard, "hard", cfg.Hard, "same as -estimator st-gs (straight-through Gumbel-Softmax)")
	fs.StringVar(&cfg.Model.Kind, "latent", cfg.Model.Kind, "latent variables: `categorical` (N of K classes) or bernoulli (N binary; N defaults to 200 and K is 2)")
	fs.StringVar(&cfg.KL, "kl", cfg.KL, "KL term of the training loss: `analytic` (discrete variables) or relaxed (single-sample ExpConcrete KL, a true bound for the relaxed model)")
	fs.Float64Var(&cfg.PriorTau, "prior-tau", cfg.PriorTau, "`temperature` of the uniform ExpConcrete prior for -kl relaxed")
	fs.IntVar(&cfg.TrackGradVar, "track-gradvar", cfg.TrackGradVar, "every `E` epochs, measure every estimator's gradient variance and bias at the current weights into metrics.jsonl (0: never; see eval gradvar)")
	fs.IntVar(&cfg.TrackDraws, "track-draws", cfg.TrackDraws, "gradient `draws` per estimator for -track-gradvar")
	fs.StringVar(&cfg.Binarize, "binarize", cfg.Binarize, "pixel binarization: `fixed` (one draw, seeded, the paper's protocol) or dynamic (a fresh draw per use)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random `seed` for weights, shuffling and noise: the same seed gives the same model")
	fs.IntVar(&cfg.Limit, "limit", cfg.Limit, "train on the first `n` training images only (0: all 50,000), for quick runs")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "output `folder` for config.json, metrics.jsonl, model.ckpt and best.ckpt")
	fs.StringVar(&cfg.Data, "data", cfg.Data, "`folder` with the MNIST idx .gz files (default: the GoMNIST Go module's data folder)")
	fs.BoolVar(resume, "resume", false, "continue the run saved in -out with its saved settings (only -epochs and -data may change)")
	return fs
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := train.Defaults()
	var resume bool
	fs := newFlags(&cfg, &resume)
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	bars := newBars(stderr)
	defer bars.stop()
	out := train.Output{Log: stdout, Progress: bars.report}
	if !resume {
		if err := settle(fs, &cfg); err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			return usageOf(err)
		}
		return explain(train.Run(ctx, cfg, out), stdout)
	}
	if fi, err := os.Stat(cfg.Out); err == nil && !fi.IsDir() {
		return cli.Usagef("-out %s is a file, not a run folder", cfg.Out)
	}
	st, err := train.Load(filepath.Join(cfg.Out, train.CheckpointFile))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := checkUnchanged(fs, st.Config); err != nil {
		return err
	}
	st.Config.Out = cfg.Out
	if isSet(fs, "epochs") {
		st.Config.Epochs = cfg.Epochs
	}
	if isSet(fs, "data") {
		st.Config.Data = cfg.Data
	}
	if err := st.Config.Validate(); err != nil {
		return usageOf(err)
	}
	return explain(train.Resume(ctx, st, out), stdout)
}

// flagOf names the flag that sets each setting of train.Config and
// model.Config whose name differs from its JSON key.
var flagOf = map[string]string{
	"n": "N", "k": "K", "tau_min": "tau-min", "anneal_rate": "anneal-rate", "anneal_every": "anneal-every",
	"prior_tau": "prior-tau", "track_gradvar": "track-gradvar", "track_draws": "track-draws",
	"baseline": "estimator", "input": "data", "params": "hidden",
}

// usageOf turns a configuration's *model.SettingError into a usage error
// naming the flag, as "-tau-min 2: is above tau0".
func usageOf(err error) error {
	var se *model.SettingError
	if !errors.As(err, &se) {
		return cli.UsageError{Err: err}
	}
	name, ok := flagOf[se.Setting]
	if !ok {
		name = se.Setting
	}
	want := strings.ReplaceAll(se.Want, "tau0", "-tau0")
	return cli.Usagef("-%s %v: %s", name, se.Value, want)
}

// explain adds to an error of train.Run or train.Resume what the user can
// do: how to resume an interrupted run (printed on stdout, the run's log),
// or how to continue an existing one.
func explain(err error, stdout io.Writer) error {
	var stop *train.Interrupted
	switch {
	case errors.As(err, &stop):
		fmt.Fprintf(stdout, "interrupted at step %d (epoch %d, %d of %d images done); saved %s\nresume with: train -resume -out %s\n",
			stop.Step, stop.Epoch, stop.Done, stop.Of, stop.Checkpoint, filepath.Dir(stop.Checkpoint))
	case errors.Is(err, train.ErrExists):
		return fmt.Errorf("%w; pass -resume to continue it or choose another -out", err)
	}
	return err
}

// BernoulliN is the default number of Bernoulli latent variables, the
// paper's 200.
const BernoulliN = 200

// settle resolves the flags that depend on each other: -hard is
// -estimator st-gs, -latent bernoulli defaults N to 200 and K to 2, and
// -task sbn has no hidden layers unless -hidden says otherwise. It also
// sizes the baseline network for the estimator.
func settle(fs *flag.FlagSet, cfg *train.Config) error {
	if cfg.Model.SBN() && !isSet(fs, "hidden") {
		cfg.Model.Hidden = []int{}
	}
	if cfg.Hard {
		if isSet(fs, "estimator") && cfg.Estimator != estimator.STGS {
			return cli.Usagef("-hard means -estimator %s, but -estimator is %s", estimator.STGS, cfg.Estimator)
		}
		cfg.Estimator, cfg.Hard = estimator.STGS, false
	}
	if cfg.Model.Bernoulli() {
		if !isSet(fs, "N") {
			cfg.Model.N = BernoulliN
		}
		if !isSet(fs, "K") {
			cfg.Model.K = 2
		}
	}
	*cfg = cfg.WithEstimator(cfg.Estimator)
	return nil
}

// checkUnchanged refuses a flag given with -resume whose value differs from
// the saved run's, naming it: a resumed run keeps its settings.
func checkUnchanged(fs *flag.FlagSet, saved train.Config) error {
	var savedResume bool
	savedFlags := newFlags(&saved, &savedResume)
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "epochs", "out", "data", "resume":
			return
		case "hard":
			if err == nil && f.Value.String() == "true" && saved.Estimator != estimator.STGS {
				err = cli.Usagef("-resume: -hard differs from the saved run's -estimator %s; only -epochs and -data may change", saved.Estimator)
			}
			return
		}
		if was := savedFlags.Lookup(f.Name).Value.String(); err == nil && f.Value.String() != was {
			err = cli.Usagef("-resume: -%s %s differs from the saved run's -%s %s; only -epochs and -data may change", f.Name, f.Value, f.Name, was)
		}
	})
	return err
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// widths is a flag.Value for a comma-separated list of positive integers.
type widths []int

func (w *widths) String() string {
	if len(*w) == 0 {
		return "none"
	}
	s := make([]string, len(*w))
	for i, v := range *w {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (w *widths) Set(s string) error {
	if strings.TrimSpace(s) == "none" {
		*w = []int{}
		return nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	*w = out
	return nil
}
