package sweep

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestGridCounts checks the number of cells of each grid, worked out by
// hand from the enumeration in the package documentation.
func TestGridCounts(t *testing.T) {
	// notebook: vae (2 archs) and sbn (1), 2 latents, 8 estimators.
	// paper, per latent: vae linear 5 untempered x 6 lr + 3 tempered x 6 lr
	// x 2 N x 2 r = 102; sbn 5 x 6 + annealed-st 6 x 4 + gs, st-gs 2 x 6 = 66.
	for name, want := range map[string]int{"notebook": 3 * 2 * 8, "paper": 2*102 + 2*66} {
		g, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Cells) != want {
			t.Errorf("grid %s: %d cells, want %d", name, len(g.Cells), want)
		}
		names := map[string]bool{}
		for i, c := range g.Cells {
			if c.Index != i || c.Grid != name {
				t.Errorf("grid %s: cell %d has index %d, grid %q", name, i, c.Index, c.Grid)
			}
			if names[c.Name] || !regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`).MatchString(c.Name) {
				t.Errorf("grid %s: cell %d: name %q repeated or not filesystem-safe", name, i, c.Name)
			}
			names[c.Name] = true
		}
		if first, last := g.Cells[0].Name, g.Cells[len(g.Cells)-1].Name; name == "notebook" &&
			(first != "vae-bernoulli-h512-256-sf" || last != "sbn-categorical-nvil") ||
			name == "paper" && (first != "vae-bernoulli-linear-sf-lr3e-5" || last != "sbn-categorical-nvil-lr1e-3") {
			t.Errorf("grid %s: first and last cells %s, %s", name, first, last)
		}
	}
	if _, err := Lookup("tiny"); err == nil || !strings.Contains(err.Error(), "notebook or paper") {
		t.Errorf("Lookup(tiny): %v, want an error naming the grids", err)
	}
}

// TestGridIndicesStable pins the cells at chosen indices (the first and
// last of each grid and the first of each row) and a digest of every
// cell's index, name and command lines. An index must name the same run
// forever: if this test fails, the enumeration changed, which breaks every
// array job and result folder made before. Add a new grid instead.
func TestGridIndicesStable(t *testing.T) {
	tests := []struct {
		grid   string
		pins   map[int]string
		digest string // the first 16 hex digits of the SHA-256
	}{
		{"notebook", map[int]string{
			0:  "vae-bernoulli-h512-256-sf",
			7:  "vae-bernoulli-h512-256-nvil",
			8:  "vae-categorical-h512-256-sf",
			13: "vae-categorical-h512-256-gs",
			16: "vae-bernoulli-linear-sf",
			24: "vae-categorical-linear-sf",
			32: "sbn-bernoulli-sf",
			40: "sbn-categorical-sf",
			47: "sbn-categorical-nvil",
		}, "07b1afe8f40e0ef8"},
		{"paper", map[int]string{
			0:   "vae-bernoulli-linear-sf-lr3e-5",
			1:   "vae-bernoulli-linear-sf-lr1e-5",
			24:  "vae-bernoulli-linear-annealed-st-lr3e-5-n500-r1e-5",
			25:  "vae-bernoulli-linear-annealed-st-lr3e-5-n500-r1e-4",
			26:  "vae-bernoulli-linear-annealed-st-lr3e-5-n1000-r1e-5",
			28:  "vae-bernoulli-linear-annealed-st-lr1e-5-n500-r1e-5",
			102: "vae-categorical-linear-sf-lr3e-5",
			158: "vae-categorical-linear-gs-lr3e-4-n500-r1e-5",
			204: "sbn-bernoulli-sf-lr3e-5",
			252: "sbn-bernoulli-gs-lr3e-5",
			270: "sbn-categorical-sf-lr3e-5",
			335: "sbn-categorical-nvil-lr1e-3",
		}, "88b3fbd16a7e2254"},
	}
	for _, tt := range tests {
		g, err := Lookup(tt.grid)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range tt.pins {
			if got := g.Cells[i].Name; got != want {
				t.Errorf("grid %s: cell %d is %s, want %s", tt.grid, i, got, want)
			}
		}
		h := sha256.New()
		for _, c := range g.Cells {
			fmt.Fprintf(h, "%d %s %q %q\n", c.Index, c.Name, c.TrainArgs("R"), c.EvalArgs("R"))
		}
		if got := fmt.Sprintf("%x", h.Sum(nil))[:16]; got != tt.digest {
			t.Errorf("grid %s: digest of the enumeration %s, want %s: the cells changed", tt.grid, got, tt.digest)
		}
	}
}

// TestGridFlags checks the flags of every cell against the protocol of its
// grid: the optimiser, the swept settings, the fixed temperature of sbn
// gs and st-gs, the architecture flags, and the evaluation flags.
func TestGridFlags(t *testing.T) {
	for _, name := range Names {
		g, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range g.Cells {
			f := func(flag string) string { return flagValue(c.Train, flag) }
			want := map[string]string{
				"latent": c.Row.Latent, "estimator": c.Estimator,
				"tau0": "1", "tau-min": "0.5", "epochs": "100", "batch": "100", "seed": "1",
			}
			if name == "notebook" {
				want["optimizer"], want["lr"], want["anneal-every"] = "adam", "0.001", "1000"
			} else {
				want["optimizer"] = "momentum"
				if !slices.Contains(learningRates, f("lr")) {
					t.Errorf("%s: -lr %s not in the paper's set", c.Name, f("lr"))
				}
			}
			switch {
			case c.Row.Task == "sbn" && (c.Estimator == "gs" || c.Estimator == "st-gs"):
				want["anneal-rate"] = "0"
			case name == "notebook" || !tempered(c.Estimator):
				want["anneal-rate"], want["anneal-every"] = "3e-05", "1000"
			}
			switch c.Row.Arch {
			case "h512-256":
				want["hidden"] = "512,256"
			case "linear":
				want["hidden"] = "none"
			case "sbn":
				want["task"] = "sbn"
			default:
				t.Errorf("%s: unknown arch %q", c.Name, c.Row.Arch)
			}
			for flag, v := range want {
				if f(flag) != v {
					t.Errorf("%s: -%s %q, want %q (flags %q)", c.Name, flag, f(flag), v, c.Train)
				}
			}
			if c.Row.Task == "vae" && f("task") != "" || c.Row.Task == "sbn" && f("hidden") != "" {
				t.Errorf("%s: flags %q mix the tasks", c.Name, c.Train)
			}
			if got, want := strings.Join(c.EvalArgs("R"), " "), "bound -ckpt R/best.ckpt -split test -iw 1000 -seed 1 -out R/eval.json"; got != want {
				t.Errorf("%s: eval %s, want %s", c.Name, got, want)
			}
			if got, want := strings.Join(c.ELBOArgs("R"), " "), "bound -ckpt R/best.ckpt -split test -iw 1 -seed 1 -out R/eval.json"; got != want {
				t.Errorf("%s: -ELBO only: eval %s, want %s", c.Name, got, want)
			}
		}
	}
}

// TestGridSettings checks that within each row and estimator of the paper
// grid the cells differ exactly by the settings swept: 6 learning rates,
// times 4 schedules for the tempered estimators that anneal.
func TestGridSettings(t *testing.T) {
	g, err := Lookup("paper")
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]Cell{}
	for _, c := range g.Cells {
		k := c.Row.String() + " " + c.Estimator
		groups[k] = append(groups[k], c)
	}
	if len(groups) != 4*8 {
		t.Errorf("%d (row, estimator) groups, want 32", len(groups))
	}
	for k, cells := range groups {
		e, task := cells[0].Estimator, cells[0].Row.Task
		want := 6
		if tempered(e) && !fixedTau(task, e) {
			want = 24
		}
		if len(cells) != want {
			t.Errorf("%s: %d cells, want %d", k, len(cells), want)
		}
		settings := map[string]bool{}
		for _, c := range cells {
			s := flagValue(c.Train, "lr") + " " + flagValue(c.Train, "anneal-every") + " " + flagValue(c.Train, "anneal-rate")
			if settings[s] || settings[c.Setting] {
				t.Errorf("%s: setting %q repeated", k, s)
			}
			settings[s], settings[c.Setting] = true, true
		}
	}
}

// TestNewGridRefuses checks NewGrid's refusals: duplicate and unsafe
// names, a missing -epochs, and flags the sweep sets itself.
func TestNewGridRefuses(t *testing.T) {
	ok := Cell{Name: "a", Row: Row{"vae", "tiny", "categorical"}, Estimator: "gs", Train: []string{"-epochs", "1"}, Eval: []string{"-iw", "2"}}
	with := func(f func(*Cell)) Cell { c := ok; f(&c); return c }
	for _, tt := range []struct {
		name  string
		cells []Cell
		want  string
	}{
		{"duplicate", []Cell{ok, ok}, `"a" is also cell 0's`},
		{"slash", []Cell{with(func(c *Cell) { c.Name = "a/b" })}, "lower-case"},
		{"upper", []Cell{with(func(c *Cell) { c.Name = "A" })}, "lower-case"},
		{"dot first", []Cell{with(func(c *Cell) { c.Name = ".a" })}, "lower-case"},
		{"no epochs", []Cell{with(func(c *Cell) { c.Train = nil })}, "-epochs"},
		{"out", []Cell{with(func(c *Cell) { c.Train = []string{"-epochs", "1", "-out", "x"} })}, "must not set -out"},
		{"ckpt", []Cell{with(func(c *Cell) { c.Eval = []string{"-iw", "2", "-ckpt", "x"} })}, "must not set -ckpt"},
		{"no iw", []Cell{with(func(c *Cell) { c.Eval = []string{"-split", "test"} })}, "-iw"},
		{"iw 0", []Cell{with(func(c *Cell) { c.Eval = []string{"-iw", "0"} })}, "-iw"},
		{"no row", []Cell{with(func(c *Cell) { c.Row = Row{} })}, "incomplete"},
	} {
		if _, err := NewGrid("t", "", tt.cells); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	if g, err := NewGrid("t", "", []Cell{ok, with(func(c *Cell) { c.Name = "b" })}); err != nil || g.Cells[1].Index != 1 {
		t.Errorf("valid grid: %v", err)
	}
	// One importance sample is the least a cell may ask for (the -ELBO).
	if _, err := NewGrid("t", "", []Cell{with(func(c *Cell) { c.Eval = []string{"-iw", "1"} })}); err != nil {
		t.Errorf("-iw 1: %v", err)
	}
}

// TestFlagValue checks the lookup of a flag's value in a command line,
// including a flag with no value after it.
func TestFlagValue(t *testing.T) {
	args := []string{"-lr", "3e-3", "-epochs", "100", "-hard"}
	for name, want := range map[string]string{"lr": "3e-3", "epochs": "100", "hard": "", "batch": "", "3e-3": ""} {
		if got := flagValue(args, name); got != want {
			t.Errorf("flagValue(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestPaper checks a few numbers of Table 1 as printed in the paper, and
// that every grid row and estimator but nvil has one.
func TestPaper(t *testing.T) {
	for _, tt := range []struct {
		task, latent, est string
		want              float64
	}{
		{"sbn", "bernoulli", "sf", 72.0}, {"sbn", "categorical", "gs", 59.0},
		{"vae", "bernoulli", "st", 116.0}, {"vae", "categorical", "darn", 128.8},
	} {
		if got, ok := Paper(tt.task, tt.latent, tt.est); !ok || got != tt.want {
			t.Errorf("Paper(%s, %s, %s) = %v, %v; want %v", tt.task, tt.latent, tt.est, got, ok, tt.want)
		}
	}
	for _, task := range tasks {
		for _, l := range Latents {
			for _, e := range Estimators {
				if _, ok := Paper(task, l, e); ok == (e == "nvil") {
					t.Errorf("Paper(%s, %s, %s): has a number: %v", task, l, e, ok)
				}
			}
		}
	}
}
