package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gsvae/estimator"
	"gsvae/eval"
	"gsvae/internal/cli"
	"gsvae/model"
	"gsvae/train"
)

// writeRun writes the files of a finished run folder: config.json, two
// epochs of metrics.jsonl and, with a bound, eval.json.
func writeRun(t *testing.T, dir, latent, name string, bound *boundReport) {
	t.Helper()
	cfg := train.Defaults().WithEstimator(name)
	cfg.Model.Kind = latent
	mustWriteJSON(t, filepath.Join(dir, train.ConfigFile), cfg)
	var ms []train.Metrics
	for e := 1; e <= 2; e++ {
		ms = append(ms, train.Metrics{Estimator: name, Latent: latent, Epoch: e, Step: 500 * e, ValidNegELBO: 150 - float64(e), ValidSE: 0.5, StepsPerSec: 50})
	}
	writeMetrics(t, dir, ms)
	if bound != nil {
		mustWriteJSON(t, filepath.Join(dir, "eval.json"), bound)
	}
}

// writeMetrics writes ms as dir's metrics.jsonl.
func writeMetrics(t *testing.T, dir string, ms []train.Metrics) {
	t.Helper()
	var lines []string
	for _, m := range ms {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	if err := os.WriteFile(filepath.Join(dir, train.MetricsFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustWriteJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTable checks `eval table` on two runs, one evaluated: a row per run
// with its last validation bound and 20 ms/step (50 steps/s), its test
// bound and the paper's number in the Table 1 grid, and "-" for the
// missing evaluation.
func TestTable(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, filepath.Join(dir, "categorical-gs"), model.LatentCategorical, estimator.GS,
		&boundReport{Split: "test", NegELBO: 120.5, NegELBOSE: 0.4, NegIWBound: 101.25, NegIWBoundSE: 0.3, IWK: 1000})
	writeRun(t, filepath.Join(dir, "bernoulli-sf"), model.LatentBernoulli, estimator.SF, nil)
	if err := os.Mkdir(filepath.Join(dir, "not-a-run"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "table.md")
	code, stdout, stderr := runEval(t, "table", "-dir", dir, "-out", out)
	if code != cli.ExitOK {
		t.Fatalf("exit status %d (stderr %q)", code, stderr)
	}
	for _, want := range []string{
		"| bernoulli | sf | 2 | 148.00 ± 0.50 |  |  | 112.2 | 20.0 |",
		"| categorical | gs | 2 | 148.00 ± 0.50 | 120.50 ± 0.40 | 101.25 ± 0.30 (1000) | 101.5 | 20.0 |",
		"| bernoulli | - / 112.2 |",
		"| 101.2 / 101.5 |",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != stdout {
		t.Errorf("-out file differs from stdout (read error %v)", err)
	}
	if code, _, stderr := runEval(t, "table", "-dir", t.TempDir()); code != cli.ExitFailure || !strings.Contains(stderr, "no training runs") {
		t.Errorf("empty folder: exit %d, stderr %q; want 1 and \"no training runs\"", code, stderr)
	}
}

// TestCurves draws the curves of a written run folder with one tracked
// measurement and checks the summary line and the four charts.
func TestCurves(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, model.LatentCategorical, estimator.GS, nil)
	ms, err := readMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	ms[1].GradVar = &eval.GradVarReport{Reference: "muprop", Stats: []eval.GradStat{
		{Estimator: estimator.GS, Tau: 1, Part: model.PartEncoder, Log10Var: -2},
		{Estimator: estimator.GS, Tau: 1, Part: model.PartDecoder, Log10Var: -3},
	}}
	writeMetrics(t, dir, ms)
	code, stdout, stderr := runEval(t, "curves", "-run", dir)
	if code != cli.ExitOK {
		t.Fatalf("exit status %d (stderr %q)", code, stderr)
	}
	if !strings.Contains(stdout, "2 epochs, 1 gradient-variance measurements; wrote 4 charts") {
		t.Errorf("stdout %q", stdout)
	}
	for _, f := range []string{"elbo.png", "tau.png", "gradvar-encoder.png", "gradvar-decoder.png"} {
		if _, err := os.Stat(filepath.Join(dir, "curves", f)); err != nil {
			t.Error(err)
		}
	}
	if code, _, _ := runEval(t, "curves", "-run", t.TempDir()); code != cli.ExitFailure {
		t.Errorf("empty folder: exit %d, want 1", code)
	}
}

// TestToy runs `eval toy` with few draws and steps and checks the table
// (one row per estimator and temperature), the files, and the usage errors.
func TestToy(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runEval(t, "toy", "-K", "3", "-t", "0.45", "-taus", "0.5,1", "-draws", "200", "-steps", "50", "-out", out)
	if code != cli.ExitOK {
		t.Fatalf("exit status %d (stderr %q)", code, stderr)
	}
	if got, want := strings.Count(stdout, "\n| "), 1+3*2+5; got != want { // header, 3 tempered x 2 taus, 5 others (the rule starts "|-")
		t.Errorf("table has %d rows, want %d:\n%s", got, want, stdout)
	}
	for _, f := range []string{"toy.md", "toy.csv", "toy-bias.png", "toy-variance.png", "toy-sgd.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// The reported bias of the unbiased estimators is noise: within 4
	// standard errors sqrt(variance/draws) of zero (sum over 3 logits,
	// so the bound is loose rather than tight).
	b, err := os.ReadFile(filepath.Join(out, "toy.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if r[0] != estimator.SF && r[0] != estimator.NVIL && r[0] != estimator.MuProp {
			continue
		}
		bias, err1 := strconv.ParseFloat(r[2], 64)
		variance, err2 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("row %v: %v %v", r, err1, err2)
		}
		if se := math.Sqrt(variance / 200); !(bias <= 4*se) {
			t.Errorf("%s: reported bias %g above 4 standard errors %g", r[0], bias, 4*se)
		}
	}
	for _, bad := range [][]string{{"-K", "1"}, {"-t", "2"}, {"-estimators", "rebar"}, {"-draws", "1"}, {"-lr", "0"}} {
		if code, _, stderr := runEval(t, append([]string{"toy", "-out", out}, bad...)...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", bad, code, stderr)
		}
	}
}
