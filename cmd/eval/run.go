package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"gsvae/checkpoint"
	"gsvae/data"
	"gsvae/eval"
	"gsvae/internal/cli"
	"gsvae/model"
)

const usage = `eval: measure a trained model (a VAE or an SBN).

Usage:
  eval bound -ckpt DIR|FILE [-split test|valid] [-samples 1] [-iw 1000] [-seed 1] [-out FILE] [-data DIR]
  eval gradvar -ckpt DIR|FILE [-estimators gs,...] [-taus 0.1,0.25,0.5,1,2] [-draws 200] [-batch 100] [-out DIR]
  eval curves -run DIR [-out DIR]
  eval table [-dir checkpoints/reproduce] [-out FILE]
  eval toy [-K 2] [-t 0.45] [-estimators gs,...] [-taus 0.1,...] [-draws 10000] [-steps 10000] [-out checkpoints/toy]

bound: the negative ELBO with discrete (one-hot) latent samples, averaged
over -samples draws per image, and the importance-weighted bound
-log (1/k) sum_i p(x, z_i)/q(z_i|x) with k = -iw discrete samples per image
(Burda et al. 2016; the paper's test numbers use k = 1000), both in nats per
image with standard errors over images. For an SBN checkpoint (train -task
sbn) the first is the one-sample loss -log p(x_lower|h) and the second the
m-sample estimate -log (1/m) sum_i p(x_lower|h_i), h_i ~ p(h|x_upper), with
m = -iw (Jang et al. 2017, Sec. 4.1). Writes JSON to -out (default:
eval.json beside the checkpoint) and prints one summary line.

gradvar: at the checkpoint's weights and one fixed minibatch (chosen by
-seed), -draws independent gradient estimates per estimator (and per
temperature for gs, st-gs and annealed-st), with variance normalisation
off. For the encoder and the decoder: the per-parameter variance averaged
over parameters (and its log10), the signal-to-noise ratio |mean| /
sqrt(sum of variances), and the
bias of the mean against a reference gradient g* (relative L2 error,
cosine). g* is exact (enumeration) for models with at most 4096 codes per
image, else the mean of -ref-draws muprop draws, whose own standard error is
reported. nvil's baseline network is first fitted at the checkpoint's
weights. Writes report.md, report.csv, report.json and log10var/bias PNGs
against temperature into -out (default: gradvar/ beside the checkpoint).

curves: a run's metrics.jsonl against the step: elbo.png (train and valid
-ELBO), tau.png and, for runs trained with -track-gradvar, each estimator's
log10 gradient variance (gradvar-encoder.png, gradvar-decoder.png), into
-out (default: curves/ in the run folder).

table: one markdown row per training run under -dir (its config.json,
metrics.jsonl and eval.json): latent kind, estimator, epochs, the last
validation -ELBO, the test bounds and mean ms per update, then the test
bounds laid out as Table 1 of Jang et al. (2017) beside the paper's numbers.

toy: the toy problem of REBAR, RELAX and ARM for one categorical variable:
minimise E[sum_k (z_k - t_k)^2] with t_0 = t and the other targets
(1-t)/(K-1) (K = 2 is the Bernoulli problem, twice over). At l = 0 each
estimator's bias, variance and mean squared error against the exact
gradient, per temperature; then an SGD run per estimator from l = 0,
showing whether it reaches the best class. Prints the table and writes
toy.md, toy.csv and plots into -out (default: checkpoints/toy).`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintln(stdout, usage)
		if len(args) == 0 {
			return cli.Usagef("missing subcommand: want bound, gradvar, curves, table or toy")
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "bound":
		return runBound(ctx, args[1:], stdout, stderr)
	case "gradvar":
		return runGradVar(ctx, args[1:], stdout, stderr)
	case "curves":
		return runCurves(args[1:], stdout)
	case "table":
		return runTable(args[1:], stdout)
	case "toy":
		return runToy(ctx, args[1:], stdout)
	}
	return cli.Usagef("unknown subcommand %q: want bound, gradvar, curves, table or toy", args[0])
}

// boundReport is the content of eval.json.
type boundReport struct {
	Checkpoint   string  `json:"checkpoint"`
	Epoch        int     `json:"epoch"`
	Split        string  `json:"split"`
	N            int     `json:"n"`
	Samples      int     `json:"samples"`
	NegELBO      float64 `json:"neg_elbo"`
	NegELBOSE    float64 `json:"neg_elbo_se"`
	Rec          float64 `json:"rec"`
	KL           float64 `json:"kl"`
	IWK          int     `json:"iw_k"`
	NegIWBound   float64 `json:"neg_iw_bound"`
	NegIWBoundSE float64 `json:"neg_iw_bound_se"`
	Seed         uint64  `json:"seed"`
	Seconds      float64 `json:"seconds"`
}

func runBound(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ckpt, split, out, dataDir := "checkpoints/default", "test", "", ""
	samples, k := 1, 1000
	var seed uint64 = 1
	fs := flag.NewFlagSet("eval bound", flag.ContinueOnError)
	fs.StringVar(&ckpt, "ckpt", ckpt, "checkpoint `path`: a run folder (its model.ckpt) or a .ckpt file")
	fs.StringVar(&split, "split", split, "data `split`: test or valid")
	fs.IntVar(&samples, "samples", samples, "discrete samples per image for the ELBO (1 to 10000)")
	fs.IntVar(&k, "iw", k, "importance samples `k` per image for the IW bound (1 to 100000)")
	fs.Uint64Var(&seed, "seed", seed, "random `seed` of the latent samples")
	fs.StringVar(&out, "out", out, "JSON `file` to write (default: eval.json beside the checkpoint)")
	fs.StringVar(&dataDir, "data", dataDir, "`folder` with the MNIST idx .gz files (default: the checkpoint's, else the GoMNIST module's)")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	switch {
	case split != "test" && split != "valid":
		return cli.Usagef("-split %q: want test or valid", split)
	case samples < 1 || samples > 10000:
		return cli.Usagef("-samples %d: want 1 to 10000", samples)
	case k < 1 || k > 100000:
		return cli.Usagef("-iw %d: want 1 to 100000", k)
	}
	path := cli.CheckpointPath(ckpt)
	if out == "" {
		out = filepath.Join(filepath.Dir(path), "eval.json")
	}
	m, err := loadModel(path)
	if err != nil {
		return err
	}
	if dataDir == "" {
		dataDir = m.data
	}
	dir, err := data.FindDir(dataDir)
	if err != nil {
		return err
	}
	_, valid, test, err := data.Load(dir, 0)
	if err != nil {
		return err
	}
	s := test
	if split == "valid" {
		s = valid
	}
	start := time.Now()
	cfg := m.cfg
	elbo, err := eval.NegELBO(ctx, cfg, m.params, s, samples, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		return err
	}
	bar := cli.NewBar(stderr, s.N, fmt.Sprintf("IW bound, k=%d", k), "images")
	// The bar only draws on stderr: its drawing errors are not the run's.
	iw, err := eval.NegIWBound(ctx, cfg, m.params, s, k, rand.New(rand.NewPCG(seed, 2)), func(done int) { _ = bar.Set(done) })
	_ = bar.Exit()
	if err != nil {
		return err
	}
	r := boundReport{
		Checkpoint: path, Epoch: m.epoch, Split: split, N: s.N, Samples: samples,
		NegELBO: elbo.NegELBO, NegELBOSE: elbo.SE, Rec: elbo.Rec, KL: elbo.KL,
		IWK: k, NegIWBound: iw.NegBound, NegIWBoundSE: iw.SE, Seed: seed,
		Seconds: time.Since(start).Seconds(),
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(stdout, "%s (epoch %d), %s, %d images: -ELBO %.2f ± %.2f (%d sample(s)), -L_%d %.2f ± %.2f nats, %.0f s; wrote %s\n",
		path, m.epoch, split, s.N, r.NegELBO, r.NegELBOSE, samples, k, r.NegIWBound, r.NegIWBoundSE, r.Seconds, out)
	return nil
}

// loaded is a model read from a checkpoint, with what the checkpoint
// says of its training run when it is a training checkpoint.
type loaded struct {
	cfg    model.Config
	params *model.Params
	epoch  int    // epochs trained (0 for a model file)
	data   string // the run's MNIST folder ("" for GoMNIST's)
	run    string // the run's estimator, for reports
}

// loadModel reads the model of the checkpoint at path (model.Decode) and
// the run settings reports mention.
func loadModel(path string) (*loaded, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	cfg, p, err := model.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	if cfg.Input != data.Pixels {
		return nil, fmt.Errorf("load model %s: a model of %d-pixel images, MNIST's have %d", path, cfg.Input, data.Pixels)
	}
	var run struct {
		Data      string `json:"data"`
		Estimator string `json:"estimator"`
	}
	if err := json.Unmarshal(f.Config, &run); err != nil {
		return nil, fmt.Errorf("load model %s: config: %w", path, err)
	}
	return &loaded{cfg: cfg, params: p, epoch: int(max(f.Counters["epoch"], 0)), data: run.Data, run: run.Estimator}, nil
}
