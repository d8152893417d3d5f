package sweep

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Row is a row of Table 1: a task, an architecture and a latent kind.
type Row struct {
	Task   string `json:"task"`   // "vae" or "sbn"
	Arch   string `json:"arch"`   // "h512-256", "linear" or "sbn"
	Latent string `json:"latent"` // "bernoulli" or "categorical"
}

// String returns the row as task/arch/latent.
func (r Row) String() string { return r.Task + "/" + r.Arch + "/" + r.Latent }

// Cell is one training run of a grid, followed by one evaluation of its
// best checkpoint.
type Cell struct {
	Grid      string // the grid's name
	Index     int    // position in the grid's enumeration
	Name      string // unique in the grid, filesystem-safe: the name of its folders
	Row       Row
	Estimator string
	Setting   string   // what varies within (row, estimator), e.g. "lr 3e-4, N 500, r 1e-5"; "" if nothing does
	Train     []string // flags of train, without -out
	Eval      []string // flags of eval bound, without -ckpt and -out
}

// Files of a run folder that the sweep uses.
const (
	ModelFile   = "model.ckpt"    // train's latest state, from which -resume continues
	BestFile    = "best.ckpt"     // train's state with the lowest validation -ELBO
	ConfigFile  = "config.json"   // train's settings
	MetricsFile = "metrics.jsonl" // train's metrics, one JSON object per epoch
	EvalFile    = "eval.json"     // eval bound's report
	CellFile    = "cell.json"     // the sweep's record of the cell
	DoneFile    = "done"          // written last into a finished cell's result folder
)

// RunDir returns the run folder of c under the root runs: runs/GRID/NAME.
func (c Cell) RunDir(runs string) string { return filepath.Join(runs, c.Grid, c.Name) }

// ResultDir returns the result folder of c under the root results:
// results/GRID/NAME.
func (c Cell) ResultDir(results string) string { return filepath.Join(results, c.Grid, c.Name) }

// TrainArgs returns the arguments of train for a fresh run into runDir.
func (c Cell) TrainArgs(runDir string) []string {
	return append(slices.Clone(c.Train), "-out", runDir)
}

// ResumeArgs returns the arguments of train that continue the run in
// runDir to the cell's number of epochs.
func (c Cell) ResumeArgs(runDir string) []string {
	return []string{"-resume", "-out", runDir, "-epochs", strconv.Itoa(c.Epochs())}
}

// EvalArgs returns the arguments of eval that evaluate the best checkpoint
// of the run in runDir into runDir/eval.json: the cell's evaluation.
func (c Cell) EvalArgs(runDir string) []string { return c.evalArgs(runDir, c.IWK()) }

// ELBOArgs returns EvalArgs with one importance sample instead of IWK: the
// test -ELBO (and -L_1, the same bound) alone, in about a thousandth of
// the time, for a cell whose bound is not needed (see Runner.EvalAll).
func (c Cell) ELBOArgs(runDir string) []string { return c.evalArgs(runDir, 1) }

func (c Cell) evalArgs(runDir string, k int) []string {
	args := []string{"bound", "-ckpt", filepath.Join(runDir, BestFile)}
	for i := 0; i < len(c.Eval); i++ {
		args = append(args, c.Eval[i])
		if c.Eval[i] == "-iw" && i+1 < len(c.Eval) {
			args = append(args, strconv.Itoa(k))
			i++
		}
	}
	return append(args, "-out", filepath.Join(runDir, EvalFile))
}

// IWK returns the value of the cell's -iw flag: the importance samples
// per test image of its bound.
func (c Cell) IWK() int {
	k, _ := strconv.Atoi(flagValue(c.Eval, "iw"))
	return k
}

// Epochs returns the value of the cell's -epochs flag.
func (c Cell) Epochs() int {
	n, _ := strconv.Atoi(flagValue(c.Train, "epochs"))
	return n
}

// flagValue returns the value following -name in args, or "".
func flagValue(args []string, name string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-"+name {
			return args[i+1]
		}
	}
	return ""
}

// Grid is an ordered list of cells.
type Grid struct {
	Name  string
	Doc   string // one line: what the grid is
	Cells []Cell
}

// safeName is what a cell's name, used as a folder name, may look like.
var safeName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// NewGrid returns the grid of the given cells, numbered in order. It
// checks that the names are filesystem-safe and unique, that every cell
// sets a positive -epochs and -iw and none sets -out, -resume or -ckpt
// itself (the sweep chooses the folders), and that every row and
// estimator is named.
func NewGrid(name, doc string, cells []Cell) (Grid, error) {
	if !safeName.MatchString(name) {
		return Grid{}, fmt.Errorf("sweep: grid name %q: want lower-case letters, digits, dots and hyphens", name)
	}
	g := Grid{Name: name, Doc: doc, Cells: make([]Cell, len(cells))}
	seen := make(map[string]int, len(cells))
	var errs []error
	for i, c := range cells {
		c.Grid, c.Index = name, i
		c.Train, c.Eval = slices.Clone(c.Train), slices.Clone(c.Eval)
		g.Cells[i] = c
		if !safeName.MatchString(c.Name) {
			errs = append(errs, fmt.Errorf("cell %d: name %q: want lower-case letters, digits, dots and hyphens", i, c.Name))
		}
		if j, dup := seen[c.Name]; dup {
			errs = append(errs, fmt.Errorf("cell %d: name %q is also cell %d's", i, c.Name, j))
		}
		seen[c.Name] = i
		if c.Row.Task == "" || c.Row.Arch == "" || c.Row.Latent == "" || c.Estimator == "" {
			errs = append(errs, fmt.Errorf("cell %d %s: row %v or estimator %q incomplete", i, c.Name, c.Row, c.Estimator))
		}
		if c.Epochs() < 1 {
			errs = append(errs, fmt.Errorf("cell %d %s: train flags need -epochs with a positive value", i, c.Name))
		}
		for _, f := range []string{"-out", "-resume"} {
			if slices.Contains(c.Train, f) {
				errs = append(errs, fmt.Errorf("cell %d %s: train flags must not set %s", i, c.Name, f))
			}
		}
		if c.IWK() < 1 {
			errs = append(errs, fmt.Errorf("cell %d %s: eval flags need -iw with a positive value", i, c.Name))
		}
		for _, f := range []string{"-ckpt", "-out"} {
			if slices.Contains(c.Eval, f) {
				errs = append(errs, fmt.Errorf("cell %d %s: eval flags must not set %s", i, c.Name, f))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Grid{}, fmt.Errorf("sweep: grid %s: %w", name, err)
	}
	return g, nil
}

// LargestLRFirst returns the cells of g ordered by learning rate, largest
// first, and by index among equal rates: an order to run a grid in on one
// machine. With SGD and 50,000 updates the larger rates of the paper grid
// train furthest (in the ledger every row and estimator is led by 3e-3,
// then 1e-3, with 3e-5 and 1e-5 tens of nats behind), so most cells then
// finish after a better cell of their row and estimator and are evaluated
// with the -ELBO alone (see Runner.EvalAll); in index order, where the
// rates come smallest first, most cells would beat the ones before them
// and get their bound.
func (g Grid) LargestLRFirst() []Cell {
	cells := slices.Clone(g.Cells)
	lr := func(c Cell) float64 {
		v, err := strconv.ParseFloat(flagValue(c.Train, "lr"), 64)
		if err != nil {
			return 0 // no rate: last
		}
		return v
	}
	slices.SortStableFunc(cells, func(a, b Cell) int { return cmp.Compare(lr(b), lr(a)) })
	return cells
}

// Names lists the grids Lookup knows, in the order of the documentation.
var Names = []string{"notebook", "paper"}

// Lookup returns the grid of the given name.
func Lookup(name string) (Grid, error) {
	switch name {
	case "notebook":
		return mustGrid(name, "the authors' notebook protocol (Adam 1e-3, default schedule) on every row and estimator", notebookCells())
	case "paper":
		return mustGrid(name, "the paper's protocol (SGD momentum 0.9; lr and schedule swept) on its linear networks", paperCells())
	}
	return Grid{}, fmt.Errorf("sweep: unknown grid %q: want %s", name, strings.Join(Names, " or "))
}

// mustGrid returns NewGrid's grid; the built-in grids are checked by the
// tests, so an error is a programming error.
func mustGrid(name, doc string, cells []Cell) (Grid, error) {
	g, err := NewGrid(name, doc, cells)
	if err != nil {
		panic(err)
	}
	return g, nil
}

// Estimators lists the estimators of a grid in the paper's column order of
// Table 1, with nvil, which the paper does not have, last.
var Estimators = []string{"sf", "darn", "muprop", "st", "annealed-st", "gs", "st-gs", "nvil"}

// Latents lists the latent kinds in the order of Table 1's rows.
var Latents = []string{"bernoulli", "categorical"}

// Settings swept by the paper grid, in enumeration order, written as they
// appear on the command line and in the cells' names.
var (
	learningRates = []string{"3e-5", "1e-5", "3e-4", "1e-4", "3e-3", "1e-3"}
	annealEvery   = []string{"500", "1000"}
	annealRates   = []string{"1e-5", "1e-4"}
)

// The temperature schedule tau = max(tauMin, tau0 exp(-r t)), recomputed
// every N steps, which every cell passes explicitly; r and N default to
// the notebook's.
const (
	tau0         = "1"
	tauMin       = "0.5"
	defaultRate  = "3e-05"
	defaultEvery = "1000"
)

// Training length and seed of every cell (see the package documentation).
const (
	epochs = "100"
	batch  = "100"
	seed   = "1"
)

// evalFlags are the evaluation flags of every cell of the built-in grids:
// the test set, the paper's k = 1000 importance samples.
var evalFlags = []string{"-split", "test", "-iw", "1000", "-seed", "1"}

// tempered reports whether an estimator reads the temperature.
func tempered(estimator string) bool {
	return estimator == "gs" || estimator == "st-gs" || estimator == "annealed-st"
}

// arch is an architecture of a row: its name and its train flags.
type arch struct {
	name  string
	flags []string
}

var (
	archH512  = arch{"h512-256", []string{"-hidden", "512,256"}}
	archLin   = arch{"linear", []string{"-hidden", "none"}}
	archSBN   = arch{"sbn", []string{"-task", "sbn"}}
	archsNote = map[string][]arch{"vae": {archH512, archLin}, "sbn": {archSBN}}
	archsPap  = map[string][]arch{"vae": {archLin}, "sbn": {archSBN}}
	tasks     = []string{"vae", "sbn"}
)

// schedule is one temperature schedule: the values of -anneal-rate and
// -anneal-every.
type schedule struct{ rate, every string }

// cellFlags returns the train flags of one cell.
func cellFlags(a arch, latent, estimator, optimizer, lr string, s schedule) []string {
	f := slices.Clone(a.flags)
	return append(f,
		"-latent", latent, "-estimator", estimator,
		"-optimizer", optimizer, "-lr", lr,
		"-tau0", tau0, "-tau-min", tauMin, "-anneal-rate", s.rate, "-anneal-every", s.every,
		"-epochs", epochs, "-batch", batch, "-seed", seed)
}

// prefix returns the start of the names of a row's cells: task-latent-arch,
// without the arch when it is the task's name (sbn).
func prefix(task, latent string, a arch) string {
	if a.name == task {
		return task + "-" + latent
	}
	return task + "-" + latent + "-" + a.name
}

// fixedTau reports whether the cells of a row and estimator keep the
// temperature at tau0 = 1: gs and st-gs on the sbn task.
func fixedTau(task, estimator string) bool {
	return task == "sbn" && (estimator == "gs" || estimator == "st-gs")
}

var defaultSchedule = schedule{defaultRate, defaultEvery}

// notebookCells enumerates the notebook grid.
func notebookCells() []Cell {
	var cells []Cell
	for _, task := range tasks {
		for _, a := range archsNote[task] {
			for _, latent := range Latents {
				for _, e := range Estimators {
					s := defaultSchedule
					setting := ""
					if fixedTau(task, e) {
						s.rate, setting = "0", "tau 1"
					}
					cells = append(cells, Cell{
						Name:      prefix(task, latent, a) + "-" + e,
						Row:       Row{task, a.name, latent},
						Estimator: e,
						Setting:   setting,
						Train:     cellFlags(a, latent, e, "adam", "0.001", s),
						Eval:      evalFlags,
					})
				}
			}
		}
	}
	return cells
}

// paperCells enumerates the paper grid.
func paperCells() []Cell {
	var cells []Cell
	for _, task := range tasks {
		for _, a := range archsPap[task] {
			for _, latent := range Latents {
				for _, e := range Estimators {
					for _, lr := range learningRates {
						base := prefix(task, latent, a) + "-" + e + "-lr" + lr
						row := Row{task, a.name, latent}
						if !tempered(e) || fixedTau(task, e) {
							s, setting := defaultSchedule, "lr "+lr
							if fixedTau(task, e) {
								s.rate, setting = "0", setting+", tau 1"
							}
							cells = append(cells, Cell{
								Name: base, Row: row, Estimator: e, Setting: setting,
								Train: cellFlags(a, latent, e, "momentum", lr, s),
								Eval:  evalFlags,
							})
							continue
						}
						for _, n := range annealEvery {
							for _, r := range annealRates {
								cells = append(cells, Cell{
									Name: base + "-n" + n + "-r" + r, Row: row, Estimator: e,
									Setting: "lr " + lr + ", N " + n + ", r " + r,
									Train:   cellFlags(a, latent, e, "momentum", lr, schedule{r, n}),
									Eval:    evalFlags,
								})
							}
						}
					}
				}
			}
		}
	}
	return cells
}
