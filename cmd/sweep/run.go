package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gsvae/internal/cli"
	"gsvae/sweep"
)

const usage = `sweep: run the grids that reproduce Table 1 of Jang, Gu & Poole (2017).

Usage:
  sweep list -grid G [-json | -indices | -count] [-largest-lr-first] [-runs DIR]
  sweep run -grid G [-index I] [-runs DIR] [-results DIR] [-bin DIR] [-eval-all]
  sweep collect -grid G [-results DIR] [-out DIR]

Grids: notebook (the authors' notebook protocol, 48 cells) and paper (the
paper's SGD-momentum protocol with its learning rates and temperature
schedules swept, 336 cells); every cell trains 100 epochs of batch 100.
A cell is one command line of train followed by one of eval bound; its
index is fixed forever (see the documentation of package sweep).

list: every cell of the grid: its index, its name, and its train and eval
command lines (with -runs, the run folders they use); -indices prints only
the indices, one a line (for xargs), -count only their number N (a Slurm
array is --array=0-(N-1)), -json everything as JSON; -largest-lr-first
lists them largest learning rate first (the order make reproduce runs
them in: see run).

run: trains and evaluates one cell, running train and eval (found in -bin)
as child processes whose output it passes through, each line prefixed with
the cell's index. The index is -index, else $SLURM_ARRAY_TASK_ID (Slurm
job array), else $JOB_COMPLETION_INDEX (Kubernetes Indexed Job). The run
folder is RUNS/GRID/NAME: a fresh train, or train -resume when it holds a
checkpoint. Then eval bound evaluates its best-validation checkpoint on the
test set: the importance-weighted bound with k samples (-iw of the cell's
eval line), or, when a finished cell of the same row and estimator has a
lower validation -ELBO (collect will not choose this one), the -ELBO alone
(-iw 1), unless -eval-all. The small files (config.json, metrics.jsonl,
eval.json, cell.json) go to RESULTS/GRID/NAME, written into a temporary
folder with a done marker last and renamed. A cell whose done marker exists
is skipped, unless it has the -ELBO alone and no finished cell beats it
any more: then its bound is evaluated and the folder written again.
SIGTERM or SIGINT is passed on to the running child (train saves its
position) and run exits with status 130; running it again resumes.

collect: reads the finished cells of the grid and, per row (task, arch,
latent) and estimator, picks the cell with the lowest validation -ELBO
(the best epoch's, whose checkpoint eval evaluated). Writes table.md
(Table 1: ours ± s.e. beside the paper's number, the setting chosen, and
the missing cells with the commands that fill them), table.csv (one line
per chosen cell), table.png (ours against the paper's) and cells.md
(every finished cell: its numbers, times and binaries; the time per cell
of each row, and what the missing cells would take) into -out.

Exit status: 0 success, 1 failure (a child failed), 2 bad command line,
130 interrupted.`

// Defaults of the folders.
const (
	defaultRuns    = "checkpoints/sweep" // checkpoints: large, not committed
	defaultResults = "results/table1"    // the small files of finished cells
)

// env is what the command takes from its surroundings, replaced by the
// tests.
type env struct {
	lookup     func(string) (sweep.Grid, error) // the grids
	getenv     func(string) string
	executable func() (string, error) // path of the running program, for -bin
	self       string                 // how the user runs sweep, in the commands collect suggests
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return env{lookup: sweep.Lookup, getenv: os.Getenv, executable: os.Executable, self: os.Args[0]}.run(ctx, args, stdout, stderr)
}

func (e env) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintln(stdout, usage)
		if len(args) == 0 {
			return cli.Usagef("missing subcommand: want list, run or collect")
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "list":
		return e.list(args[1:], stdout)
	case "run":
		return e.runCell(ctx, args[1:], stdout, stderr)
	case "collect":
		return e.collect(args[1:], stdout)
	}
	return cli.Usagef("unknown subcommand %q: want list, run or collect", args[0])
}

// gridFlag defines -grid on fs.
func gridFlag(fs *flag.FlagSet) *string {
	return fs.String("grid", "", "`name` of the grid: "+strings.Join(sweep.Names, " or ")+" (required)")
}

// grid resolves -grid.
func (e env) grid(name string) (sweep.Grid, error) {
	if name == "" {
		return sweep.Grid{}, cli.Usagef("-grid is required: %s", strings.Join(sweep.Names, " or "))
	}
	g, err := e.lookup(name)
	if err != nil {
		return sweep.Grid{}, cli.UsageError{Err: fmt.Errorf("-grid %s: %w", name, err)}
	}
	return g, nil
}

// listed is one cell as list -json prints it.
type listed struct {
	Index     int      `json:"index"`
	Name      string   `json:"name"`
	Task      string   `json:"task"`
	Arch      string   `json:"arch"`
	Latent    string   `json:"latent"`
	Estimator string   `json:"estimator"`
	Setting   string   `json:"setting"`
	RunDir    string   `json:"run_dir"`
	Train     []string `json:"train"`
	Eval      []string `json:"eval"`
}

func (e env) list(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sweep list", flag.ContinueOnError)
	gridName := gridFlag(fs)
	asJSON := fs.Bool("json", false, "print the cells as a JSON array")
	indices := fs.Bool("indices", false, "print only the indices, one a line")
	count := fs.Bool("count", false, "print only the number of cells")
	lrFirst := fs.Bool("largest-lr-first", false, "list the cells largest learning rate first, by index among equals: the order make reproduce runs them in, so that most finish after a better cell of their row and estimator and skip their bound")
	runs := fs.String("runs", defaultRuns, "root `folder` of the run folders the command lines use (RUNS/GRID/NAME)")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	if n := btoi(*asJSON) + btoi(*indices) + btoi(*count); n > 1 {
		return cli.Usagef("-json, -indices and -count exclude each other")
	}
	g, err := e.grid(*gridName)
	if err != nil {
		return err
	}
	cells := g.Cells
	if *lrFirst {
		cells = g.LargestLRFirst()
	}
	var b strings.Builder
	switch {
	case *count:
		fmt.Fprintln(&b, len(g.Cells))
	case *indices:
		for _, c := range cells {
			fmt.Fprintln(&b, c.Index)
		}
	case *asJSON:
		out := make([]listed, len(cells))
		for i, c := range cells {
			dir := c.RunDir(*runs)
			out[i] = listed{
				Index: c.Index, Name: c.Name, Task: c.Row.Task, Arch: c.Row.Arch, Latent: c.Row.Latent,
				Estimator: c.Estimator, Setting: c.Setting, RunDir: dir,
				Train: append([]string{"train"}, c.TrainArgs(dir)...),
				Eval:  append([]string{"eval"}, c.EvalArgs(dir)...),
			}
		}
		j, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		b.Write(append(j, '\n'))
	default:
		for _, c := range cells {
			dir := c.RunDir(*runs)
			fmt.Fprintf(&b, "%d\t%s\n\ttrain %s\n\teval %s\n", c.Index, c.Name,
				sweep.ShellJoin(c.TrainArgs(dir)), sweep.ShellJoin(c.EvalArgs(dir)))
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Environment variables that carry the cell index.
const (
	slurmIndex = "SLURM_ARRAY_TASK_ID"  // Slurm job arrays
	k8sIndex   = "JOB_COMPLETION_INDEX" // Kubernetes Indexed Jobs
)

// digits is what an index may look like: a decimal number, nothing else.
var digits = regexp.MustCompile(`^[0-9]+$`)

// cellIndex resolves the index of the cell to run: -index if given
// (index >= 0, as flagSet says), else $SLURM_ARRAY_TASK_ID, else
// $JOB_COMPLETION_INDEX. It says where the index came from. An index that
// is not a decimal number below n is refused, whatever its source.
func cellIndex(flagSet bool, index int, getenv func(string) string, n int) (int, string, error) {
	src, val := "-index", strconv.Itoa(index)
	switch {
	case flagSet:
	case getenv(slurmIndex) != "":
		src, val = "$"+slurmIndex, getenv(slurmIndex)
	case getenv(k8sIndex) != "":
		src, val = "$"+k8sIndex, getenv(k8sIndex)
	default:
		return 0, "", cli.Usagef("no cell index: pass -index I, or set %s (Slurm job array) or %s (Kubernetes Indexed Job)", slurmIndex, k8sIndex)
	}
	i, err := strconv.Atoi(val)
	if !digits.MatchString(val) || err != nil {
		return 0, "", cli.Usagef("%s %q: want a cell index, 0 to %d", src, val, n-1)
	}
	if i >= n {
		return 0, "", cli.Usagef("%s %d: the grid has %d cells, 0 to %d", src, i, n, n-1)
	}
	return i, src, nil
}

func (e env) runCell(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep run", flag.ContinueOnError)
	gridName := gridFlag(fs)
	index := fs.Int("index", 0, "`index` of the cell to run (default: $SLURM_ARRAY_TASK_ID, else $JOB_COMPLETION_INDEX)")
	runs := fs.String("runs", defaultRuns, "root `folder` of the run folders RUNS/GRID/NAME (checkpoints; resumed from)")
	results := fs.String("results", defaultResults, "root `folder` of the result folders RESULTS/GRID/NAME (small files, done marker)")
	bin := fs.String("bin", "", "`folder` holding the train and eval executables (default: the folder of this sweep executable)")
	evalAll := fs.Bool("eval-all", false, "evaluate every cell with its k importance samples, also those that a finished cell of their row and estimator beats on validation (default: the -ELBO alone for those)")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	g, err := e.grid(*gridName)
	if err != nil {
		return err
	}
	i, src, err := cellIndex(isSet(fs, "index"), *index, e.getenv, len(g.Cells))
	if err != nil {
		return err
	}
	if *bin == "" {
		exe, err := e.executable()
		if err == nil {
			exe, err = filepath.EvalSymlinks(exe)
		}
		if err != nil {
			return fmt.Errorf("find the folder of train and eval (pass -bin DIR): %w", err)
		}
		*bin = filepath.Dir(exe)
	}
	c := g.Cells[i]
	fmt.Fprintf(stdout, "sweep: grid %s, cell %d of %d (index from %s): %s\n", g.Name, c.Index, len(g.Cells), src, c.Name)
	r := sweep.Runner{Bin: *bin, Runs: *runs, Results: *results, EvalAll: *evalAll, Stdout: stdout, Stderr: stderr}
	return r.Run(ctx, g, i)
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func (e env) collect(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sweep collect", flag.ContinueOnError)
	gridName := gridFlag(fs)
	results := fs.String("results", defaultResults, "root `folder` of the result folders RESULTS/GRID/NAME")
	out := fs.String("out", "", "`folder` for table.md, table.csv, table.png and cells.md (default: RESULTS/GRID)")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	g, err := e.grid(*gridName)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*results, g.Name)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	rep := sweep.Collect(*results, g)
	fill := []string{e.self, "run", "-grid", g.Name}
	if *results != defaultResults {
		fill = append(fill, "-results", *results)
	}
	var md, csv, cells strings.Builder
	if err := rep.Markdown(&md, fill); err != nil {
		return err
	}
	if err := rep.CSV(&csv); err != nil {
		return err
	}
	if err := rep.Cells(&cells); err != nil {
		return err
	}
	mdPath, csvPath, pngPath := filepath.Join(*out, "table.md"), filepath.Join(*out, "table.csv"), filepath.Join(*out, "table.png")
	cellsPath := filepath.Join(*out, "cells.md")
	for path, text := range map[string]string{mdPath: md.String(), csvPath: csv.String(), cellsPath: cells.String()} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return fmt.Errorf("collect: %w", err)
		}
	}
	if err := rep.Figure(pngPath); err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	fmt.Fprint(stdout, md.String())
	fmt.Fprintf(stdout, "\nsweep: grid %s: %d of %d cells finished; wrote %s, %s, %s and %s\n",
		g.Name, len(rep.Results)-len(rep.Missing), len(rep.Results), mdPath, csvPath, pngPath, cellsPath)
	return nil
}
