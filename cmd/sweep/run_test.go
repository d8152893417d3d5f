package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gsvae/internal/cli"
	"gsvae/sweep"
)

// asSweep makes the test binary run as the sweep command, with the test
// grid, when it is set in the environment: the tests start it as a child
// process to send it signals and to drive the Slurm script with it.
const asSweep = "GSVAE_SWEEP_TEST_AS_SWEEP"

// binEnv names the folder of the test's train and eval for that child.
const binEnv = "GSVAE_SWEEP_TEST_BIN"

func TestMain(m *testing.M) {
	if os.Getenv(asSweep) == "1" {
		cli.Main("sweep", testEnv(os.Getenv(binEnv)).run)
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// tinyGrid is the test grid: four cells of one row, each trained in about
// a second (200 images, 3x4 latents, one hidden layer of 16) and evaluated
// with k = 2. It is not one of sweep.Names: users never see it.
func tinyGrid() (sweep.Grid, error) {
	base := []string{"-limit", "200", "-batch", "50", "-hidden", "16", "-N", "3", "-K", "4", "-seed", "1"}
	cell := func(name, est, lr, epochs string) sweep.Cell {
		return sweep.Cell{
			Name: "vae-categorical-tiny-" + name, Row: sweep.Row{Task: "vae", Arch: "tiny", Latent: "categorical"},
			Estimator: est, Setting: "lr " + lr,
			Train: append(append([]string{}, base...), "-estimator", est, "-lr", lr, "-epochs", epochs),
			Eval:  []string{"-split", "test", "-iw", "2", "-seed", "1"},
		}
	}
	return sweep.NewGrid("tiny", "a test grid", []sweep.Cell{
		cell("gs-lr1e-3", "gs", "1e-3", "2"),
		cell("gs-lr3e-3", "gs", "3e-3", "5"), // long enough to be stopped mid-training
		cell("sf-lr1e-3", "sf", "1e-3", "2"),
		cell("st-lr1e-3", "st", "1e-3", "2"),
	})
}

// testEnv is the command's environment with the test grid as well as the
// real ones, and -bin defaulting to bin.
func testEnv(bin string) env {
	return env{
		lookup: func(name string) (sweep.Grid, error) {
			if name == "tiny" {
				return tinyGrid()
			}
			return sweep.Lookup(name)
		},
		getenv:     os.Getenv,
		executable: func() (string, error) { return filepath.Join(bin, "train"), nil }, // -bin: its folder
		self:       "sweep",
	}
}

// result is what one invocation of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// runSweep runs the command in this process with e, the way cli.Main does.
func runSweep(ctx context.Context, e env, args ...string) result {
	var stdout, stderr bytes.Buffer
	err := e.run(ctx, args, &stdout, &stderr)
	code := cli.Report("sweep", err, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// testContext returns a context that ends 30 s before the test binary's
// deadline (go test -timeout), so that a child process that hangs fails
// its test, with the child's output, instead of panicking the binary.
func testContext(t *testing.T) context.Context {
	t.Helper()
	if d, ok := t.Deadline(); ok {
		ctx, cancel := context.WithDeadline(context.Background(), d.Add(-30*time.Second))
		t.Cleanup(cancel)
		return ctx
	}
	return context.Background()
}

// command returns the child process name args, which cannot outlive the
// test: it runs in a process group of its own, killed whole when ctx ends
// and again when the test ends (a grandchild left behind is killed with
// it), and Wait stops waiting for its output 10 s after it exits (a
// grandchild holding the pipe would otherwise keep Wait waiting).
func command(t *testing.T, ctx context.Context, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // ESRCH when nothing is left: nothing to do
		}
	})
	return cmd
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// buildBinaries builds train and eval (with the test run's BLAS) into a
// temporary folder, once per run of the test binary (about a minute the
// first time, seconds with the build cache), and returns the folder.
func buildBinaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds train and eval: not in -short mode")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "sweep-test-bin-")
		if binErr != nil {
			return
		}
		args := append(append([]string{"build"}, buildTags...), "-o", binDir+string(filepath.Separator), "gsvae/cmd/train", "gsvae/cmd/eval")
		cmd := exec.Command("go", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// TestCellIndex checks where run takes the cell index from: -index, else
// $SLURM_ARRAY_TASK_ID, else $JOB_COMPLETION_INDEX, and that a value that
// is not an index of the grid is refused whatever its source.
func TestCellIndex(t *testing.T) {
	const n = 48
	for _, tt := range []struct {
		name          string
		flagSet       bool
		flag          int
		slurm, k8s    string
		want          int
		src, errorHas string
	}{
		{name: "flag", flagSet: true, flag: 7, want: 7, src: "-index"},
		{name: "flag beats both", flagSet: true, flag: 7, slurm: "3", k8s: "4", want: 7, src: "-index"},
		{name: "slurm", slurm: "3", want: 3, src: "$SLURM_ARRAY_TASK_ID"},
		{name: "slurm beats k8s", slurm: "3", k8s: "4", want: 3, src: "$SLURM_ARRAY_TASK_ID"},
		{name: "k8s", k8s: "4", want: 4, src: "$JOB_COMPLETION_INDEX"},
		{name: "zero", k8s: "0", want: 0, src: "$JOB_COMPLETION_INDEX"},
		{name: "last", slurm: "47", want: 47, src: "$SLURM_ARRAY_TASK_ID"},
		{name: "none", errorHas: "pass -index I, or set SLURM_ARRAY_TASK_ID (Slurm job array) or JOB_COMPLETION_INDEX (Kubernetes Indexed Job)"},
		{name: "flag negative", flagSet: true, flag: -1, errorHas: `-index "-1": want a cell index, 0 to 47`},
		{name: "flag too large", flagSet: true, flag: 48, errorHas: "-index 48: the grid has 48 cells, 0 to 47"},
		{name: "slurm too large", slurm: "48", errorHas: "$SLURM_ARRAY_TASK_ID 48: the grid has 48 cells"},
		{name: "slurm word", slurm: "x", k8s: "4", errorHas: `$SLURM_ARRAY_TASK_ID "x"`},
		{name: "slurm space", slurm: " 3", errorHas: `$SLURM_ARRAY_TASK_ID " 3"`},
		{name: "slurm plus", slurm: "+3", errorHas: `$SLURM_ARRAY_TASK_ID "+3"`},
		{name: "slurm float", slurm: "3.0", errorHas: `$SLURM_ARRAY_TASK_ID "3.0"`},
		{name: "slurm range", slurm: "0-3", errorHas: `$SLURM_ARRAY_TASK_ID "0-3"`},
		{name: "k8s negative", k8s: "-2", errorHas: `$JOB_COMPLETION_INDEX "-2"`},
		{name: "k8s huge", k8s: "99999999999999999999999", errorHas: `$JOB_COMPLETION_INDEX "99999999999999999999999"`},
	} {
		getenv := func(k string) string {
			return map[string]string{slurmIndex: tt.slurm, k8sIndex: tt.k8s}[k]
		}
		i, src, err := cellIndex(tt.flagSet, tt.flag, getenv, n)
		if tt.errorHas != "" {
			var usage cli.UsageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.errorHas) {
				t.Errorf("%s: got %d, %v; want a usage error containing %q", tt.name, i, err, tt.errorHas)
			}
			continue
		}
		if err != nil || i != tt.want || src != tt.src {
			t.Errorf("%s: got %d from %s, %v; want %d from %s", tt.name, i, src, err, tt.want, tt.src)
		}
	}
}

// TestRunUsage checks that run without any index, with a garbage index
// variable, without -grid or with an unknown grid exits with status 2,
// one line on stderr, and does nothing.
func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no index", nil, []string{"-grid", "paper"}, "SLURM_ARRAY_TASK_ID (Slurm job array) or JOB_COMPLETION_INDEX"},
		{"garbage slurm", map[string]string{slurmIndex: "abc"}, []string{"-grid", "paper"}, `$SLURM_ARRAY_TASK_ID "abc"`},
		{"garbage k8s", map[string]string{k8sIndex: "1e3"}, []string{"-grid", "paper"}, `$JOB_COMPLETION_INDEX "1e3"`},
		{"no grid", nil, []string{"-index", "0"}, "-grid is required: notebook or paper"},
		{"unknown grid", nil, []string{"-grid", "tiny", "-index", "0"}, `unknown grid "tiny"`},
		{"positional", nil, []string{"-grid", "paper", "-index", "0", "extra"}, `unexpected argument "extra"`},
	} {
		e := env{lookup: sweep.Lookup, getenv: func(k string) string { return tt.env[k] }, executable: os.Executable, self: "sweep"}
		args := append([]string{"run", "-runs", filepath.Join(dir, "runs"), "-results", filepath.Join(dir, "results")}, tt.args...)
		r := runSweep(context.Background(), e, args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want status 2 and one line containing %q", tt.name, r.code, r.stdout, r.stderr, tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors created %d entries in %s", len(entries), dir)
	}
}

// TestList checks list's four forms on the real grids, and that the test
// grid is not one of them.
func TestList(t *testing.T) {
	e := env{lookup: sweep.Lookup, getenv: func(string) string { return "" }, executable: os.Executable, self: "sweep"}
	for grid, n := range map[string]int{"notebook": 48, "paper": 336} {
		r := runSweep(context.Background(), e, "list", "-grid", grid, "-count")
		if r.code != 0 || r.stdout != strconv.Itoa(n)+"\n" {
			t.Errorf("list -grid %s -count: %d %q %q, want %d", grid, r.code, r.stdout, r.stderr, n)
		}
		r = runSweep(context.Background(), e, "list", "-grid", grid, "-indices")
		if lines := strings.Fields(r.stdout); r.code != 0 || len(lines) != n || lines[0] != "0" || lines[n-1] != strconv.Itoa(n-1) {
			t.Errorf("list -grid %s -indices: %d, %d lines", grid, r.code, len(lines))
		}
		r = runSweep(context.Background(), e, "list", "-grid", grid, "-json", "-runs", "/shared/runs")
		var cells []listed
		if err := json.Unmarshal([]byte(r.stdout), &cells); err != nil || len(cells) != n {
			t.Fatalf("list -grid %s -json: %v, %d cells", grid, err, len(cells))
		}
		last := cells[n-1]
		if last.Index != n-1 || last.Train[0] != "train" || last.Eval[0] != "eval" || last.Eval[1] != "bound" ||
			last.Train[len(last.Train)-1] != "/shared/runs/"+grid+"/"+last.Name {
			t.Errorf("list -grid %s -json: last cell %+v", grid, last)
		}
	}
	r := runSweep(context.Background(), e, "list", "-grid", "paper")
	want := "0\tvae-bernoulli-linear-sf-lr3e-5\n" +
		"\ttrain -hidden none -latent bernoulli -estimator sf -optimizer momentum -lr 3e-5 -tau0 1 -tau-min 0.5 -anneal-rate 3e-05 -anneal-every 1000 -epochs 100 -batch 100 -seed 1 -out checkpoints/sweep/paper/vae-bernoulli-linear-sf-lr3e-5\n" +
		"\teval bound -ckpt checkpoints/sweep/paper/vae-bernoulli-linear-sf-lr3e-5/best.ckpt -split test -iw 1000 -seed 1 -out checkpoints/sweep/paper/vae-bernoulli-linear-sf-lr3e-5/eval.json\n"
	if r.code != 0 || !strings.HasPrefix(r.stdout, want) || strings.Count(r.stdout, "\n") != 3*336 {
		t.Errorf("list -grid paper: status %d, output starting\n%.600s\nwant it to start\n%s", r.code, r.stdout, want)
	}
	// Largest learning rate first: every cell once, the rates never
	// rising, and by index among equal rates (the notebook's are all equal).
	for grid, n := range map[string]int{"notebook": 48, "paper": 336} {
		g, err := sweep.Lookup(grid)
		if err != nil {
			t.Fatal(err)
		}
		r := runSweep(context.Background(), e, "list", "-grid", grid, "-indices", "-largest-lr-first")
		lines := strings.Fields(r.stdout)
		seen := map[int]bool{}
		prevLR, prev := math.Inf(1), -1
		for _, l := range lines {
			i, err := strconv.Atoi(l)
			if err != nil || i < 0 || i >= n || seen[i] {
				t.Fatalf("list -grid %s -largest-lr-first: line %q (seen before: %v)", grid, l, seen[i])
			}
			seen[i] = true
			lr, err := strconv.ParseFloat(flagOf(g.Cells[i].Train, "lr"), 64)
			if err != nil || lr > prevLR || lr == prevLR && i < prev {
				t.Fatalf("list -grid %s -largest-lr-first: cell %d (lr %v) after cell %d (lr %v)", grid, i, lr, prev, prevLR)
			}
			prevLR, prev = lr, i
		}
		if r.code != 0 || len(seen) != n {
			t.Errorf("list -grid %s -largest-lr-first: status %d, %d cells", grid, r.code, len(seen))
		}
		if grid == "paper" && (lines[0] != "4" || flagOf(g.Cells[4].Train, "lr") != "3e-3") {
			t.Errorf("paper grid, largest rate first: starts with cell %s, want 4 (sf, lr 3e-3)", lines[0])
		}
	}
	r = runSweep(context.Background(), e, "list", "-grid", "paper", "-count", "-json")
	if r.code != cli.ExitUsage {
		t.Errorf("list -count -json: status %d, want 2", r.code)
	}
	r = runSweep(context.Background(), e, "list", "-grid", "tiny")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "notebook or paper") {
		t.Errorf("list -grid tiny: status %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}

// folders are the run and result roots of the end-to-end test.
type folders struct{ bin, runs, results string }

func (f folders) args(index int) []string {
	return []string{"run", "-grid", "tiny", "-index", strconv.Itoa(index), "-runs", f.runs, "-results", f.results, "-bin", f.bin}
}

// metricsLines returns the number of lines of a run folder's metrics.jsonl.
func metricsLines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, sweep.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// readRecord reads a result folder's cell.json.
func readRecord(t *testing.T, dir string) sweep.Record {
	t.Helper()
	var rec sweep.Record
	b, err := os.ReadFile(filepath.Join(dir, sweep.CellFile))
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestRunEndToEnd runs the tiny grid with the real train and eval: a
// fresh cell, the skip of a finished one, the resume of a partial one
// (replacing an unfinished result folder), a SIGTERM to sweep during
// training and the rerun that completes the cell, collect with a missing
// cell, and the Slurm script filling that cell.
func TestRunEndToEnd(t *testing.T) {
	bin := buildBinaries(t)
	tmp := t.TempDir()
	f := folders{bin: bin, runs: filepath.Join(tmp, "runs"), results: filepath.Join(tmp, "results")}
	e := testEnv(bin)
	g, err := tinyGrid()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)

	t.Run("fresh", func(t *testing.T) {
		r := runSweep(ctx, e, f.args(0)...)
		if r.code != 0 {
			t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		c := g.Cells[0]
		res := c.ResultDir(f.results)
		for _, name := range []string{"config.json", "metrics.jsonl", "eval.json", "cell.json", "done"} {
			if _, err := os.Stat(filepath.Join(res, name)); err != nil {
				t.Errorf("result folder: %v", err)
			}
		}
		entries, _ := os.ReadDir(res)
		if len(entries) != 5 {
			t.Errorf("result folder holds %d files, want 5 (no checkpoints)", len(entries))
		}
		if hidden, _ := filepath.Glob(filepath.Join(f.results, "tiny", ".*")); len(hidden) != 0 {
			t.Errorf("temporary folders left: %v", hidden)
		}
		rec := readRecord(t, res)
		wantTrain := append([]string{filepath.Join(bin, "train")}, c.TrainArgs(c.RunDir(f.runs))...)
		if rec.Grid != "tiny" || rec.Index != 0 || rec.Name != c.Name || strings.Join(rec.Train, " ") != strings.Join(wantTrain, " ") ||
			len(rec.Ran) != 2 || rec.Ran[0][1] == "-resume" || rec.Revisions["train"] == "" || rec.TrainSeconds <= 0 || rec.EvalSeconds <= 0 {
			t.Errorf("cell.json: %+v", rec)
		}
		for _, want := range []string{"[0] training 3x4 categorical VAE", "[0] epoch   2/2", "sweep: cell 0 vae-categorical-tiny-gs-lr1e-3: done"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stderr, "\r") {
			t.Errorf("stderr has carriage returns (progress bars): %q", r.stderr)
		}
	})

	t.Run("finished is skipped", func(t *testing.T) {
		start := time.Now()
		r := runSweep(ctx, e, f.args(0)...)
		if r.code != 0 || !strings.Contains(r.stdout, "finished") || !strings.Contains(r.stdout, "skipped") || strings.Contains(r.stdout, "training") {
			t.Errorf("status %d, stdout %q", r.code, r.stdout)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("skipping took %v", d)
		}
	})

	t.Run("partial is resumed", func(t *testing.T) {
		c := g.Cells[2]
		run := c.RunDir(f.runs)
		// One of the cell's two epochs, by hand, then an unfinished result
		// folder (no done marker) that the finished one must replace.
		args := c.TrainArgs(run)
		for i := range args {
			if args[i] == "-epochs" {
				args[i+1] = "1"
			}
		}
		if out, err := command(t, ctx, filepath.Join(bin, "train"), args...).CombinedOutput(); err != nil {
			t.Fatalf("train: %v\n%s", err, out)
		}
		stale := c.ResultDir(f.results)
		if err := os.MkdirAll(stale, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stale, "junk"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runSweep(ctx, e, f.args(2)...)
		if r.code != 0 {
			t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "resuming: "+filepath.Join(bin, "train")+" -resume -out "+run+" -epochs 2") {
			t.Errorf("stdout lacks the resume command:\n%s", r.stdout)
		}
		if n := metricsLines(t, run); n != 2 {
			t.Errorf("metrics.jsonl has %d lines, want 2", n)
		}
		if _, err := os.Stat(filepath.Join(stale, "junk")); !os.IsNotExist(err) {
			t.Errorf("the unfinished result folder was not replaced: %v", err)
		}
		if rec := readRecord(t, stale); rec.Ran[0][1] != "-resume" {
			t.Errorf("cell.json ran %q, want train -resume first", rec.Ran)
		}
	})

	t.Run("SIGTERM then resume", func(t *testing.T) {
		c := g.Cells[1]
		run := c.RunDir(f.runs)
		cmd := command(t, ctx, os.Args[0], f.args(1)...)
		cmd.Env = append(os.Environ(), asSweep+"=1", binEnv+"="+bin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Signal sweep once train has finished its first epoch of five.
		var log strings.Builder
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "[1] epoch   1/5") {
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				signalled = true
			}
		}
		err = cmd.Wait()
		t.Logf("sweep run, SIGTERM after epoch 1:\n%s%s", log.String(), stderr.String())
		var exit *exec.ExitError
		if !signalled || !errors.As(err, &exit) || exit.ExitCode() != cli.ExitInterrupted {
			t.Fatalf("signalled %v, exit %v; want status 130", signalled, err)
		}
		if !strings.Contains(stderr.String(), "sweep: cell 1 vae-categorical-tiny-gs-lr3e-3: interrupted") {
			t.Errorf("stderr lacks the interruption line:\n%s", stderr.String())
		}
		if !strings.Contains(log.String(), "resume with: train -resume -out") {
			t.Errorf("train did not save its position:\n%s", log.String())
		}
		if _, err := os.Stat(filepath.Join(run, sweep.ModelFile)); err != nil {
			t.Fatalf("no checkpoint after SIGTERM: %v", err)
		}
		n := metricsLines(t, run)
		if n < 1 || n >= 5 {
			t.Errorf("metrics.jsonl has %d lines after SIGTERM, want 1 to 4", n)
		}
		if _, err := os.Stat(c.ResultDir(f.results)); !os.IsNotExist(err) {
			t.Errorf("an interrupted cell has a result folder: %v", err)
		}

		r := runSweep(ctx, e, f.args(1)...)
		t.Logf("rerun:\n%s%s", r.stdout, r.stderr)
		if r.code != 0 || !strings.Contains(r.stdout, " -resume -out "+run+" -epochs 5") {
			t.Fatalf("rerun: status %d; want 0 after train -resume", r.code)
		}
		if n := metricsLines(t, run); n != 5 {
			t.Errorf("metrics.jsonl has %d lines after the rerun, want 5", n)
		}
		if _, err := os.Stat(filepath.Join(c.ResultDir(f.results), sweep.DoneFile)); err != nil {
			t.Errorf("rerun: %v", err)
		}
	})

	t.Run("collect lists the missing cell", func(t *testing.T) {
		out := filepath.Join(tmp, "table")
		r := runSweep(ctx, e, "collect", "-grid", "tiny", "-results", f.results, "-out", out)
		t.Logf("collect:\n%s", r.stdout)
		if r.code != 0 {
			t.Fatalf("status %d, stderr %s", r.code, r.stderr)
		}
		md, err := os.ReadFile(filepath.Join(out, "table.md"))
		if err != nil {
			t.Fatal(err)
		}
		// The gs cell chosen is the one with the lower validation -ELBO.
		// Cell 0 finished first, so it has its bound (k = 2); cell 1 has
		// it too only if it beat cell 0 on validation, else its -ELBO
		// alone (k = 1).
		best, bestName := 0.0, ""
		res := sweep.Read(f.results, g)
		for _, i := range []int{0, 1} {
			if bestName == "" || res[i].BestValid < best {
				best, bestName = res[i].BestValid, g.Cells[i].Name
			}
		}
		want1 := 1
		if res[1].BestValid < res[0].BestValid {
			want1 = 2
		}
		if res[0].Test.IWK != 2 || res[1].Test.IWK != want1 {
			t.Errorf("gs cells evaluated with k = %d and %d (valid %.3f, %.3f); want 2 and %d",
				res[0].Test.IWK, res[1].Test.IWK, res[0].BestValid, res[1].BestValid, want1)
		}
		for _, want := range []string{
			"| row | sf | st | gs |", "| vae/tiny/categorical |", "(101.5)<br>lr ", "missing (110.9)",
			"1 of 4 cells have no finished result", "- 3 vae-categorical-tiny-st-lr1e-3",
			"printf '%s\\n' 3 | xargs -P 1 -I{} sweep run -grid tiny -results " + f.results + " -index {}",
			"sbatch --array=3 --export=ALL,GRID=tiny deploy/slurm/reproduce.sbatch",
		} {
			if !strings.Contains(string(md), want) {
				t.Errorf("table.md lacks %q:\n%s", want, md)
			}
		}
		csvText, err := os.ReadFile(filepath.Join(out, "table.csv"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(csvText)), "\n")
		if len(lines) != 3 || !strings.Contains(string(csvText), ","+bestName+",") {
			t.Errorf("table.csv: want a header and the sf and gs lines, gs choosing %s:\n%s", bestName, csvText)
		}
		cells, err := os.ReadFile(filepath.Join(out, "cells.md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"3 of 4 cells finished", " | " + bestName + " **chosen** | ", "## Time per cell", "The 1 missing cells"} {
			if !strings.Contains(string(cells), want) {
				t.Errorf("cells.md lacks %q:\n%s", want, cells)
			}
		}
		pf, err := os.Open(filepath.Join(out, "table.png"))
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		if _, err := png.Decode(pf); err != nil {
			t.Errorf("table.png: %v", err)
		}
	})

	t.Run("slurm script fills the missing cell", func(t *testing.T) {
		cmd := command(t, ctx, "bash", filepath.Join("..", "..", "deploy", "slurm", "reproduce.sbatch"))
		cmd.Env = append(os.Environ(), asSweep+"=1", binEnv+"="+bin, "SWEEP="+os.Args[0], "GRID=tiny",
			"RUNS="+f.runs, "RESULTS="+f.results, "SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_JOB_ID=")
		out, err := cmd.CombinedOutput()
		t.Logf("reproduce.sbatch, SLURM_ARRAY_TASK_ID=3:\n%s", out)
		if err != nil {
			t.Fatalf("reproduce.sbatch: %v", err)
		}
		r := runSweep(ctx, e, "collect", "-grid", "tiny", "-results", f.results)
		if r.code != 0 || !strings.Contains(r.stdout, "No cell is missing") || !strings.Contains(r.stdout, "4 of 4 cells finished") {
			t.Errorf("collect after the script: status %d\n%s", r.code, r.stdout)
		}
	})
}

// TestSlurmScriptSignal drives the Slurm script with a fake sweep: it
// must pass the grid, folders and task id on, forward SIGTERM to sweep and
// wait for it, exit with sweep's status 130, and requeue the task.
func TestSlurmScriptSignal(t *testing.T) {
	tmp := t.TempDir()
	fake := filepath.Join(tmp, "sweep")
	// The fake sweep records its arguments and task id, then waits for
	// SIGTERM, "saves" (sleeps), and exits 130 as sweep does.
	script := `#!/bin/bash
echo "args: $*" >> "$LOG"
echo "task: $SLURM_ARRAY_TASK_ID" >> "$LOG"
trap 'echo "got TERM" >> "$LOG"; sleep 0.3; echo "saved" >> "$LOG"; exit 130' TERM
echo started >> "$LOG"
while :; do sleep 0.05; done
`
	scontrol := "#!/bin/sh\necho \"scontrol $*\" >> \"$LOG\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "scontrol"), []byte(scontrol), 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(tmp, "log")
	ctx, cancel := context.WithTimeout(testContext(t), time.Minute)
	defer cancel()
	cmd := command(t, ctx, "bash", filepath.Join("..", "..", "deploy", "slurm", "reproduce.sbatch"))
	cmd.Env = append(os.Environ(), "LOG="+logPath, "SWEEP="+fake, "GRID=notebook", "SHARED=/shared",
		"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_JOB_ID=77", "PATH="+tmp+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The script and the fake sweep share a process group (command). A
	// script that dies without passing the signal on leaves the fake sweep
	// running, holding the output pipe: Wait gives up after WaitDelay. One
	// that never passes it on waits for the fake sweep forever: the
	// context kills the group after a minute.
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "started") {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the fake sweep did not start; output:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	b, _ := os.ReadFile(logPath)
	t.Logf("script output:\n%slog:\n%s", out.String(), b)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Errorf("script exit %v, want status 130", err)
	}
	want := "args: run -grid notebook -runs /shared/checkpoints/sweep -results /shared/results/table1\n" +
		"task: 5\nstarted\ngot TERM\nsaved\nscontrol requeue 77_5\n"
	if string(b) != want {
		t.Errorf("log:\n%s\nwant:\n%s", b, want)
	}

	// Without an array task id the script refuses to run.
	cmd = command(t, ctx, "bash", filepath.Join("..", "..", "deploy", "slurm", "reproduce.sbatch"))
	cmd.Env = append(os.Environ(), "LOG="+logPath, "SWEEP="+fake, "SLURM_ARRAY_TASK_ID=")
	outb, err := cmd.CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(outb), "SLURM_ARRAY_TASK_ID is not set") {
		t.Errorf("without a task id: %v, %s", err, outb)
	}
}

// TestSlurmScriptArray checks that the script's default array covers the
// paper grid's cells.
func TestSlurmScriptArray(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "slurm", "reproduce.sbatch"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := sweep.Lookup("paper")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("#SBATCH --array=0-%d%%", len(g.Cells)-1)
	for _, line := range []string{want, "#SBATCH --requeue", "#SBATCH --signal=B:TERM@"} {
		if !strings.Contains(string(b), line) {
			t.Errorf("reproduce.sbatch lacks %q", line)
		}
	}
	if err := exec.Command("bash", "-n", filepath.Join("..", "..", "deploy", "slurm", "reproduce.sbatch")).Run(); err != nil {
		t.Errorf("bash -n: %v", err)
	}
}
