package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gsvae/data"
	"gsvae/estimator"
	"gsvae/eval"
	"gsvae/internal/chart"
	"gsvae/internal/cli"
	"gsvae/model"
)

// gradvarFlags are the settings of `eval gradvar`.
type gradvarFlags struct {
	ckpt, out, split, dataDir string
	estimators, taus          string
	draws, refDraws, batch    int
	baselineSteps             int
	seed                      uint64
}

func runGradVar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := gradvarFlags{ckpt: "checkpoints/default", split: "train", estimators: strings.Join(estimator.Names, ","),
		taus: "0.1,0.25,0.5,1,2", draws: 200, refDraws: 5000, batch: 100, baselineSteps: estimator.FitBaselineSteps, seed: 1}
	fs := flag.NewFlagSet("eval gradvar", flag.ContinueOnError)
	fs.StringVar(&f.ckpt, "ckpt", f.ckpt, "checkpoint `path`: a run folder (its model.ckpt) or a .ckpt file")
	fs.StringVar(&f.estimators, "estimators", f.estimators, "comma-separated `names` of the estimators to measure")
	fs.StringVar(&f.taus, "taus", f.taus, "comma-separated `temperatures` for gs, st-gs and annealed-st")
	fs.IntVar(&f.draws, "draws", f.draws, "independent gradient estimates per estimator and temperature (2 to 100000)")
	fs.IntVar(&f.refDraws, "ref-draws", f.refDraws, "muprop draws averaged into the reference gradient (2 to 1000000)")
	fs.IntVar(&f.batch, "batch", f.batch, "`images` in the fixed minibatch")
	fs.IntVar(&f.baselineSteps, "baseline-steps", f.baselineSteps, "`steps` fitting nvil's baseline network at the checkpoint's weights")
	fs.StringVar(&f.split, "split", f.split, "`split` the minibatch is drawn from: train, valid or test")
	fs.Uint64Var(&f.seed, "seed", f.seed, "random `seed` of the minibatch and the noise")
	fs.StringVar(&f.out, "out", f.out, "output `folder` (default: gradvar/ beside the checkpoint)")
	fs.StringVar(&f.dataDir, "data", f.dataDir, "`folder` with the MNIST idx .gz files (default: the checkpoint's, else the GoMNIST module's)")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	names, taus, err := f.parse()
	if err != nil {
		return err
	}
	path := cli.CheckpointPath(f.ckpt)
	if f.out == "" {
		f.out = filepath.Join(filepath.Dir(path), "gradvar")
	}
	m, err := loadModel(path)
	if err != nil {
		return err
	}
	dataDir := f.dataDir
	if dataDir == "" {
		dataDir = m.data
	}
	x, err := fixedBatch(dataDir, f)
	if err != nil {
		return err
	}
	cfg, p := m.cfg, m.params
	if slices.Contains(names, estimator.NVIL) {
		if cfg, p, err = estimator.FitBaseline(cfg, p, x, f.baselineSteps, f.seed); err != nil {
			return err
		}
	}
	start := time.Now()
	bar := cli.NewBar(stderr, 1, "gradvar", "draws")
	opt := eval.GradVarOptions{Estimators: names, Taus: taus, Draws: f.draws, RefDraws: f.refDraws, Warmup: eval.DefaultWarmup, Seed: f.seed}
	rep, err := eval.GradVar(ctx, cfg, p, x, opt, func(done, total int) {
		bar.ChangeMax(total)
		_ = bar.Set(done) // the bar only draws on stderr
	})
	_ = bar.Exit()
	if err != nil {
		return err
	}
	eval.SortStats(rep.Stats)
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("gradvar: %w", err)
	}
	head := fmt.Sprintf("%s (epoch %d, trained with %s; %s), %d %s images, %d draws per estimate, reference %s",
		path, m.epoch, m.run, cfg.Describe(), f.batch, f.split, f.draws, rep.Reference)
	if err := writeGradVar(f.out, head, rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: measured %d estimators in %.0f s; wrote %s/report.md, report.csv, report.json and plots\n",
		path, len(names), time.Since(start).Seconds(), f.out)
	return nil
}

// parse checks the list flags and the counts.
func (f gradvarFlags) parse() (names []string, taus []float64, err error) {
	if names, err = parseEstimators(f.estimators); err != nil {
		return nil, nil, err
	}
	if taus, err = parseTaus(f.taus); err != nil {
		return nil, nil, err
	}
	switch {
	case f.draws < 2 || f.draws > 100000:
		return nil, nil, cli.Usagef("-draws %d: want 2 to 100000", f.draws)
	case f.refDraws < 2 || f.refDraws > 1000000:
		return nil, nil, cli.Usagef("-ref-draws %d: want 2 to 1000000", f.refDraws)
	case f.batch < 1 || f.batch > 10000:
		return nil, nil, cli.Usagef("-batch %d: want 1 to 10000", f.batch)
	case f.baselineSteps < 0 || f.baselineSteps > 1000000:
		return nil, nil, cli.Usagef("-baseline-steps %d: want 0 to 1000000", f.baselineSteps)
	case f.split != "train" && f.split != "valid" && f.split != "test":
		return nil, nil, cli.Usagef("-split %q: want train, valid or test", f.split)
	}
	return names, taus, nil
}

// fixedBatch returns the -batch images of -split chosen by -seed, with the
// fixed binarization, as float32 pixels.
func fixedBatch(ckptData string, f gradvarFlags) ([]float32, error) {
	dataDir := f.dataDir
	if dataDir == "" {
		dataDir = ckptData
	}
	dir, err := data.FindDir(dataDir)
	if err != nil {
		return nil, err
	}
	trainSet, valid, test, err := data.Load(dir, 0)
	if err != nil {
		return nil, err
	}
	s := map[string]*data.Split{"train": trainSet, "valid": valid, "test": test}[f.split]
	if f.batch > s.N {
		return nil, cli.Usagef("-batch %d: the %s split has %d images", f.batch, f.split, s.N)
	}
	b := data.NewBatches(s, f.batch, data.Fixed, rand.New(rand.NewPCG(f.seed, 0xba7c)))
	b.Shuffle()
	x := make([]float32, f.batch*data.Pixels)
	b.Next(x)
	return x, nil
}

// writeGradVar writes report.md, report.csv, report.json and, per part,
// log-variance and bias against temperature as PNGs.
func writeGradVar(dir, head string, rep *eval.GradVarReport) error {
	var md strings.Builder
	fmt.Fprintf(&md, "# Gradient variance and bias\n\n%s.\n\n", head)
	fmt.Fprintf(&md, "Variance normalisation is off, so every estimator estimates the same gradient. ")
	if rep.Reference == "exact" {
		fmt.Fprintf(&md, "The reference g* is the exact gradient, by enumeration.\n\n")
	} else {
		fmt.Fprintf(&md, "The reference g* is the mean of %d muprop draws; its own relative standard error is %.4f (encoder) and %.4f (decoder): smaller biases cannot be resolved.\n\n",
			rep.RefDraws, rep.RefRelSE[model.PartEncoder], rep.RefRelSE[model.PartDecoder])
	}
	md.WriteString("log10 var: log10 of the per-parameter variance averaged over the part's parameters; snr: |mean| / sqrt(sum of variances); rel bias: |mean - g*| / |g*|, beside the value noise alone gives (an unbiased estimator's rel bias is about that); cos: cosine of mean and g*.\n\n")
	md.WriteString("| estimator | tau | part | log10 var | snr | rel bias | noise level | cos | ms/draw |\n|---|---|---|---|---|---|---|---|---|\n")
	rows := [][]string{{"estimator", "tau", "part", "log10_var", "snr", "rel_bias", "rel_bias_noise", "cosine", "ms_per_draw", "draws"}}
	for _, s := range rep.Stats {
		tau := "-"
		if s.Tau > 0 {
			tau = strconv.FormatFloat(s.Tau, 'g', -1, 64)
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %.3f | %.3g | %.4f | %.4f | %.4f | %.1f |\n",
			s.Estimator, tau, s.Part, s.Log10Var, s.SNR, s.RelBias, s.RelBiasNoise, s.Cosine, s.MsPerDraw)
		g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
		rows = append(rows, []string{s.Estimator, tau, s.Part, g(s.Log10Var), g(s.SNR), g(s.RelBias), g(s.RelBiasNoise), g(s.Cosine), g(s.MsPerDraw), strconv.Itoa(s.Draws)})
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("gradvar: %w", err)
	}
	var csvText strings.Builder
	if err := csv.NewWriter(&csvText).WriteAll(rows); err != nil {
		return fmt.Errorf("gradvar: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.csv"), []byte(csvText.String()), 0o644); err != nil {
		return fmt.Errorf("gradvar: %w", err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("gradvar: %w", err)
	}
	for _, part := range []string{model.PartEncoder, model.PartDecoder} {
		for _, q := range []struct {
			file, title, label string
			logY               bool
			value              func(eval.GradStat) float64
		}{
			{"log10var", "log10 variance", "log10 variance", false, func(s eval.GradStat) float64 { return s.Log10Var }},
			{"bias", "relative bias (unbiased ones: their noise level)", "|mean - g*| / |g*|", true, func(s eval.GradStat) float64 { return s.RelBias }},
		} {
			c := chart.Line{Title: fmt.Sprintf("%s gradient: %s", part, q.title), XLabel: "temperature tau", YLabel: q.label, LogX: true, LogY: q.logY}
			for _, name := range estimator.Names {
				var ser chart.Series
				for _, s := range rep.Stats {
					if s.Estimator == name && s.Part == part {
						ser.X, ser.Y = append(ser.X, s.Tau), append(ser.Y, q.value(s))
					}
				}
				if ser.X != nil {
					ser.Name = name
					c.Series = append(c.Series, ser)
				}
			}
			if err := c.Save(filepath.Join(dir, fmt.Sprintf("%s-%s.png", q.file, part))); err != nil {
				return err
			}
		}
	}
	return nil
}
