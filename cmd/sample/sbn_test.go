package main

import (
	"go/parser"
	"go/token"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/data"
	"gsvae/internal/cli"
	"gsvae/model"
)

// sbnCheckpoint saves the fresh state of a 392-(3x4)-(3x4)-392 SBN run in
// dir and returns the checkpoint's path.
func sbnCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	cfg := tinyConfig(dir)
	cfg.Model.Task, cfg.Model.Hidden = model.TaskSBN, []int{}
	path, _ := saveState(t, cfg)
	return path
}

// TestRunComplete checks complete mode on an SBN checkpoint with -n 3
// -samples 4, and with the mode left to its default (complete for an
// SBN): exit 0, a PNG of 3 rows of 5 tiles; the first tile of each row is
// the fixed binarization of that test digit, and each of the 4 others
// holds the digit's upper half (rows 0-13) exactly and, below it, pixel
// means that vary; the gaps are grey. The default mode gives the same
// image.
func TestRunComplete(t *testing.T) {
	dataDir, err := data.FindDir("")
	if err != nil {
		t.Fatalf("MNIST data: %v", err)
	}
	_, _, test, err := data.Load(dataDir, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ckpt := sbnCheckpoint(t, dir)
	const n, samples = 3, 4
	var pngs []string
	for _, mode := range [][]string{{"-mode", "complete"}, nil} {
		out := filepath.Join(t.TempDir(), "complete.png")
		args := append([]string{"-ckpt", dir, "-n", strconv.Itoa(n), "-samples", strconv.Itoa(samples), "-out", out}, mode...)
		r := runSample(t, args...)
		if r.code != cli.ExitOK {
			t.Fatalf("%q: exit status %d (stderr %q)", args, r.code, r.stderr)
		}
		if want := "wrote 3 complete images of 3x4 categorical SBN (392-12-12-392) from " + ckpt + " to " + out + "\n"; r.stdout != want {
			t.Errorf("stdout = %q, want %q", r.stdout, want)
		}
		pngs = append(pngs, string(readFile(t, out)))
		g := readPNG(t, out)
		if got, want := g.Bounds(), (image.Rectangle{Max: gridSize(samples+1, n)}); got != want {
			t.Fatalf("image bounds %v, want %v (%d rows of %d tiles)", got, want, n, samples+1)
		}
		for b := range n {
			digit := make([]uint8, data.Pixels)
			for j, v := range test.Binary[b*data.Pixels : (b+1)*data.Pixels] {
				digit[j] = 255 * v
			}
			if got := tile(g, 0, b); string(got) != string(digit) {
				t.Errorf("row %d: the first tile is not test digit %d", b, b)
			}
			half := data.Pixels / 2
			for j := 1; j <= samples; j++ {
				got := tile(g, j, b)
				if string(got[:half]) != string(digit[:half]) {
					t.Errorf("row %d, completion %d: the upper half is not the digit's", b, j)
				}
				if lo, hi := minMax(got[half:]); hi-lo < 8 {
					t.Errorf("row %d, completion %d: the lower half has levels %d..%d, want pixel means that vary", b, j, lo, hi)
				}
			}
		}
		wantGaps(t, g)
	}
	if len(pngs) == 2 && pngs[0] != pngs[1] {
		t.Error("-mode complete and the default mode wrote different images")
	}
}

// TestRunModeRefusals checks that a mode the checkpoint's task does not
// have is a usage error (exit status 2, one line naming -mode and the
// modes the model has) that writes nothing: prior and recon on an SBN,
// complete on a VAE. It also checks -samples' range.
func TestRunModeRefusals(t *testing.T) {
	vae, sbn := t.TempDir(), t.TempDir()
	newCheckpoint(t, vae)
	sbnCheckpoint(t, sbn)
	for _, tc := range []struct {
		ckpt string
		args []string
		want string
	}{
		{sbn, []string{"-mode", "prior"}, "-mode prior"},
		{sbn, []string{"-mode", "recon"}, "-mode recon"},
		{vae, []string{"-mode", "complete"}, "-mode complete"},
		{sbn, []string{"-samples", "0"}, "-samples 0"},
		{sbn, []string{"-samples", "33"}, "-samples 33"},
	} {
		out := filepath.Join(t.TempDir(), "out.png")
		r := runSample(t, append([]string{"-ckpt", tc.ckpt, "-out", out}, tc.args...)...)
		if r.code != cli.ExitUsage {
			t.Errorf("%q: exit status %d, want %d (stderr %q)", tc.args, r.code, cli.ExitUsage, r.stderr)
		}
		wantOneLine(t, r.stderr)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: stderr %q does not contain %q", tc.args, r.stderr, tc.want)
		}
		if strings.HasPrefix(tc.want, "-mode") {
			modes := map[bool]string{true: "complete", false: "prior and recon"}[tc.ckpt == sbn]
			if !strings.Contains(r.stderr, modes) {
				t.Errorf("%q: stderr %q does not list the model's modes %q", tc.args, r.stderr, modes)
			}
		}
		if r.stdout != "" {
			t.Errorf("%q: stdout = %q, want nothing", tc.args, r.stdout)
		}
		wantNoFile(t, out)
	}
}

// TestPriorFollowsLearnedPrior samples -n 1024 images in prior mode from a
// model file (model.Save: no training state) of one categorical variable
// of K = 4 classes with learned prior logits (0, 1, -1, 2) and a linear
// decoder whose weights are scaled by 10, so that the four codes decode to
// clearly different images. Each tile is matched to the nearest of the
// four images computed here from the weights (the tile of class k has
// levels round(255 sigmoid(10 W_jk + b_j))); every class's frequency must
// be within 4 binomial standard errors, sqrt(p(1-p)/n), of its
// probability softmax(logits)_k = (0.087, 0.237, 0.032, 0.644). A sampler
// that ignores the learned prior draws every class with probability 1/4:
// classes 0, 2 and 3 then miss by 18, 39 and 26 standard errors.
func TestPriorFollowsLearnedPrior(t *testing.T) {
	const n = 1024
	logits := []float32{0, 1, -1, 2}
	cfg := model.Config{N: 1, K: 4, Hidden: []int{}, Input: model.Pixels, Prior: model.PriorLearned}
	p, err := model.NewParams(cfg, tensor.Float32, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Tensors[p.Index("prior.logits")].Float32s(), logits)
	w, bias := p.Tensors[p.Index("dec0.w")].Float32s(), p.Tensors[p.Index("dec0.b")].Float32s()
	for i := range w {
		w[i] *= 10
	}
	path := filepath.Join(t.TempDir(), "model.ckpt")
	if err := model.Save(path, cfg, p); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "prior.png")
	if r := runSample(t, "-ckpt", path, "-mode", "prior", "-n", strconv.Itoa(n), "-out", out); r.code != cli.ExitOK {
		t.Fatalf("exit status %d (stderr %q)", r.code, r.stderr)
	}
	want := make([][]float64, cfg.K) // the decoded tile of each class
	for k := range want {
		for j := range data.Pixels {
			l := float64(w[j*cfg.K+k] + bias[j])
			want[k] = append(want[k], math.Round(255/(1+math.Exp(-l))))
		}
	}
	g := readPNG(t, out)
	cols := int(math.Ceil(math.Sqrt(n)))
	counts := make([]int, cfg.K)
	for i := range n {
		pix := tile(g, i%cols, i/cols)
		best, bestDist := -1, math.Inf(1)
		for k, ref := range want {
			var d float64
			for j, v := range pix {
				d += math.Abs(float64(v) - ref[j])
			}
			if d < bestDist {
				best, bestDist = k, d
			}
		}
		if bestDist > float64(data.Pixels) { // more than one level per pixel on average
			t.Fatalf("tile %d is none of the four decoded codes (distance %.0f)", i, bestDist)
		}
		counts[best]++
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(float64(l))
	}
	for k, c := range counts {
		q := math.Exp(float64(logits[k])) / z
		if se := math.Sqrt(q * (1 - q) / n); math.Abs(float64(c)/n-q) > 4*se {
			t.Errorf("class %d: frequency %.4f, prior probability %.4f (4 SE = %.4f)", k, float64(c)/n, q, 4*se)
		}
	}
	t.Logf("class counts %v of %d", counts, n)
}

// TestSampleNeedsNoTrain checks that the command reads models through
// model.Load alone: neither its own files nor any package of the module
// that they import, directly or not, imports gsvae/train (the test files
// may, to write training checkpoints).
func TestSampleNeedsNoTrain(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var visit func(pkg string, path []string)
	visit = func(pkg string, path []string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		dir := filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(pkg, "gsvae"), "/"))
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("package %s: no Go files in %s (%v)", pkg, dir, err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				dep, _ := strconv.Unquote(imp.Path.Value)
				if dep == "gsvae/train" {
					t.Errorf("%s imports gsvae/train (via %s)", file, strings.Join(append(path, pkg), " -> "))
				}
				if dep == "gsvae" || strings.HasPrefix(dep, "gsvae/") {
					visit(dep, append(path, pkg))
				}
			}
		}
	}
	visit("gsvae/cmd/sample", nil)
	if !seen["gsvae/model"] {
		t.Error("cmd/sample does not import gsvae/model")
	}
	if _, err := os.Stat(filepath.Join(root, "train")); err != nil {
		t.Fatalf("module root %s has no train folder: %v", root, err)
	}
}
