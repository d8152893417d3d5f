package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gsvae/internal/cli"
	"gsvae/model"
	"gsvae/train"
)

// runEval runs the command with args the way cli.Main does and returns its
// exit status and output.
func runEval(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return cli.Report("eval", err, &errOut), out.String(), errOut.String()
}

// newCheckpoint saves an untrained 3x4 model with hidden layers 16 and 8 in
// dir and returns the checkpoint's path.
func newCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	m := train.Defaults().Model
	m.N, m.K, m.Hidden = 3, 4, []int{16, 8}
	return saveFresh(t, dir, m)
}

// saveFresh writes to dir/model.ckpt the freshly initialised training
// state of a run of the model m, and returns its path.
func saveFresh(t *testing.T, dir string, m model.Config) string {
	t.Helper()
	cfg := train.Defaults()
	cfg.Model, cfg.Out = m, dir
	st, err := train.NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, train.CheckpointFile)
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBound runs `eval bound` on the valid split with k = 3 and checks the
// exit status, the summary line and eval.json: every key present, the
// bounds finite, and -L_k no worse than the single-sample -ELBO by more
// than 4 combined standard errors (L_k >= ELBO in expectation).
func TestBound(t *testing.T) {
	dir := t.TempDir()
	newCheckpoint(t, dir)
	code, stdout, stderr := runEval(t, "bound", "-ckpt", dir, "-split", "valid", "-iw", "3")
	if code != cli.ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "-L_3") || !strings.Contains(stdout, "eval.json") {
		t.Errorf("summary %q lacks the bound or the output file", stdout)
	}
	b, err := os.ReadFile(filepath.Join(dir, "eval.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"split", "n", "samples", "neg_elbo", "neg_elbo_se", "iw_k", "neg_iw_bound", "neg_iw_bound_se", "seconds"} {
		if _, ok := m[key]; !ok {
			t.Errorf("eval.json lacks %q", key)
		}
	}
	elbo, iw := m["neg_elbo"].(float64), m["neg_iw_bound"].(float64)
	se := math.Hypot(m["neg_elbo_se"].(float64), m["neg_iw_bound_se"].(float64))
	if math.IsNaN(iw) || iw > elbo+4*se || m["n"].(float64) != 10000 || m["split"] != "valid" {
		t.Errorf("eval.json: %v", m)
	}
}

// TestBoundUsageErrors checks that bad command lines exit with status 2
// and one line on stderr, before any work.
func TestBoundUsageErrors(t *testing.T) {
	dir := t.TempDir()
	newCheckpoint(t, dir)
	for _, args := range [][]string{
		{},
		{"no-such-subcommand"},
		{"bound", "-ckpt", dir, "-split", "train"},
		{"bound", "-ckpt", dir, "-iw", "0"},
		{"bound", "-ckpt", dir, "-samples", "0"},
		{"bound", "-ckpt", dir, "-bogus"},
	} {
		code, _, stderr := runEval(t, args...)
		if code != cli.ExitUsage || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "eval.json")); !os.IsNotExist(err) {
		t.Errorf("eval.json written by a refused command line: %v", err)
	}
	if code, _, stderr := runEval(t, "bound", "-ckpt", filepath.Join(dir, "missing.ckpt")); code != cli.ExitFailure || !strings.Contains(stderr, "missing.ckpt") {
		t.Errorf("missing checkpoint: exit %d, stderr %q", code, stderr)
	}
}

// TestHelp checks that -h lists the subcommand and every flag of bound.
func TestHelp(t *testing.T) {
	code, stdout, _ := runEval(t, "bound", "-h")
	if code != cli.ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, flag := range []string{"-ckpt", "-split", "-samples", "-iw", "-seed", "-out", "-data"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("-h output lacks %s", flag)
		}
	}
}

// TestGradVar runs `eval gradvar` on an untrained 3x4 model (64 codes per
// image, so the reference is exact) with 5 draws and checks the files: the
// CSV has the columns and one row per estimator, temperature and
// part, and the four PNGs exist.
func TestGradVar(t *testing.T) {
	dir := t.TempDir()
	newCheckpoint(t, dir)
	out := filepath.Join(t.TempDir(), "gv")
	code, stdout, stderr := runEval(t, "gradvar", "-ckpt", dir, "-draws", "5", "-batch", "4", "-taus", "0.5,1",
		"-estimators", "gs,sf,nvil", "-baseline-steps", "3", "-out", out)
	if code != cli.ExitOK {
		t.Fatalf("exit status %d (stderr %q)", code, stderr)
	}
	if !strings.Contains(stdout, "measured 3 estimators") {
		t.Errorf("stdout %q", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.HasPrefix(lines[0], "estimator,tau,part,log10_var,snr,rel_bias,") || !strings.Contains(lines[0], "cosine") {
		t.Errorf("CSV header %q", lines[0])
	}
	if want := 1 + 2*(2+1+1); len(lines) != want { // gs at 2 taus, sf, nvil; 2 parts each
		t.Errorf("CSV has %d lines, want %d", len(lines), want)
	}
	for _, f := range []string{"report.md", "report.json", "log10var-encoder.png", "log10var-decoder.png", "bias-encoder.png", "bias-decoder.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	for _, bad := range [][]string{
		{"-estimators", "gs,rebar"}, {"-taus", "0"}, {"-draws", "1"}, {"-split", "foo"},
	} {
		if code, _, stderr := runEval(t, append([]string{"gradvar", "-ckpt", dir}, bad...)...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", bad, code, stderr)
		}
	}
}
