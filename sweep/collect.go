package sweep

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Choice is the cell reported for one row and estimator: among the
// finished cells of the group, the one with the lowest validation -ELBO.
type Choice struct {
	Row       Row
	Estimator string
	Best      *Result // nil when no cell of the group has finished
	Finished  int     // finished (and readable) cells of the group
	Total     int     // cells of the group in the grid
	Paper     float64 // Table 1's number, if HasPaper
	HasPaper  bool
}

// Report is the collected state of a grid's results.
type Report struct {
	Grid    Grid
	Results []Result // one per cell, in index order
	Choices []Choice // one per row and estimator, in grid order
	Missing []Result // cells unfinished or unreadable, in index order
	// Unbounded lists the chosen cells that hold the -ELBO alone, not the
	// bound of their k samples (see Runner.Run): running them again
	// evaluates it.
	Unbounded []Result
}

// Collect reads the results of g under the root results and chooses, per
// row and estimator, the finished cell with the lowest validation -ELBO
// (the minimum over its epochs, the state best.ckpt holds).
func Collect(results string, g Grid) Report {
	rep := Report{Grid: g, Results: Read(results, g)}
	index := map[string]int{}
	for i := range rep.Results {
		r := &rep.Results[i]
		if !r.Finished || r.Err != nil {
			rep.Missing = append(rep.Missing, *r)
		}
		key := r.Cell.Row.String() + " " + r.Cell.Estimator
		k, ok := index[key]
		if !ok {
			k = len(rep.Choices)
			index[key] = k
			paper, has := Paper(r.Cell.Row.Task, r.Cell.Row.Latent, r.Cell.Estimator)
			rep.Choices = append(rep.Choices, Choice{Row: r.Cell.Row, Estimator: r.Cell.Estimator, Paper: paper, HasPaper: has})
		}
		ch := &rep.Choices[k]
		ch.Total++
		if !r.Finished || r.Err != nil {
			continue
		}
		ch.Finished++
		if ch.Best == nil || r.beats(ch.Best.BestValid, ch.Best.Cell.Index) {
			ch.Best = r
		}
	}
	for _, ch := range rep.Choices {
		if ch.Best != nil && !ch.Best.Bounded() {
			rep.Unbounded = append(rep.Unbounded, *ch.Best)
		}
	}
	return rep
}

// Bounded reports whether a finished cell's evaluation has the cell's k
// importance samples, not one alone (the -ELBO of a cell beaten on
// validation when it finished).
func (r Result) Bounded() bool { return r.Test.IWK >= r.Cell.IWK() }

// rows returns the rows of the report in grid order, and the estimators
// that occur, in the order of Estimators (others after them).
func (rep Report) rows() ([]Row, []string) {
	var rows []Row
	seenRow, seenEst := map[Row]bool{}, map[string]bool{}
	for _, ch := range rep.Choices {
		if !seenRow[ch.Row] {
			seenRow[ch.Row] = true
			rows = append(rows, ch.Row)
		}
		seenEst[ch.Estimator] = true
	}
	var ests []string
	for _, e := range Estimators {
		if seenEst[e] {
			ests = append(ests, e)
			delete(seenEst, e)
		}
	}
	for _, ch := range rep.Choices {
		if seenEst[ch.Estimator] {
			ests = append(ests, ch.Estimator)
			delete(seenEst, ch.Estimator)
		}
	}
	return rows, ests
}

func (rep Report) choice(row Row, est string) (Choice, bool) {
	for _, ch := range rep.Choices {
		if ch.Row == row && ch.Estimator == est {
			return ch, true
		}
	}
	return Choice{}, false
}

// Markdown writes the report as Table 1: one line per row, one column per
// estimator, each entry "ours (paper)" and the setting chosen, then the
// missing cells and the commands that fill them. run is the command line
// that runs one cell of the grid, without its -index.
func (rep Report) Markdown(w io.Writer, run []string) error {
	var b strings.Builder
	g := rep.Grid
	done := len(rep.Results) - len(rep.Missing)
	fmt.Fprintf(&b, "# Table 1 of Jang, Gu & Poole (2017): grid %s\n\n", g.Name)
	fmt.Fprintf(&b, "%s. %d of %d cells finished.\n\n", capitalize(g.Doc), done, len(rep.Results))
	b.WriteString("Each entry is our test bound -L_k (importance-weighted, k samples per image) ± its standard error over the\n" +
		"test images, for the cell chosen on validation; then, in brackets, the paper's Table 1 number; then the setting\n" +
		"chosen. Per row and estimator the cell chosen is the one whose lowest validation -ELBO (discrete samples, after\n" +
		"any epoch) is lowest; its best-validation checkpoint (early stopping) is the one evaluated. A cell that a finished\n" +
		"cell of its row and estimator beat on validation when it finished has its test -ELBO alone (k = 1), not the bound.\n")
	if e, bs := sameFlag(g, "epochs"), sameFlag(g, "batch"); e != "" && bs != "" {
		fmt.Fprintf(&b, "Every cell trains %s epochs of batch %s", e, bs)
		if e == "100" && bs == "100" {
			b.WriteString(" (50,000 updates, the length of the authors' notebook; the paper gives none)")
		}
		b.WriteString(".\n")
	}
	rows, ests := rep.rows()
	for _, row := range rows {
		if row.Task == "vae" && row.Arch != "linear" {
			b.WriteString("The paper's VAE numbers are for its linear 784-200-784 networks: beside other architectures they compare in kind only.\n")
			break
		}
	}
	b.WriteString("\n")
	b.WriteString("| row |")
	for _, e := range ests {
		b.WriteString(" " + e + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(ests)) + "\n")
	partial := false
	for _, row := range rows {
		b.WriteString("| " + row.String() + " |")
		for _, e := range ests {
			ch, ok := rep.choice(row, e)
			if !ok {
				b.WriteString(" |")
				continue
			}
			paper := paperText(ch.Paper, ch.HasPaper)
			if ch.Best == nil {
				fmt.Fprintf(&b, " missing (%s) |", paper)
				continue
			}
			if !ch.Best.Bounded() {
				fmt.Fprintf(&b, " bound not evaluated (%s)<br>cell %d |", paper, ch.Best.Cell.Index)
				continue
			}
			t := ch.Best.Test
			fmt.Fprintf(&b, " %.1f ± %.2f (%s)", t.NegIWBound, t.NegIWBoundSE, paper)
			if ch.Finished < ch.Total {
				fmt.Fprintf(&b, "*")
				partial = true
			}
			if ch.Best.Cell.Setting != "" {
				fmt.Fprintf(&b, "<br>%s", ch.Best.Cell.Setting)
			}
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	if partial {
		b.WriteString("\n\\* chosen among the finished cells of that row and estimator only; the choice may change as the others finish.\n")
	}
	if k := iwK(rep); k != "" {
		fmt.Fprintf(&b, "\nk = %s.\n", k)
	}
	if len(rep.Unbounded) > 0 {
		var idx []string
		for _, r := range rep.Unbounded {
			idx = append(idx, strconv.Itoa(r.Cell.Index))
		}
		fmt.Fprintf(&b, "\n## Choices without their bound\n\n"+
			"%d chosen cells hold the -ELBO alone: they finished while another cell beat them on validation, and that\n"+
			"cell's folder has gone since. Running them again evaluates their bound (from their checkpoints):\n\n"+
			"    printf '%%s\\n' %s | xargs -P 1 -I{} %s -index {}\n", len(rep.Unbounded), strings.Join(idx, " "), ShellJoin(run))
	}
	if len(rep.Missing) == 0 {
		b.WriteString("\nNo cell is missing.\n")
	} else {
		fmt.Fprintf(&b, "\n## Missing cells\n\n%d of %d cells have no finished result:\n\n", len(rep.Missing), len(rep.Results))
		var idx []string
		for _, r := range rep.Missing {
			idx = append(idx, strconv.Itoa(r.Cell.Index))
			if r.Err != nil {
				fmt.Fprintf(&b, "- %d %s (unreadable: %v; remove its folder)\n", r.Cell.Index, r.Cell.Name, r.Err)
			} else {
				fmt.Fprintf(&b, "- %d %s\n", r.Cell.Index, r.Cell.Name)
			}
		}
		fmt.Fprintf(&b, "\nTo fill them on this machine, one at a time (raise -P for more at once):\n\n    printf '%%s\\n' %s | xargs -P 1 -I{} %s -index {}\n",
			strings.Join(idx, " "), ShellJoin(run))
		fmt.Fprintf(&b, "\nor as a Slurm array:\n\n    sbatch --array=%s --export=ALL,GRID=%s deploy/slurm/reproduce.sbatch\n", ranges(rep.Missing), g.Name)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// paperText writes Table 1's number of a row and estimator as the tables
// show it: one decimal, or "-" where the paper has none.
func paperText(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// sameFlag returns the value of a train flag that every cell of g shares,
// or "".
func sameFlag(g Grid, name string) string {
	v := ""
	for i, c := range g.Cells {
		f := flagValue(c.Train, name)
		if i > 0 && f != v {
			return ""
		}
		v = f
	}
	return v
}

// iwK returns the k of the chosen cells' bounds, "" if there are none, or
// a list when they differ.
func iwK(rep Report) string {
	ks := map[int]bool{}
	var list []string
	for _, ch := range rep.Choices {
		if ch.Best != nil && ch.Best.Bounded() && !ks[ch.Best.Test.IWK] {
			ks[ch.Best.Test.IWK] = true
			list = append(list, strconv.Itoa(ch.Best.Test.IWK))
		}
	}
	return strings.Join(list, ", ")
}

// ranges writes the indices of rs (in increasing order) as Slurm's array
// syntax: 3,5-9,12.
func ranges(rs []Result) string {
	var parts []string
	for i := 0; i < len(rs); {
		j := i
		for j+1 < len(rs) && rs[j+1].Cell.Index == rs[j].Cell.Index+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(rs[i].Cell.Index))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", rs[i].Cell.Index, rs[j].Cell.Index))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// csvHeader names the columns of CSV.
var csvHeader = []string{
	"grid", "task", "arch", "latent", "estimator", "index", "name", "setting",
	"optimizer", "lr", "anneal_every", "anneal_rate", "settings_finished", "settings_total",
	"best_valid_neg_elbo", "best_epoch", "epochs", "eval_epoch",
	"test_neg_elbo", "test_neg_elbo_se", "iw_k", "test_neg_iw_bound", "test_neg_iw_bound_se", "paper",
}

// CSV writes one line per chosen cell with its setting and every number.
// The paper column is empty where the paper has no number; iw_k is 1 for a
// cell without its bound (Report.Unbounded), whose bound columns are then
// the -ELBO's.
func (rep Report) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, ch := range rep.Choices {
		if ch.Best == nil {
			continue
		}
		r := ch.Best
		paper := ""
		if ch.HasPaper {
			paper = f(ch.Paper)
		}
		fv := func(name string) string { return flagValue(r.Cell.Train, name) }
		if err := cw.Write([]string{
			r.Cell.Grid, ch.Row.Task, ch.Row.Arch, ch.Row.Latent, ch.Estimator,
			strconv.Itoa(r.Cell.Index), r.Cell.Name, r.Cell.Setting,
			fv("optimizer"), fv("lr"), fv("anneal-every"), fv("anneal-rate"),
			strconv.Itoa(ch.Finished), strconv.Itoa(ch.Total),
			f(r.BestValid), strconv.Itoa(r.BestEpoch), strconv.Itoa(r.Epochs), strconv.Itoa(r.Test.Epoch),
			f(r.Test.NegELBO), f(r.Test.NegELBOSE), strconv.Itoa(r.Test.IWK), f(r.Test.NegIWBound), f(r.Test.NegIWBoundSE),
			paper,
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
