package sweep

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Cells writes every finished cell of the report as Markdown, in index
// order: its test numbers, its validation optimum, the paper's number,
// its times and its binaries, the cells Table 1 reports marked; then the
// time a cell took per row, and what the missing cells would take at that
// pace. It is the part of a grid's ledger that the result folders alone
// determine, so sweep collect rewrites it with the table.
func (rep Report) Cells(w io.Writer) error {
	var b strings.Builder
	done := len(rep.Results) - len(rep.Missing)
	fmt.Fprintf(&b, "# Every finished cell of grid %s\n\n", rep.Grid.Name)
	fmt.Fprintf(&b, "%d of %d cells finished. Per cell: the test bound -L_k of its best-validation checkpoint ± its standard\n"+
		"error over the test images (\"- (k = 1)\" for a cell beaten on validation when it finished, which has the -ELBO\n"+
		"alone); the test -ELBO; the lowest validation -ELBO and its epoch; the paper's number for the row and\n"+
		"estimator; the training time (the sum of the epochs' times, a resumed run's included), the evaluation time, and\n"+
		"the revision of the binaries that trained it. **chosen** marks the cell Table 1 reports for its row and estimator\n"+
		"(table.md). `sweep collect` rewrites this file from the result folders.\n\n", done, len(rep.Results))
	chosen := map[int]bool{}
	for _, ch := range rep.Choices {
		if ch.Best != nil {
			chosen[ch.Best.Cell.Index] = true
		}
	}
	b.WriteString("| index | cell | test -L_k | test -ELBO | best valid -ELBO (epoch) | paper | train | eval | binaries |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.finished() {
		name := r.Cell.Name
		if chosen[r.Cell.Index] {
			name += " **chosen**"
		}
		paper := paperText(Paper(r.Cell.Row.Task, r.Cell.Row.Latent, r.Cell.Estimator))
		bound := fmt.Sprintf("%.2f ± %.2f (k = %d)", r.Test.NegIWBound, r.Test.NegIWBoundSE, r.Test.IWK)
		if !r.Bounded() {
			bound = fmt.Sprintf("- (k = %d)", r.Test.IWK) // the -ELBO alone: another one-sample draw of it
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %.2f | %.2f (%d) | %s | %s | %s | %s |\n",
			r.Cell.Index, name, bound, r.Test.NegELBO, r.BestValid, r.BestEpoch, paper,
			duration(r.trainSeconds()), duration(r.Record.EvalSeconds), shortRevision(r.Record.Revisions["train"]))
	}
	rep.writePace(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// finished returns the finished, readable cells in index order.
func (rep Report) finished() []Result {
	var rs []Result
	for _, r := range rep.Results {
		if r.Finished && r.Err == nil {
			rs = append(rs, r)
		}
	}
	return rs
}

// trainSeconds is the cell's whole training time: the sum of its epochs'
// times, or the record's if that is longer (a run whose metrics lack
// them).
func (r Result) trainSeconds() float64 { return max(r.TrainSeconds, r.Record.TrainSeconds) }

// writePace writes the median time of a cell per row, and the training
// time of the missing cells at their row's median.
func (rep Report) writePace(b *strings.Builder) {
	rows, _ := rep.rows()
	train, eval := map[Row][]float64{}, map[Row][]float64{}
	var hosts []string
	for _, r := range rep.finished() {
		train[r.Cell.Row] = append(train[r.Cell.Row], r.trainSeconds())
		if r.Bounded() {
			eval[r.Cell.Row] = append(eval[r.Cell.Row], r.Record.EvalSeconds)
		}
		if h := machine(r.Record); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Time per cell\n\nMedian (range) over the finished cells of each row, on the machines that ran them: %s.\n"+
		"The evaluation is that of the cells with their bound.\n\n", strings.Join(hosts, ", "))
	b.WriteString("| row | cells | training | evaluation with the bound |\n|---|---|---|---|\n")
	for _, row := range rows {
		if len(train[row]) == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s |\n", row, len(train[row]), spread(train[row]), spread(eval[row]))
	}
	if len(rep.Missing) == 0 {
		return
	}
	med := map[Row]float64{}
	for row, ts := range train {
		med[row] = median(ts)
	}
	var left float64
	var unknown int
	for _, r := range rep.Missing {
		if m, ok := med[r.Cell.Row]; ok {
			left += m
		} else {
			unknown++
		}
	}
	fmt.Fprintf(b, "\nThe %d missing cells", len(rep.Missing))
	if unknown > 0 {
		fmt.Fprintf(b, " (%d of them in rows with no finished cell, not counted)", unknown)
	}
	fmt.Fprintf(b, ", each at its row's median:\nabout %s of training, plus the bound of each cell that leads its row and estimator\n"+
		"when it finishes.\n", cellTime(left))
}

// machine describes where a cell ran: the host, with its CPU count and
// GOMAXPROCS when the record has them (records before they existed do
// not).
func machine(rec Record) string {
	var details []string
	if rec.CPUs > 0 {
		details = append(details, fmt.Sprintf("%d CPUs", rec.CPUs))
	}
	if p := rec.Env["GOMAXPROCS"]; p != "" {
		details = append(details, "GOMAXPROCS="+p)
	}
	if len(details) == 0 {
		return rec.Host
	}
	return rec.Host + " (" + strings.Join(details, ", ") + ")"
}

// spread writes the median and range of seconds xs, or "-" if there are none.
func spread(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (%s to %s)", duration(median(xs)), duration(slices.Min(xs)), duration(slices.Max(xs)))
}

// median returns the median of xs, which must not be empty.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// duration writes seconds as whole minutes, or whole seconds under one
// minute.
func duration(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f min", d.Minutes())
}

// cellTime writes seconds of one CPU's work as cell-minutes up to two
// hours, else as cell-hours.
func cellTime(seconds float64) string {
	if seconds < 2*3600 {
		return fmt.Sprintf("%.0f cell-minutes", seconds/60)
	}
	return fmt.Sprintf("%.0f cell-hours", seconds/3600)
}

// shortRevision shortens a binary's revision as Record.Revisions holds it to
// seven hex digits, keeping "unknown" and a "+modified" mark.
func shortRevision(rev string) string {
	if rev == "" {
		return "-"
	}
	base, modified := strings.CutSuffix(rev, "+modified")
	if len(base) > 7 && base != "unknown" {
		base = base[:7]
	}
	if modified {
		base += "+modified"
	}
	return base
}
