package main

import (
	"os"
	"path/filepath"
	"testing"

	"gsvae/internal/cli"
)

// TestOneTemperature runs `eval toy` and `eval gradvar` with a single
// temperature (-taus 1): no series of the plots against the temperature
// has two points, and the log-scale axes of the bias plots have nothing
// to span. Both must still exit 0 and write every file (they used to
// panic in gonum's log ticks).
func TestOneTemperature(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runEval(t, "toy", "-estimators", "gs,sf", "-taus", "1", "-draws", "20", "-steps", "20", "-out", out)
	if code != cli.ExitOK {
		t.Errorf("toy: exit %d, stderr %q", code, stderr)
	}
	for _, f := range []string{"toy.md", "toy.csv", "toy-bias.png", "toy-variance.png", "toy-sgd.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	dir := t.TempDir()
	newCheckpoint(t, dir)
	gv := filepath.Join(t.TempDir(), "gv")
	code, _, stderr = runEval(t, "gradvar", "-ckpt", dir, "-draws", "3", "-batch", "2", "-taus", "1", "-estimators", "gs,sf", "-out", gv)
	if code != cli.ExitOK {
		t.Errorf("gradvar: exit %d, stderr %q", code, stderr)
	}
	for _, f := range []string{"report.md", "report.csv", "report.json", "log10var-encoder.png", "log10var-decoder.png", "bias-encoder.png", "bias-decoder.png"} {
		if _, err := os.Stat(filepath.Join(gv, f)); err != nil {
			t.Error(err)
		}
	}
}
