package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gsvae/estimator"
	"gsvae/internal/cli"
	"gsvae/model"
	"gsvae/train"
)

// paperTable1 holds the VAE rows of Jang, Gu & Poole (2017), Table 1:
// test negative log-likelihood bounds (m = 1000) in nats, by latent kind and
// estimator. The paper has no NVIL column.
var paperTable1 = map[string]map[string]float64{
	model.LatentBernoulli: {
		estimator.SF: 112.2, estimator.DARN: 110.9, estimator.MuProp: 109.7, estimator.ST: 116.0,
		estimator.AnnealedST: 111.5, estimator.GS: 105.0, estimator.STGS: 111.5,
	},
	model.LatentCategorical: {
		estimator.SF: 110.6, estimator.DARN: 128.8, estimator.MuProp: 107.0, estimator.ST: 110.9,
		estimator.AnnealedST: 107.8, estimator.GS: 101.5, estimator.STGS: 107.8,
	},
}

// runSummary is what the table shows of one run folder.
type runSummary struct {
	dir            string
	cfg            train.Config
	last           train.Metrics // the last epoch's metrics
	secondsPerStep float64       // mean training time per update
	bound          *boundReport  // eval.json, if the run has one
}

func runTable(args []string, stdout io.Writer) error {
	dir, out := "checkpoints/reproduce", ""
	fs := flag.NewFlagSet("eval table", flag.ContinueOnError)
	fs.StringVar(&dir, "dir", dir, "`folder` whose sub-folders are training runs (as `make reproduce` writes them)")
	fs.StringVar(&out, "out", out, "also write the table to this markdown `file`")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	runs, err := readRuns(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	writeTable(&b, runs)
	if out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// readRuns reads every run folder directly under dir, sorted by latent kind
// then estimator in the order of estimator.Names.
func readRuns(dir string) ([]runSummary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	var runs []runSummary
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := readRun(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // not a run folder
		}
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("no training runs (folders with %s and %s) in %s", train.ConfigFile, train.MetricsFile, dir)
	}
	slices.SortFunc(runs, func(a, b runSummary) int {
		if c := strings.Compare(a.cfg.Model.Kind, b.cfg.Model.Kind); c != 0 {
			return c
		}
		return slices.Index(estimator.Names, a.cfg.Estimator) - slices.Index(estimator.Names, b.cfg.Estimator)
	})
	return runs, nil
}

// readRun reads a run's config.json, metrics.jsonl and, if present,
// eval.json.
func readRun(dir string) (runSummary, error) {
	r := runSummary{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, train.ConfigFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r.cfg); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, train.ConfigFile), err)
	}
	ms, err := readMetrics(dir)
	if err != nil {
		return r, err
	}
	var steps int
	var seconds float64
	for _, m := range ms {
		if m.StepsPerSec > 0 {
			seconds += float64(m.Step-r.last.Step) / m.StepsPerSec
			steps += m.Step - r.last.Step
		}
		r.last = m
	}
	if steps > 0 {
		r.secondsPerStep = seconds / float64(steps)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "eval.json")); err == nil {
		r.bound = new(boundReport)
		if err := json.Unmarshal(b, r.bound); err != nil {
			return r, fmt.Errorf("%s: %w", filepath.Join(dir, "eval.json"), err)
		}
	}
	return r, nil
}

// readMetrics reads a run's metrics.jsonl, one record per completed epoch;
// it is an error for the file to hold none.
func readMetrics(dir string) ([]train.Metrics, error) {
	path := filepath.Join(dir, train.MetricsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24) // a line with a gradvar measurement is long
	var ms []train.Metrics
	for sc.Scan() {
		var m train.Metrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ms = append(ms, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no completed epoch", path)
	}
	return ms, nil
}

// writeTable writes one row per run, then the runs' test bounds laid out
// as the paper's Table 1 with the paper's numbers beside them.
func writeTable(w io.Writer, runs []runSummary) {
	fmt.Fprintln(w, "| latent | estimator | epochs | valid -ELBO | test -ELBO | test -L_k (k) | paper | ms/step |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range runs {
		test, iw := "", ""
		if r.bound != nil && r.bound.Split == "test" {
			test = fmt.Sprintf("%.2f ± %.2f", r.bound.NegELBO, r.bound.NegELBOSE)
			iw = fmt.Sprintf("%.2f ± %.2f (%d)", r.bound.NegIWBound, r.bound.NegIWBoundSE, r.bound.IWK)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.2f ± %.2f | %s | %s | %s | %.1f |\n",
			r.cfg.Model.Kind, r.cfg.Estimator, r.last.Epoch, r.last.ValidNegELBO, r.last.ValidSE,
			test, iw, paperValue(r.cfg), 1000*r.secondsPerStep)
	}
	fmt.Fprintln(w)
	cols := []string{estimator.SF, estimator.DARN, estimator.MuProp, estimator.ST, estimator.AnnealedST, estimator.GS, estimator.STGS, estimator.NVIL}
	fmt.Fprintln(w, "Test -L_k as in Table 1 (ours / paper's; paper: Jang et al. 2017, m = 1000):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| latent | "+strings.Join(cols, " | ")+" |")
	fmt.Fprintln(w, "|---"+strings.Repeat("|---", len(cols))+"|")
	for _, kind := range []string{model.LatentBernoulli, model.LatentCategorical} {
		cells := make([]string, len(cols))
		for i, name := range cols {
			ours := "-"
			for _, r := range runs {
				if r.cfg.Model.Kind == kind && r.cfg.Estimator == name && r.bound != nil && r.bound.Split == "test" {
					ours = fmt.Sprintf("%.1f", r.bound.NegIWBound)
				}
			}
			cells[i] = ours + " / " + paperValue(train.Config{Estimator: name, Model: model.Config{Kind: kind}})
		}
		fmt.Fprintln(w, "| "+kind+" | "+strings.Join(cells, " | ")+" |")
	}
}

// paperValue returns the paper's Table 1 number for the run's latent kind
// and estimator, or "-" where the paper has none.
func paperValue(cfg train.Config) string {
	if v, ok := paperTable1[cfg.Model.Kind][cfg.Estimator]; ok {
		return fmt.Sprintf("%.1f", v)
	}
	return "-"
}
