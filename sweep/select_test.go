package sweep

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeArgs reads the flags the fakes below use into shell variables.
const fakeArgs = `#!/bin/sh
while [ $# -gt 0 ]; do
	case "$1" in
	-out) out=$2; shift ;;
	-valid) valid=$2; shift ;;
	-iw) k=$2; shift ;;
	esac
	shift
done
`

// fakeTrain and fakeEval stand in for the train and eval executables in
// TestRunEvaluatesTheChoice: train writes a run folder whose one epoch has
// the validation -ELBO of its -valid flag; eval writes an eval.json with
// the k of its -iw flag and appends that k to calls.log beside itself.
const (
	fakeTrain = fakeArgs + `mkdir -p "$out" || exit 1
echo '{}' > "$out/config.json"
echo "{\"epoch\":1,\"valid_neg_elbo\":$valid}" > "$out/metrics.jsonl"
echo model > "$out/model.ckpt"
echo best > "$out/best.ckpt"
`
	fakeEval = fakeArgs + `echo "$k" >> "$(dirname "$0")/calls.log"
echo "{\"split\":\"test\",\"iw_k\":$k,\"neg_iw_bound\":100,\"neg_elbo\":110}" > "$out"
`
)

// TestRunEvaluatesTheChoice checks which cells get their bound: a cell
// that a finished cell of its row and estimator beats on validation (or
// ties with a lower index) gets the -ELBO alone, any other its k samples,
// every cell with EvalAll; and a finished cell left without its bound when
// its rival's folder is removed gets it when run again, and Collect says
// so meanwhile.
func TestRunEvaluatesTheChoice(t *testing.T) {
	bin := t.TempDir()
	for name, text := range map[string]string{"train": fakeTrain, "eval": fakeEval} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	row := Row{"vae", "tiny", "categorical"}
	cell := func(name, est, valid string) Cell {
		return Cell{Name: name, Row: row, Estimator: est, Setting: "valid " + valid,
			Train: []string{"-epochs", "1", "-valid", valid}, Eval: []string{"-split", "test", "-iw", "7"}}
	}
	g, err := NewGrid("select", "a test grid", []Cell{
		cell("a", "gs", "120"), // 0: first of its group: its bound
		cell("b", "gs", "130"), // 1: beaten by a: the -ELBO alone
		cell("c", "gs", "110"), // 2: beats a: its bound
		cell("d", "sf", "140"), // 3: another estimator, alone: its bound
		cell("e", "gs", "110"), // 4: ties with c, later index: the -ELBO alone
		cell("f", "gs", "150"), // 5: beaten, but run with EvalAll: its bound
	})
	if err != nil {
		t.Fatal(err)
	}
	runs, results := t.TempDir(), t.TempDir()
	var out bytes.Buffer
	runner := Runner{Bin: bin, Runs: runs, Results: results, Stdout: &out, Stderr: &out}
	run := func(r Runner, i int) {
		t.Helper()
		out.Reset()
		if err := r.Run(context.Background(), g, i); err != nil {
			t.Fatalf("cell %d: %v\n%s", i, err, out.String())
		}
	}
	k := func(i int) int { // the k of cell i's published evaluation
		t.Helper()
		res := readCell(g.Cells[i].ResultDir(results), g.Cells[i])
		if !res.Finished || res.Err != nil {
			t.Fatalf("cell %d: finished %v, %v", i, res.Finished, res.Err)
		}
		return res.Test.IWK
	}
	for i, want := range []int{7, 1, 7, 7, 1} {
		run(runner, i)
		if got := k(i); got != want {
			t.Errorf("cell %d %s: evaluated with k = %d, want %d\n%s", i, g.Cells[i].Setting, got, want, out.String())
		}
	}
	if !strings.Contains(out.String(), "finished cell 2 c has 110.00") {
		t.Errorf("cell 4's log does not name its rival:\n%s", out.String())
	}
	all := runner
	all.EvalAll = true
	run(all, 5)
	if got := k(5); got != 7 {
		t.Errorf("cell 5 with EvalAll: k = %d, want 7", got)
	}
	if rep := Collect(results, g); len(rep.Unbounded) != 0 || rep.Choices[0].Best.Cell.Index != 2 {
		t.Errorf("collect: chose cell %d, unbounded %v; want cell 2, none", rep.Choices[0].Best.Cell.Index, rep.Unbounded)
	}

	// The folders of a and c go: e is now the choice, without its bound.
	for _, i := range []int{0, 2} {
		if err := os.RemoveAll(g.Cells[i].ResultDir(results)); err != nil {
			t.Fatal(err)
		}
	}
	rep := Collect(results, g)
	if len(rep.Unbounded) != 1 || rep.Unbounded[0].Cell.Index != 4 {
		t.Fatalf("collect after the removal: unbounded %v, want cell 4", rep.Unbounded)
	}
	var md bytes.Buffer
	if err := rep.Markdown(&md, []string{"sweep", "run", "-grid", "select"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bound not evaluated (101.5)<br>cell 4", "## Choices without their bound", "printf '%s\\n' 4 | xargs -P 1 -I{} sweep run -grid select -index {}"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("table.md lacks %q:\n%s", want, md.String())
		}
	}
	run(runner, 1) // still beaten (by e): skipped
	if !strings.Contains(out.String(), "skipped") || k(1) != 1 {
		t.Errorf("cell 1 run again: k = %d, log:\n%s", k(1), out.String())
	}
	run(runner, 4) // the choice now: its bound, from its checkpoint
	if k(4) != 7 || strings.Contains(out.String(), "training") || !strings.Contains(out.String(), "evaluating its bound (k = 7)") {
		t.Errorf("cell 4 run again: k = %d, log:\n%s", k(4), out.String())
	}
	var rec Record
	if err := readJSON(filepath.Join(g.Cells[4].ResultDir(results), CellFile), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Ran) != 3 || rec.Ran[1][len(rec.Ran[1])-3] != "1" || rec.Ran[2][len(rec.Ran[2])-3] != "7" || rec.TrainSeconds <= 0 {
		t.Errorf("cell 4's record: ran %q, train %v s; want train, eval -iw 1, eval -iw 7", rec.Ran, rec.TrainSeconds)
	}
	if rep := Collect(results, g); len(rep.Unbounded) != 0 {
		t.Errorf("collect after the rerun: unbounded %v", rep.Unbounded)
	}
	calls, err := os.ReadFile(filepath.Join(bin, "calls.log"))
	if err != nil || string(calls) != "7\n1\n7\n7\n1\n7\n7\n" {
		t.Errorf("eval ran with k = %q, %v; want 7 1 7 7 1 7 7 (the last cell 4's bound)", calls, err)
	}

	// A cell owed its bound whose checkpoint is elsewhere is an error that
	// says what to do.
	if err := os.RemoveAll(g.Cells[4].ResultDir(results)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(g.Cells[1].RunDir(runs)); err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(context.Background(), g, 1); err == nil || !strings.Contains(err.Error(), "checkpoint is not here") {
		t.Errorf("cell 1 without its run folder: %v", err)
	}
}
