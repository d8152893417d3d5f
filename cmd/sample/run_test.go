package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gsvae/checkpoint"
	"gsvae/data"
	"gsvae/estimator"
	"gsvae/internal/cli"
	"gsvae/model"
	"gsvae/train"
)

// background is the grey level newGrid paints between and around tiles.
const background = 96

// result is what one invocation of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// runSample runs the command with args the way cli.Main does and returns
// its exit status and output.
func runSample(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	code := cli.Report("sample", err, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// tinyConfig is an untrained 3x4 model with hidden layers 16 and 8 whose
// run folder is dir.
func tinyConfig(dir string) train.Config {
	cfg := train.Defaults()
	cfg.Model.N, cfg.Model.K, cfg.Model.Hidden = 3, 4, []int{16, 8}
	cfg.Out = dir
	return cfg
}

// newCheckpoint saves the fresh state of tinyConfig in dir and returns the
// checkpoint's path and the state.
func newCheckpoint(t *testing.T, dir string) (string, *train.State) {
	t.Helper()
	return saveState(t, tinyConfig(dir))
}

// saveState saves the fresh state of cfg in cfg.Out and returns the
// checkpoint's path and the state.
func saveState(t *testing.T, cfg train.Config) (string, *train.State) {
	t.Helper()
	dir := cfg.Out
	st, err := train.NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, train.CheckpointFile)
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	return path, st
}

// readPNG decodes the PNG at path as a grey image.
func readPNG(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	b := img.Bounds()
	g := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.SetGray(x, y, color.GrayModel.Convert(img.At(x, y)).(color.Gray))
		}
	}
	return g
}

// gridSize is the size in pixels of a grid of tiles rows x cols as grid.go
// lays it out: a gap around and between 28x28 tiles.
func gridSize(cols, rows int) image.Point {
	return image.Pt(gap+cols*(side+gap), gap+rows*(side+gap))
}

// tile returns the grey levels of the tile at column c, row r of g.
func tile(g *image.Gray, c, r int) []uint8 {
	x0, y0 := gap+c*(side+gap), gap+r*(side+gap)
	pix := make([]uint8, 0, side*side)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			pix = append(pix, g.GrayAt(x0+x, y0+y).Y)
		}
	}
	return pix
}

// allEqual reports whether every value of pix equals v.
func allEqual(pix []uint8, v uint8) bool {
	for _, p := range pix {
		if p != v {
			return false
		}
	}
	return true
}

// wantOneLine fails unless s is exactly one newline-terminated line
// starting with "sample: ", as cli.Report writes it.
func wantOneLine(t *testing.T, s string) {
	t.Helper()
	if !strings.HasPrefix(s, "sample: ") || !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("stderr = %q, want exactly one line starting with \"sample: \"", s)
	}
}

// TestRunPrior checks prior mode with -n 10, given the run folder and the
// checkpoint file as -ckpt: exit 0, a PNG of 4 columns and 3 rows of tiles
// (cols = ceil(sqrt(10))), ten tiles of varying decoded means, the two
// unused slots and the gaps left grey, and the same image from either form
// of -ckpt with the same seed.
func TestRunPrior(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := newCheckpoint(t, dir)
	const n = 10
	cols := int(math.Ceil(math.Sqrt(n)))
	rows := (n + cols - 1) / cols
	if cols != 4 || rows != 3 {
		t.Fatalf("layout %dx%d, want 4x3", cols, rows)
	}
	tests := []struct {
		name, ckpt string
	}{
		{"folder", dir},
		{"file", ckpt},
	}
	var pngs [][]byte
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "prior.png")
			r := runSample(t, "-ckpt", tt.ckpt, "-mode", "prior", "-n", "10", "-seed", "7", "-out", out)
			if r.code != cli.ExitOK {
				t.Fatalf("exit status %d, want 0 (stderr %q)", r.code, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			if want := "wrote 10 prior images of 3x4 categorical VAE (784-16-8-12) from " + ckpt + " to " + out + "\n"; r.stdout != want {
				t.Errorf("stdout = %q, want %q", r.stdout, want)
			}
			g := readPNG(t, out)
			if got, want := g.Bounds(), (image.Rectangle{Max: gridSize(cols, rows)}); got != want {
				t.Fatalf("image bounds %v, want %v", got, want)
			}
			for i := 0; i < cols*rows; i++ {
				pix := tile(g, i%cols, i/cols)
				lo, hi := minMax(pix)
				switch {
				case i >= n && !allEqual(pix, background):
					t.Errorf("unused slot %d is not background grey: levels %d..%d", i, lo, hi)
				case i < n && hi-lo < 8:
					t.Errorf("tile %d has levels %d..%d, want decoded means that vary", i, lo, hi)
				case i < n && allEqual(pix, background):
					t.Errorf("tile %d is background grey", i)
				}
			}
			wantGaps(t, g)
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			pngs = append(pngs, b)
		})
	}
	if len(pngs) == 2 && !bytes.Equal(pngs[0], pngs[1]) {
		t.Errorf("-ckpt %s and -ckpt %s with the same seed wrote different images", dir, ckpt)
	}
}

// TestRunPriorSeed checks that -seed decides the latent draws: the same
// seed gives the same image, another seed a different one.
func TestRunPriorSeed(t *testing.T) {
	dir := t.TempDir()
	newCheckpoint(t, dir)
	draw := func(seed string) []byte {
		t.Helper()
		out := filepath.Join(t.TempDir(), "prior.png")
		if r := runSample(t, "-ckpt", dir, "-n", "64", "-seed", seed, "-out", out); r.code != cli.ExitOK {
			t.Fatalf("-seed %s: exit status %d (stderr %q)", seed, r.code, r.stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, again, other := draw("1"), draw("1"), draw("2")
	if !bytes.Equal(a, again) {
		t.Error("-seed 1 twice gave different images")
	}
	if bytes.Equal(a, other) {
		t.Error("-seed 1 and -seed 2 gave the same image of 64 draws")
	}
}

// TestRunRecon checks recon mode with -n 5: exit 0, a PNG of
// cols = ceil(sqrt(10)) = 4 columns and 2 pairs of tile rows, every
// original tile equal to the fixed binarization of its test image, every
// reconstruction tile below it a varying grey image, and unused slots grey.
func TestRunRecon(t *testing.T) {
	dataDir, err := data.FindDir("")
	if err != nil {
		t.Fatalf("MNIST data: %v", err)
	}
	_, _, test, err := data.Load(dataDir, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	newCheckpoint(t, dir)
	const n = 5
	cols := int(math.Ceil(math.Sqrt(2 * n)))
	rows := 2 * ((n + cols - 1) / cols)
	if cols != 4 || rows != 4 {
		t.Fatalf("layout %dx%d, want 4x4", cols, rows)
	}
	out := filepath.Join(t.TempDir(), "recon.png")
	r := runSample(t, "-ckpt", dir, "-mode", "recon", "-n", "5", "-out", out)
	if r.code != cli.ExitOK {
		t.Fatalf("exit status %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "wrote 5 recon images") {
		t.Errorf("stdout = %q, want it to start with \"wrote 5 recon images\"", r.stdout)
	}
	g := readPNG(t, out)
	if got, want := g.Bounds(), (image.Rectangle{Max: gridSize(cols, rows)}); got != want {
		t.Fatalf("image bounds %v, want %v", got, want)
	}
	if want := gap + 2*(rows/2)*(side+gap); g.Bounds().Dy() != want {
		t.Errorf("image height %d, want %d", g.Bounds().Dy(), want)
	}
	for i := 0; i < cols*rows/2; i++ {
		c, orig, recon := i%cols, 2*(i/cols), 2*(i/cols)+1
		if i >= n {
			if !allEqual(tile(g, c, orig), background) || !allEqual(tile(g, c, recon), background) {
				t.Errorf("unused slot %d is not background grey", i)
			}
			continue
		}
		got := tile(g, c, orig)
		bin := test.Binary[i*data.Pixels : (i+1)*data.Pixels]
		diff := 0
		for j, v := range bin {
			if want := uint8(255 * float32(v)); got[j] != want {
				if diff == 0 {
					t.Errorf("original %d: pixel (%d,%d) = %d, want %d", i, j%side, j/side, got[j], want)
				}
				diff++
			}
		}
		if diff > 0 {
			t.Errorf("original %d: %d of %d pixels differ from the fixed binarization", i, diff, len(bin))
		}
		if lo, hi := minMax(tile(g, c, recon)); hi-lo < 8 {
			t.Errorf("reconstruction %d has levels %d..%d, want decoded means that vary", i, lo, hi)
		}
	}
	wantGaps(t, g)
}

// TestRunBadCheckpoint checks that a checkpoint that cannot be used gives
// exit status 1 with one line on stderr saying why, no panic, nothing on
// stdout and no output PNG.
func TestRunBadCheckpoint(t *testing.T) {
	tests := []struct {
		name string
		// make writes the bad checkpoint under dir, next to the valid one
		// at good, and returns the -ckpt value.
		make func(t *testing.T, dir, good string, st *train.State) string
		want []string // substrings of the message; "PATH" is the -ckpt value
	}{
		{
			name: "missing file",
			make: func(t *testing.T, dir, _ string, _ *train.State) string {
				return filepath.Join(dir, "nowhere", "model.ckpt")
			},
			want: []string{"PATH", "no such file"},
		},
		{
			name: "missing folder",
			make: func(t *testing.T, dir, _ string, _ *train.State) string {
				return filepath.Join(dir, "no-run")
			},
			want: []string{"PATH", "no such file"},
		},
		{
			name: "empty file",
			make: func(t *testing.T, dir, _ string, _ *train.State) string {
				return writeFile(t, dir, nil)
			},
			want: []string{"PATH", "truncated"},
		},
		{
			name: "truncated to half",
			make: func(t *testing.T, dir, good string, _ *train.State) string {
				b := readFile(t, good)
				return writeFile(t, dir, b[:len(b)/2])
			},
			want: []string{"PATH", "truncated"},
		},
		{
			name: "one byte flipped",
			make: func(t *testing.T, dir, good string, _ *train.State) string {
				b := readFile(t, good)
				b[len(b)/2] ^= 0x01
				return writeFile(t, dir, b)
			},
			want: []string{"PATH", "checksum"},
		},
		{
			name: "trailing byte",
			make: func(t *testing.T, dir, good string, _ *train.State) string {
				return writeFile(t, dir, append(readFile(t, good), 0))
			},
			want: []string{"PATH", "trailing"},
		},
		{
			name: "a PNG",
			make: func(t *testing.T, dir, _ string, _ *train.State) string {
				var buf bytes.Buffer
				if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 28, 28))); err != nil {
					t.Fatal(err)
				}
				return writeFile(t, dir, buf.Bytes())
			},
			want: []string{"PATH", "not a checkpoint"},
		},
		{
			name: "random bytes",
			make: func(t *testing.T, dir, _ string, _ *train.State) string {
				b := make([]byte, 4096)
				rng := rand.New(rand.NewPCG(1, 2))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				return writeFile(t, dir, b)
			},
			want: []string{"PATH", "not a checkpoint"},
		},
		{
			name: "config K=5 over K=4 tensors",
			make: func(t *testing.T, dir, good string, _ *train.State) string {
				f := decodeFile(t, good)
				cfg := tinyConfig(dir)
				cfg.Model.K = 5
				f.Config = marshal(t, cfg)
				return encodeFile(t, dir, f)
			},
			want: []string{"PATH", "shape"},
		},
		{
			name: "config with a third hidden layer",
			make: func(t *testing.T, dir, good string, _ *train.State) string {
				f := decodeFile(t, good)
				cfg := tinyConfig(dir)
				cfg.Model.Hidden = []int{16, 8, 8}
				f.Config = marshal(t, cfg)
				return encodeFile(t, dir, f)
			},
			want: []string{"PATH", "tensor"},
		},
		{
			name: "tensor missing",
			make: func(t *testing.T, dir, good string, st *train.State) string {
				f := decodeFile(t, good)
				name := "param/" + st.Params.Names[len(st.Params.Names)-1]
				kept := f.Tensors[:0]
				for _, ts := range f.Tensors {
					if ts.Name != name {
						kept = append(kept, ts)
					}
				}
				if len(kept) != len(f.Tensors)-1 {
					t.Fatalf("checkpoint has no tensor %s", name)
				}
				f.Tensors = kept
				return encodeFile(t, dir, f)
			},
			want: []string{"PATH", "no such tensor"},
		},
		{
			name: "config not JSON",
			make: func(t *testing.T, dir, good string, _ *train.State) string {
				f := decodeFile(t, good)
				f.Config = []byte("{model")
				return encodeFile(t, dir, f)
			},
			want: []string{"PATH", "config"},
		},
		{
			name: "config with K=1",
			make: func(t *testing.T, dir, good string, _ *train.State) string {
				f := decodeFile(t, good)
				cfg := tinyConfig(dir)
				cfg.Model.K = 1
				f.Config = marshal(t, cfg)
				return encodeFile(t, dir, f)
			},
			want: []string{"PATH", "k 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			good, st := newCheckpoint(t, dir)
			ckpt := tt.make(t, t.TempDir(), good, st)
			out := filepath.Join(t.TempDir(), "out.png")
			r := runSample(t, "-ckpt", ckpt, "-out", out)
			if r.code != cli.ExitFailure {
				t.Errorf("exit status %d, want %d (stderr %q)", r.code, cli.ExitFailure, r.stderr)
			}
			wantOneLine(t, r.stderr)
			for _, w := range tt.want {
				if w == "PATH" {
					w = ckpt
				}
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not contain %q", r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			wantNoFile(t, out)
		})
	}
}

// TestRunUsageErrors checks that bad flags give exit status 2 with one
// line on stderr naming the flag or argument, and that nothing is written,
// even though the checkpoint is valid.
func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	newCheckpoint(t, dir)
	tests := []struct {
		name string
		args []string
		want string // a substring of the message
	}{
		{"mode foo", []string{"-mode", "foo"}, "-mode"},
		{"n 0", []string{"-n", "0"}, "-n 0"},
		{"n negative", []string{"-n", "-3"}, "-n -3"},
		{"n 5000", []string{"-n", "5000"}, "-n 5000"},
		{"n 1025", []string{"-n", "1025"}, "-n 1025"},
		{"n not a number", []string{"-n", "ten"}, "-n"},
		{"seed negative", []string{"-seed", "-1"}, "-seed"},
		{"unknown flag", []string{"-bogus"}, "-bogus"},
		{"positional argument", []string{"extra"}, `"extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{"-ckpt", dir, "-out", out}, tt.args...)
			r := runSample(t, args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit status %d, want %d (stderr %q)", r.code, cli.ExitUsage, r.stderr)
			}
			wantOneLine(t, r.stderr)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			wantNoFile(t, out)
		})
	}
	t.Run("out empty", func(t *testing.T) {
		r := runSample(t, "-ckpt", dir, "-out", "")
		if r.code != cli.ExitUsage {
			t.Errorf("exit status %d, want %d (stderr %q)", r.code, cli.ExitUsage, r.stderr)
		}
		wantOneLine(t, r.stderr)
		if !regexp.MustCompile(`(^|\s)-out\b`).MatchString(r.stderr) {
			t.Errorf("stderr %q does not name -out", r.stderr)
		}
	})
}

// TestRunHelp checks that -h exits 0, writes nothing to stderr and lists
// every flag.
func TestRunHelp(t *testing.T) {
	r := runSample(t, "-h")
	if r.code != cli.ExitOK {
		t.Errorf("exit status %d, want 0", r.code)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.stderr)
	}
	for _, name := range []string{"ckpt", "mode", "n", "seed", "out", "data"} {
		if !regexp.MustCompile(`(?m)^\s+-` + name + `\b`).MatchString(r.stdout) {
			t.Errorf("help output does not list -%s:\n%s", name, r.stdout)
		}
	}
}

// wantGaps fails unless the border and the lines between the tiles of g
// are background grey.
func wantGaps(t *testing.T, g *image.Gray) {
	t.Helper()
	b := g.Bounds()
	bad := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			inTile := (x-gap)%(side+gap) < side && (y-gap)%(side+gap) < side && x >= gap && y >= gap
			if !inTile && g.GrayAt(x, y).Y != background {
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d gap pixels are not background grey %d", bad, background)
	}
}

// wantNoFile fails unless path does not exist.
func wantNoFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s: Stat error %v, want no such file", path, err)
	}
}

// minMax returns the lowest and highest value of pix.
func minMax(pix []uint8) (lo, hi uint8) {
	lo, hi = 255, 0
	for _, p := range pix {
		lo, hi = min(lo, p), max(hi, p)
	}
	return lo, hi
}

// readFile returns the content of path.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile writes b to dir/bad.ckpt and returns that path.
func writeFile(t *testing.T, dir string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, "bad.ckpt")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// decodeFile loads the checkpoint content at path.
func decodeFile(t *testing.T, path string) *checkpoint.File {
	t.Helper()
	f, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// encodeFile writes f, a well-formed checkpoint, to dir/bad.ckpt and
// returns that path.
func encodeFile(t *testing.T, dir string, f *checkpoint.File) string {
	t.Helper()
	var buf bytes.Buffer
	if err := checkpoint.Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, buf.Bytes())
}

// marshal encodes cfg as JSON.
func marshal(t *testing.T, cfg train.Config) []byte {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryModelKindSamples checks that the modes of each task work for
// checkpoints of every latent kind, prior and estimator family (nvil's has
// the extra baseline network): prior and recon for the VAE, complete for
// the SBN; each run exits 0 and writes a PNG.
func TestEveryModelKindSamples(t *testing.T) {
	for _, tc := range []struct {
		name, task, latent, prior, estimator string
	}{
		{"bernoulli learned nvil", model.TaskVAE, model.LatentBernoulli, model.PriorLearned, estimator.NVIL},
		{"bernoulli uniform gs", model.TaskVAE, model.LatentBernoulli, model.PriorUniform, estimator.GS},
		{"categorical learned muprop", model.TaskVAE, model.LatentCategorical, model.PriorLearned, estimator.MuProp},
		{"sbn bernoulli nvil", model.TaskSBN, model.LatentBernoulli, model.PriorUniform, estimator.NVIL},
		{"sbn categorical darn", model.TaskSBN, model.LatentCategorical, model.PriorUniform, estimator.DARN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tinyConfig(dir)
			cfg.Model.Task, cfg.Model.Kind, cfg.Model.Prior = tc.task, tc.latent, tc.prior
			if tc.latent == model.LatentBernoulli {
				cfg.Model.K = 2
			}
			modes := []string{"prior", "recon"}
			if tc.task == model.TaskSBN {
				cfg.Model.Hidden, modes = []int{}, []string{"complete"}
			}
			cfg = cfg.WithEstimator(tc.estimator)
			st, err := train.NewState(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Save(filepath.Join(dir, train.CheckpointFile)); err != nil {
				t.Fatal(err)
			}
			for _, mode := range modes {
				out := filepath.Join(t.TempDir(), mode+".png")
				r := runSample(t, "-ckpt", dir, "-mode", mode, "-n", "4", "-out", out)
				if r.code != cli.ExitOK {
					t.Fatalf("-mode %s: exit status %d (stderr %q)", mode, r.code, r.stderr)
				}
				readPNG(t, out)
			}
		})
	}
}
