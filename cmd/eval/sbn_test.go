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
	"gsvae/train"
)

// sbnCheckpoint saves an untrained 392-(3x4)-(3x4)-392 SBN run in dir and
// returns the checkpoint's path.
func sbnCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	cfg := train.Defaults()
	cfg.Model = model.Config{Task: model.TaskSBN, N: 3, K: 4, Hidden: []int{}, Input: model.Pixels}
	cfg.Out = dir
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
