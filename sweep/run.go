package sweep

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"gsvae/internal/cli"
)

// Runner trains and evaluates cells with the train and eval executables.
type Runner struct {
	Bin     string    // folder holding the train and eval executables
	Runs    string    // root of the run folders (checkpoints): Runs/GRID/NAME
	Results string    // root of the result folders: Results/GRID/NAME
	Stdout  io.Writer // the children's stdout, line by line, and the runner's lines
	Stderr  io.Writer // the children's stderr, line by line

	// EvalAll evaluates every cell with its k importance samples. Without
	// it, a cell that a finished cell of its row and estimator beats on
	// validation gets its test -ELBO only (k = 1, about a thousandth of
	// the time): Collect reports the bound of the validation's choice
	// alone, so the beaten cell's bound would never be read, and on the
	// paper grid's small networks that bound takes a fifth to a quarter
	// of a cell's time. The choice lands on a cell evaluated so only if
	// the cell that beat it is removed; running it again then evaluates
	// its bound (see Run).
	EvalAll bool
}

// Record is the content of cell.json in a cell's result folder.
type Record struct {
	Grid  string `json:"grid"`
	Index int    `json:"index"`
	Name  string `json:"name"`
	Row
	Estimator string `json:"estimator"`
	Setting   string `json:"setting"`

	// Train and Eval are the cell's command lines: a fresh train run
	// (which a resumed run continues) and the evaluation.
	Train []string `json:"train"`
	Eval  []string `json:"eval"`
	// Ran lists the command lines that ran, in order: train, or train
	// -resume if it continued a run, then eval (with -iw 1 for the -ELBO
	// alone; a later eval with the cell's k if the cell became its row's
	// and estimator's choice).
	Ran [][]string `json:"ran"`

	// Revisions holds the version control revision of each binary,
	// "unknown" when it was built without it (go build -buildvcs=false);
	// "+modified" marks a build from a working tree with changes.
	Revisions map[string]string `json:"revisions"`
	Host      string            `json:"host"`

	TrainSeconds float64 `json:"train_seconds"` // wall-clock seconds of train in this invocation
	EvalSeconds  float64 `json:"eval_seconds"`  // wall-clock seconds of eval
	Finished     string  `json:"finished"`      // when the record was written, RFC 3339
	// CPUs is the machine's CPU count and Env the settings of the
	// environment that change a run's numbers or speed (GOMAXPROCS sets
	// the bands products are split into, GSVAE_GEMM the strategy;
	// OPENBLAS_CORETYPE the kernels OpenBLAS picks), when set.
	CPUs int               `json:"cpus"`
	Env  map[string]string `json:"env,omitempty"`
}

// Run trains and evaluates cell i of g, then publishes its result folder.
// A run folder holding a checkpoint is resumed. Unless EvalAll is set, the
// evaluation has one sample (the test -ELBO) when a finished cell of the
// same row and estimator has a lower best validation -ELBO (or an equal
// one and a lower index, as Collect breaks ties), and the cell's k
// samples otherwise.
//
// A finished cell (its done marker exists) is skipped, saying so, unless
// it holds the -ELBO alone and no finished cell beats it any more (its
// rival's folder was removed, say): then its best checkpoint is evaluated
// with k samples and the folder published again. So the cell Collect
// chooses lacks its bound only when the folder of the cell that beat it
// has been removed, until it is run again; Collect lists such choices.
//
// It returns an error wrapping context.Canceled when ctx is cancelled or a
// child was interrupted (its position is saved: run it again to resume),
// and one naming the cell and the command line when a child fails.
func (r Runner) Run(ctx context.Context, g Grid, i int) error {
	c := g.Cells[i]
	resDir, runDir := c.ResultDir(r.Results), c.RunDir(r.Runs)
	trainExe, evalExe := filepath.Join(r.Bin, "train"), filepath.Join(r.Bin, "eval")
	rec := Record{
		Grid: c.Grid, Index: c.Index, Name: c.Name, Row: c.Row, Estimator: c.Estimator, Setting: c.Setting,
		Train: append([]string{trainExe}, c.TrainArgs(runDir)...),
		Eval:  append([]string{evalExe}, c.EvalArgs(runDir)...),
	}
	owed := false // finished with the -ELBO alone, and now the choice
	if _, err := os.Stat(filepath.Join(resDir, DoneFile)); err == nil {
		res := readCell(resDir, c)
		if res.Err != nil || res.Bounded() || beaten(r.Results, g, c, res.BestValid) != nil {
			fmt.Fprintf(r.Stdout, "sweep: cell %d %s: finished (%s exists): skipped\n", c.Index, c.Name, filepath.Join(resDir, DoneFile))
			return nil
		}
		owed, rec = true, res.Record
		rec.Eval = append([]string{evalExe}, c.EvalArgs(runDir)...)
		fmt.Fprintf(r.Stdout, "sweep: cell %d %s: finished with the -ELBO alone (k = %d), but no finished cell of %s %s beats it on validation now: evaluating its bound (k = %d)\n",
			c.Index, c.Name, res.Test.IWK, c.Row, c.Estimator, c.IWK())
		if _, err := os.Stat(filepath.Join(runDir, BestFile)); err != nil {
			return fmt.Errorf("cell %d %s: its bound is owed, but its checkpoint is not here (%w): run it where %s is, or remove %s to train it again", c.Index, c.Name, err, runDir, resDir)
		}
	}
	for _, exe := range []string{trainExe, evalExe} {
		if fi, err := os.Stat(exe); err != nil || fi.IsDir() {
			return fmt.Errorf("cell %d %s: no executable %s (build it with make build, or pass -bin DIR)", c.Index, c.Name, exe)
		}
	}
	if err := os.MkdirAll(filepath.Dir(runDir), 0o755); err != nil {
		return fmt.Errorf("cell %d %s: %w", c.Index, c.Name, err)
	}
	// The binaries' revisions are read before they run: a binary replaced
	// while the cell runs must not be credited with it.
	if rec.Revisions == nil {
		rec.Revisions = map[string]string{}
	}
	rec.Revisions["sweep"], rec.Revisions["eval"] = ownRevision(), revision(evalExe)
	if !owed {
		rec.Revisions["train"] = revision(trainExe)
		argv, what := rec.Train, "training"
		if _, err := os.Stat(filepath.Join(runDir, ModelFile)); err == nil {
			argv, what = append([]string{trainExe}, c.ResumeArgs(runDir)...), "resuming"
		}
		if err := r.step(ctx, c, what, argv, &rec, &rec.TrainSeconds); err != nil {
			return err
		}
	}
	argv, k, err := r.evaluation(g, c, runDir, rec.Eval)
	if err != nil {
		return err
	}
	if evaluated(runDir, k) {
		fmt.Fprintf(r.Stdout, "sweep: cell %d %s: %s is newer than %s: evaluation kept\n", c.Index, c.Name, filepath.Join(runDir, EvalFile), filepath.Join(runDir, BestFile))
	} else if err := r.step(ctx, c, "evaluating", argv, &rec, &rec.EvalSeconds); err != nil {
		return err
	}
	rec.Host, _ = os.Hostname() // "" if the kernel will not say
	rec.CPUs = runtime.NumCPU()
	rec.Env = nil
	for _, k := range []string{"GOMAXPROCS", "GSVAE_GEMM", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS"} {
		if v, ok := os.LookupEnv(k); ok {
			if rec.Env == nil {
				rec.Env = map[string]string{}
			}
			rec.Env[k] = v
		}
	}
	rec.Finished = time.Now().UTC().Format(time.RFC3339)
	if err := publish(c, runDir, resDir, rec); err != nil {
		return fmt.Errorf("cell %d %s: %w", c.Index, c.Name, err)
	}
	fmt.Fprintf(r.Stdout, "sweep: cell %d %s: done: %s (train %.0f s, eval %.0f s, k = %d)\n", c.Index, c.Name, resDir, rec.TrainSeconds, rec.EvalSeconds, k)
	return nil
}

// step runs one child, after checking ctx, and records its command line
// and its wall-clock seconds.
func (r Runner) step(ctx context.Context, c Cell, what string, argv []string, rec *Record, seconds *float64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cell %d %s: interrupted before %s: %w", c.Index, c.Name, what, err)
	}
	fmt.Fprintf(r.Stdout, "sweep: cell %d %s: %s: %s\n", c.Index, c.Name, what, ShellJoin(argv))
	start := time.Now()
	err := r.child(ctx, c, argv)
	*seconds = time.Since(start).Seconds()
	rec.Ran = append(rec.Ran, argv)
	return err
}

// evaluation returns the command line of the trained cell's evaluation and
// its number of samples: full, the cell's (k = IWK), or with one sample
// when a finished cell beats it on validation and EvalAll is not set.
func (r Runner) evaluation(g Grid, c Cell, runDir string, full []string) ([]string, int, error) {
	if r.EvalAll {
		return full, c.IWK(), nil
	}
	cv, err := readCurve(filepath.Join(runDir, MetricsFile))
	if err != nil {
		return nil, 0, fmt.Errorf("cell %d %s: %w", c.Index, c.Name, err)
	}
	rival := beaten(r.Results, g, c, cv.best)
	if rival == nil {
		return full, c.IWK(), nil
	}
	fmt.Fprintf(r.Stdout, "sweep: cell %d %s: best validation -ELBO %.2f; finished cell %d %s has %.2f: its bound would not be reported, so the -ELBO alone (k = 1; sweep run -eval-all evaluates every cell)\n",
		c.Index, c.Name, cv.best, rival.Cell.Index, rival.Cell.Name, rival.BestValid)
	return append([]string{full[0]}, c.ELBOArgs(runDir)...), 1, nil
}

// beaten returns, among the finished cells of c's row and estimator in
// results that Collect would choose over c if c's lowest validation -ELBO
// were best (Result.beats), the one it would choose; nil if there is
// none. Unreadable cells do not count.
func beaten(results string, g Grid, c Cell, best float64) *Result {
	var win *Result
	for _, o := range g.Cells {
		if o.Index == c.Index || o.Row != c.Row || o.Estimator != c.Estimator {
			continue
		}
		res := readCell(o.ResultDir(results), o)
		if !res.Finished || res.Err != nil {
			continue
		}
		if res.beats(best, c.Index) && (win == nil || res.beats(win.BestValid, win.Cell.Index)) {
			win = &res
		}
	}
	return win
}

// evaluated reports whether the run folder holds an evaluation with at
// least k samples written after its best checkpoint: an earlier run of
// the cell finished evaluating and was stopped before it published.
func evaluated(runDir string, k int) bool {
	e, err1 := os.Stat(filepath.Join(runDir, EvalFile))
	b, err2 := os.Stat(filepath.Join(runDir, BestFile))
	if err1 != nil || err2 != nil || !e.ModTime().After(b.ModTime()) {
		return false
	}
	var rep EvalReport
	return readJSON(filepath.Join(runDir, EvalFile), &rep) == nil && rep.IWK >= k
}

// child runs argv with its output passed through line by line. When ctx
// is cancelled it sends the child SIGTERM (train saves its position and
// exits) and waits for it to exit.
func (r Runner) child(ctx context.Context, c Cell, argv []string) error {
	prefix := fmt.Sprintf("[%d] ", c.Index)
	stdout, stderr := newLineWriter(r.Stdout, prefix), newLineWriter(r.Stderr, prefix)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The child gets the signal from us only: in its own process group, a
	// terminal's Ctrl-C (sent to the whole foreground group) does not
	// reach it as well, which train would take as a second Ctrl-C and exit
	// without saving.
	ownProcessGroup(cmd)
	cmd.Cancel = func() error { return terminate(cmd.Process) }
	err := cmd.Run()
	stdout.Flush()
	stderr.Flush()
	var exit *exec.ExitError
	// A child stopped by a signal of its own (Slurm signals every process
	// of a job) has saved its position too: the cell is interrupted, not
	// failed, so that the engine's retry resumes it.
	interrupted := errors.As(err, &exit) && exit.ExitCode() == cli.ExitInterrupted
	switch {
	case ctx.Err() != nil || interrupted:
		again := "run the same command again to evaluate"
		if filepath.Base(argv[0]) == "train" {
			again = "train saved its position: run the same command again to resume"
		}
		return fmt.Errorf("cell %d %s: interrupted (%s: %v); %s: %w",
			c.Index, c.Name, filepath.Base(argv[0]), err, again, context.Canceled)
	case err != nil:
		return fmt.Errorf("cell %d %s: %s: %w", c.Index, c.Name, ShellJoin(argv), err)
	}
	return nil
}

// ShellJoin returns argv as one line that a POSIX shell reads back as
// argv: arguments of safe characters as they are, others in single quotes.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,=:+@%") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// revision returns the version control revision the Go executable at path
// was built from, as in Record.Revisions.
func revision(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return vcsRevision(info)
}

// ownRevision returns the revision of the running executable.
func ownRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return vcsRevision(info)
}

func vcsRevision(info *debug.BuildInfo) string {
	rev, modified := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && rev != "unknown" {
		rev += "+modified"
	}
	return rev
}

// lineWriter passes what a child writes to w one complete line at a time,
// each with a prefix, so that the log of parallel cells stays line-based.
// Progress bars are dropped: text before a carriage return, and text after
// one that the same write does not end with a newline (a frame of the bar,
// which the next write redraws or clears).
type lineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
	frame  bool // buf holds a progress bar's frame
}

func newLineWriter(w io.Writer, prefix string) *lineWriter {
	return &lineWriter{w: w, prefix: prefix}
}

// Write writes every complete line of p; it never fails, so that a child
// is never stopped by its log.
func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.frame {
		l.buf, l.frame = l.buf[:0], false
	}
	for _, b := range p {
		switch b {
		case '\r':
			l.buf, l.frame = l.buf[:0], true
		case '\n':
			l.emit()
		default:
			l.buf = append(l.buf, b)
		}
	}
	return len(p), nil
}

// Flush writes what is left of an unterminated last line.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.frame && len(bytes.TrimSpace(l.buf)) > 0 {
		l.emit()
	}
	l.buf, l.frame = l.buf[:0], false
}

func (l *lineWriter) emit() {
	line := make([]byte, 0, len(l.prefix)+len(l.buf)+1)
	line = append(append(append(line, l.prefix...), l.buf...), '\n')
	_, _ = l.w.Write(line) // a log that cannot be written is not the run's failure
	l.buf, l.frame = l.buf[:0], false
}
