package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gsvae/internal/cli"
	"gsvae/model"
)

// sbnCheckpoint saves an untrained 392-(3x4)-(3x4)-392 SBN run in dir and
// returns the checkpoint's path.
func sbnCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	return saveFresh(t, dir, model.Config{Task: model.TaskSBN, N: 3, K: 4, Hidden: []int{}, Input: model.Pixels})
}

// TestBoundSBN runs `eval bound` on an SBN checkpoint on the valid split
// with m = 5 and checks eval.json: the -ELBO is the expected
// -log p(x_lower | h) alone (rec equals it, the KL is 0), the 5-sample
// estimate -log (1/5) sum_i p(x_lower | h_i) is finite and no worse than
// the one-sample value by more than 4 combined standard errors, and the
// summary names the checkpoint and the file written.
func TestBoundSBN(t *testing.T) {
	dir := t.TempDir()
	ckpt := sbnCheckpoint(t, dir)
	out := filepath.Join(t.TempDir(), "sbn.json")
	code, stdout, stderr := runEval(t, "bound", "-ckpt", dir, "-split", "valid", "-iw", "5", "-out", out)
	if code != cli.ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, ckpt+" (epoch 0), valid, 10000 images: ") || !strings.Contains(stdout, "-L_5") || !strings.HasSuffix(stdout, "wrote "+out+"\n") {
		t.Errorf("summary %q", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r boundReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	se := math.Hypot(r.NegELBOSE, r.NegIWBoundSE)
	switch {
	case r.KL != 0 || r.Rec != r.NegELBO:
		t.Errorf("rec %v, KL %v, -ELBO %v: want the SBN's KL 0 and rec = -ELBO", r.Rec, r.KL, r.NegELBO)
	case math.IsNaN(r.NegIWBound) || math.IsInf(r.NegIWBound, 0) || r.NegIWBound > r.NegELBO+4*se:
		t.Errorf("-L_5 = %v against -ELBO %v (combined se %v)", r.NegIWBound, r.NegELBO, se)
	case r.N != 10000 || r.Split != "valid" || r.IWK != 5 || r.Checkpoint != ckpt:
		t.Errorf("eval.json: %+v", r)
	}
}

// TestToyDefaultOut runs a short `eval toy` without -out in an empty
// working directory: the report goes to checkpoints/toy there (toy.md,
// toy.csv and the three plots), and nothing else is created.
func TestToyDefaultOut(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	code, stdout, stderr := runEval(t, "toy", "-estimators", "gs,sf", "-taus", "0.5,1", "-draws", "20", "-steps", "20")
	if code != cli.ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "| gs | 0.5 |") || !strings.Contains(stdout, "| gs | 1 |") || !strings.Contains(stdout, "| sf | - |") {
		t.Errorf("stdout lacks the rows of gs and sf:\n%s", stdout)
	}
	for _, f := range []string{"toy.md", "toy.csv", "toy-bias.png", "toy-variance.png", "toy-sgd.png"} {
		if _, err := os.Stat(filepath.Join(wd, "checkpoints", "toy", f)); err != nil {
			t.Error(err)
		}
	}
	entries, err := os.ReadDir(wd)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "checkpoints" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the working directory holds %v, want checkpoints only", names)
	}
}

// TestGradVarSBN runs `eval gradvar` on an SBN checkpoint (64 codes per
// layer, a batch of 2: the reference is exact) with every estimator and 3
// draws: exit 0, an exact reference, one statistic per estimator (the
// tempered ones at the one temperature) and part, and a report that
// describes the SBN.
func TestGradVarSBN(t *testing.T) {
	dir := t.TempDir()
	sbnCheckpoint(t, dir)
	out := filepath.Join(t.TempDir(), "gv")
	code, stdout, stderr := runEval(t, "gradvar", "-ckpt", dir, "-draws", "3", "-batch", "2", "-taus", "0.5", "-baseline-steps", "3", "-out", out)
	if code != cli.ExitOK {
		t.Fatalf("exit status %d (stderr %q)", code, stderr)
	}
	if !strings.Contains(stdout, "measured 8 estimators") {
		t.Errorf("stdout %q", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Reference string `json:"reference"`
		Stats     []struct {
			Estimator string  `json:"estimator"`
			Log10Var  float64 `json:"log10_var"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Reference != "exact" || len(rep.Stats) != 2*8 {
		t.Errorf("reference %q and %d statistics, want exact and 16", rep.Reference, len(rep.Stats))
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "3x4 categorical SBN (392-12-12-392)") {
		t.Errorf("report.md does not describe the SBN:\n%s", md)
	}
}
