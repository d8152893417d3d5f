package sweep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLineWriter checks that the children's output is passed on as whole
// prefixed lines, without progress bar frames, whatever the writes' sizes.
func TestLineWriter(t *testing.T) {
	for _, tt := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"lines", []string{"a\nb\n"}, "> a\n> b\n"},
		{"split", []string{"a", "b\nc", "\n"}, "> ab\n> c\n"},
		{"unterminated last line", []string{"a\nb"}, "> a\n> b\n"},
		{"bar frames then a line", []string{"\rframe 1", "\rframe 2", "\r      \r", "train: stopped\n"}, "> train: stopped\n"},
		{"frame not cleared", []string{"\repoch 2/5 0%", "train: interrupted\n"}, "> train: interrupted\n"},
		{"frame left at the end", []string{"a\n", "\rframe"}, "> a\n"},
		{"frame and line in one write", []string{"\r   \rdone\n"}, "> done\n"},
	} {
		var out bytes.Buffer
		l := newLineWriter(&out, "> ")
		for _, w := range tt.writes {
			if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
				t.Errorf("%s: Write = %d, %v", tt.name, n, err)
			}
		}
		l.Flush()
		if out.String() != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, out.String(), tt.want)
		}
	}
}

// TestShellJoin checks that the command lines the sweep prints read back
// as the same arguments in a POSIX shell.
func TestShellJoin(t *testing.T) {
	argv := []string{"bin/train", "-hidden", "512,256", "-lr", "3e-5", "-out", "a b/it's", "", "$HOME", "x;y"}
	line := ShellJoin(argv)
	if !strings.HasPrefix(line, "bin/train -hidden 512,256 -lr 3e-5 -out 'a b/it'\\''s' ''") {
		t.Errorf("ShellJoin = %s", line)
	}
	out, err := exec.Command("sh", "-c", `eval "set -- $0"; for a in "$@"; do printf '[%s]\n' "$a"; done`, line).Output()
	if err != nil {
		t.Skipf("no POSIX shell to read the line back: %v", err)
	}
	var want strings.Builder
	for _, a := range argv {
		fmt.Fprintf(&want, "[%s]\n", a)
	}
	if string(out) != want.String() {
		t.Errorf("sh reads %s back as\n%s\nwant\n%s", line, out, want.String())
	}
}

// TestParseCurve checks the minimum over metrics.jsonl, the sum of the
// epochs' seconds, and the refusals.
func TestParseCurve(t *testing.T) {
	cv, err := parseCurve(strings.NewReader(
		`{"epoch":1,"valid_neg_elbo":120.5,"seconds":3.5}` + "\n" +
			`{"epoch":2,"valid_neg_elbo":110.25,"gradvar":{"x":[1,2]},"seconds":4}` + "\n\n" +
			`{"epoch":3,"valid_neg_elbo":110.25}` + "\n" +
			`{"epoch":4,"valid_neg_elbo":115,"seconds":2.25}` + "\n"))
	if want := (curve{best: 110.25, bestEpoch: 2, epochs: 4, seconds: 9.75}); err != nil || cv != want {
		t.Errorf("parseCurve = %+v, %v; want %+v (the first epoch of a tie; a line without seconds adds none)", cv, err, want)
	}
	for _, bad := range []string{"", "{\"epoch\":1}\n", "not json\n"} {
		if _, err := parseCurve(strings.NewReader(bad)); err == nil {
			t.Errorf("parseCurve(%q): no error", bad)
		}
	}
}

// fakeResult writes a finished result folder for c as publish would, with
// the given validation curve and test bound of k = 1000 samples.
func fakeResult(t *testing.T, results string, c Cell, valid []float64, bound float64) {
	t.Helper()
	fakeResultK(t, results, c, valid, bound, 1000)
}

// fakeResultK is fakeResult with a bound of k samples.
func fakeResultK(t *testing.T, results string, c Cell, valid []float64, bound float64, k int) {
	t.Helper()
	run := filepath.Join(t.TempDir(), c.Name)
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	var m strings.Builder
	for i, v := range valid {
		fmt.Fprintf(&m, `{"epoch":%d,"valid_neg_elbo":%g,"seconds":60}`+"\n", i+1, v)
	}
	ev, _ := json.Marshal(EvalReport{Epoch: 1, Split: "test", N: 10000, IWK: k, NegIWBound: bound, NegIWBoundSE: 0.3, NegELBO: bound + 10})
	for name, text := range map[string]string{ConfigFile: "{}\n", MetricsFile: m.String(), EvalFile: string(ev)} {
		if err := os.WriteFile(filepath.Join(run, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := Record{Grid: c.Grid, Index: c.Index, Name: c.Name, Finished: "now", Host: "box", CPUs: 2,
		Revisions: map[string]string{"train": "0123456789abcdef"}, Env: map[string]string{"GOMAXPROCS": "1"},
		TrainSeconds: 30, EvalSeconds: 45}
	if err := publish(c, run, c.ResultDir(results), rec); err != nil {
		t.Fatal(err)
	}
}

// TestCollect checks the choice per row and estimator on the notebook
// grid's first row and the paper grid's first group, with cells missing,
// and the table's entries.
func TestCollect(t *testing.T) {
	g, err := Lookup("paper")
	if err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	// vae/linear/bernoulli sf: cells 0-5, the lr 3e-4 one (cell 2) best on
	// validation though not on test; cells 4 and 5 missing.
	fakeResult(t, results, g.Cells[0], []float64{130, 125}, 120)
	fakeResult(t, results, g.Cells[1], []float64{140, 135}, 119)
	fakeResult(t, results, g.Cells[2], []float64{118, 121}, 115)
	fakeResult(t, results, g.Cells[3], []float64{122}, 114)
	// vae/linear/bernoulli muprop: cells 12-17, all finished: no asterisk.
	for i := 12; i < 18; i++ {
		fakeResult(t, results, g.Cells[i], []float64{float64(130 - i)}, 110)
	}
	// An unreadable finished cell counts as missing.
	fakeResult(t, results, g.Cells[6], []float64{118}, 115)
	if err := os.WriteFile(filepath.Join(g.Cells[6].ResultDir(results), MetricsFile), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := Collect(results, g)
	if len(rep.Choices) != 32 || len(rep.Missing) != len(g.Cells)-10 {
		t.Fatalf("%d choices, %d missing; want 32, %d", len(rep.Choices), len(rep.Missing), len(g.Cells)-10)
	}
	ch := rep.Choices[0]
	if ch.Row != (Row{"vae", "linear", "bernoulli"}) || ch.Estimator != "sf" || ch.Best == nil || ch.Best.Cell.Index != 2 ||
		ch.Finished != 4 || ch.Total != 6 || ch.Paper != 112.2 || ch.Best.BestValid != 118 || ch.Best.BestEpoch != 1 {
		t.Errorf("choice for vae/linear/bernoulli sf: %+v (best %+v)", ch, ch.Best)
	}
	if rep.Choices[1].Best != nil || rep.Choices[1].Estimator != "darn" || rep.Choices[1].Finished != 0 {
		t.Errorf("darn: %+v", rep.Choices[1])
	}
	var md bytes.Buffer
	if err := rep.Markdown(&md, []string{"bin/sweep", "run", "-grid", "paper"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"The paper's protocol (SGD momentum 0.9; lr and schedule swept) on its linear networks. 10 of 336 cells finished",
		"| vae/linear/bernoulli | 115.0 ± 0.30 (112.2)*<br>lr 3e-4 | missing (110.9) | 110.0 ± 0.30 (109.7)<br>lr 1e-3 |",
		"| sbn/sbn/categorical |",
		"\n\\* chosen among the finished cells of that row and estimator only",
		"\nk = 1000.\n",
		"326 of 336 cells have no finished result",
		"- 6 vae-bernoulli-linear-darn-lr3e-5 (unreadable:",
		"printf '%s\\n' 4 5 6 7 8 9 10 11 18 ",
		"sbatch --array=4-11,18-335 --export=ALL,GRID=paper",
		"Every cell trains 100 epochs of batch 100 (50,000 updates",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("table.md lacks %q:\n%.3000s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "Choices without their bound") {
		t.Errorf("table.md has a section for choices without their bound, but every choice has it:\n%.3000s", md.String())
	}
	if strings.Contains(md.String(), "compare in kind only") {
		t.Errorf("the paper grid has only linear VAE rows, but the table says they compare in kind")
	}
	var csv bytes.Buffer
	if err := rep.CSV(&csv); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "paper,vae,linear,bernoulli,sf,2,vae-bernoulli-linear-sf-lr3e-4,lr 3e-4,momentum,3e-4,1000,3e-05,4,6,118,1,2,1,") ||
		!strings.HasSuffix(lines[1], ",1000,115,0.3,112.2") ||
		lines[2] != "paper,vae,linear,bernoulli,muprop,17,vae-bernoulli-linear-muprop-lr1e-3,lr 1e-3,momentum,1e-3,1000,3e-05,6,6,113,1,1,1,120,0,1000,110,0.3,109.7" {
		t.Errorf("table.csv:\n%s", csv.String())
	}
	png := filepath.Join(t.TempDir(), "t.png")
	if err := rep.Figure(png); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(png); err != nil || fi.Size() == 0 {
		t.Errorf("figure: %v", err)
	}
	// With nothing finished the figure is still drawn.
	if err := Collect(t.TempDir(), g).Figure(png); err != nil {
		t.Errorf("empty figure: %v", err)
	}
}

// TestCells checks the list of finished cells: the chosen one marked, a
// cell with the -ELBO alone shown with k = 1, the times (the epochs' sum of
// 60 s each, the record's 45 s of evaluation), and the pace: the median
// per row, and the missing cells at it, those of a row without a finished
// cell left out.
func TestCells(t *testing.T) {
	a := Row{"vae", "tiny", "categorical"}
	b := Row{"sbn", "sbn", "bernoulli"}
	cell := func(name string, row Row) Cell {
		return Cell{Name: name, Row: row, Estimator: "gs", Train: []string{"-epochs", "3"}, Eval: []string{"-iw", "1000"}}
	}
	g, err := NewGrid("cells", "a test grid", []Cell{cell("a", a), cell("b", a), cell("c", a), cell("d", b)})
	if err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	fakeResultK(t, results, g.Cells[0], []float64{130, 125}, 120, 1000)      // chosen: 2 epochs, 2 min
	fakeResultK(t, results, g.Cells[1], []float64{140, 135, 131, 130}, 0, 1) // beaten: 4 epochs, 4 min
	var md bytes.Buffer
	if err := Collect(results, g).Cells(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"2 of 4 cells finished.",
		"| 0 | a **chosen** | 120.00 ± 0.30 (k = 1000) | 130.00 | 125.00 (2) | 101.5 | 2 min | 45 s | 0123456 |",
		"| 1 | b | - (k = 1) | 10.00 | 130.00 (4) | 101.5 | 4 min | 45 s | 0123456 |",
		"on the machines that ran them: box (2 CPUs, GOMAXPROCS=1).",
		"| vae/tiny/categorical | 2 | 3 min (2 min to 4 min) | 45 s (45 s to 45 s) |",
		"The 2 missing cells (1 of them in rows with no finished cell, not counted), each at its row's median:\nabout 3 cell-minutes of training",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("cells.md lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "| 2 | c") || strings.Contains(md.String(), "sbn/sbn/bernoulli |") {
		t.Errorf("cells.md lists a missing cell or a row without finished cells:\n%s", md.String())
	}
}

// TestMachineAndRevision checks how cells.md names a cell's machine and
// binaries, for records of every age (CPUs and Env came later).
func TestMachineAndRevision(t *testing.T) {
	for _, tc := range []struct {
		rec  Record
		want string
	}{
		{Record{Host: "vm"}, "vm"},
		{Record{Host: "vm", CPUs: 2}, "vm (2 CPUs)"},
		{Record{Host: "vm", CPUs: 2, Env: map[string]string{"GOMAXPROCS": "1"}}, "vm (2 CPUs, GOMAXPROCS=1)"},
	} {
		if got := machine(tc.rec); got != tc.want {
			t.Errorf("machine(%+v) = %q, want %q", tc.rec, got, tc.want)
		}
	}
	for rev, want := range map[string]string{
		"": "-", "unknown": "unknown", "b48a289c0ffee": "b48a289", "b48a289c0ffee+modified": "b48a289+modified", "abc": "abc",
	} {
		if got := shortRevision(rev); got != want {
			t.Errorf("shortRevision(%q) = %q, want %q", rev, got, want)
		}
	}
}

// TestPublishReplaces checks that publishing replaces an unfinished result
// folder and leaves no temporary folder, and that the done marker is there.
func TestPublishReplaces(t *testing.T) {
	g, err := Lookup("notebook")
	if err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	c := g.Cells[13]
	stale := c.ResultDir(results)
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "junk"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fakeResult(t, results, c, []float64{100}, 99)
	entries, err := os.ReadDir(filepath.Dir(stale))
	if err != nil || len(entries) != 1 || entries[0].Name() != c.Name {
		t.Errorf("grid folder holds %v, %v; want only %s", entries, err, c.Name)
	}
	names, _ := os.ReadDir(stale)
	var got []string
	for _, e := range names {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != "cell.json config.json done eval.json metrics.jsonl" {
		t.Errorf("result folder holds %v", got)
	}
	r := Read(results, g)[13]
	if !r.Finished || r.Err != nil || r.BestValid != 100 || math.Abs(r.Test.NegIWBound-99) > 0 {
		t.Errorf("Read: %+v", r)
	}
}

// TestRanges checks Slurm's array syntax for a list of indices.
func TestRanges(t *testing.T) {
	var rs []Result
	for _, i := range []int{0, 3, 4, 5, 9, 11, 12} {
		rs = append(rs, Result{Cell: Cell{Index: i}})
	}
	if got := ranges(rs); got != "0,3-5,9,11-12" {
		t.Errorf("ranges = %s", got)
	}
}
