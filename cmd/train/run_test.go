package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gsvae/internal/cli"
	"gsvae/model"
	"gsvae/train"
)

// result is what one invocation of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// runTrain runs the command with args under ctx the way cli.Main does and
// returns its exit status and output.
func runTrain(ctx context.Context, t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr)
	code := cli.Report("train", err, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// namesFlag reports whether msg mentions the flag -name as a whole word, so
// that "-tau0" does not count as naming "-tau" and "-N" is not found inside
// "-Nx".
func namesFlag(msg, name string) bool {
	return regexp.MustCompile(`(^|[^\w-])-` + regexp.QuoteMeta(name) + `($|[^\w-])`).MatchString(msg)
}

// wantOneLine fails unless s is exactly one newline-terminated line
// starting with "train: ", as cli.Report writes it.
func wantOneLine(t *testing.T, s string) {
	t.Helper()
	if !strings.HasPrefix(s, "train: ") || !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("stderr = %q, want exactly one line starting with \"train: \"", s)
	}
}

// tinyArgs are the flags of a run small enough to train in well under a
// second: 200 images, 4 steps of batch 50, a 3x4 latent and layers 16 and 8.
func tinyArgs(out string) []string {
	return []string{"-epochs", "1", "-limit", "200", "-batch", "50", "-N", "3", "-K", "4", "-hidden", "16,8", "-out", out}
}

// TestRunUsageErrors checks that every invalid flag value or combination
// (the settings train.Config.Validate refuses, by the flag that sets them),
// unknown flag, positional argument and an -out that is a regular file
// gives exit status 2 with exactly one line on stderr naming the culprit,
// and does no work:
// the -out folder is not created (or the file given as -out is untouched)
// and nothing is printed on stdout.
func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		flag string // the flag the message must name, without its dash
		want string // else a substring the message must contain
	}{
		{name: "epochs 0", args: []string{"-epochs", "0"}, flag: "epochs"},
		{name: "batch 0", args: []string{"-batch", "0"}, flag: "batch"},
		{name: "K 1", args: []string{"-K", "1"}, flag: "K"},
		{name: "N 0", args: []string{"-N", "0"}, flag: "N"},
		{name: "tau0 0", args: []string{"-tau0", "0"}, flag: "tau0"},
		{name: "tau0 negative", args: []string{"-tau0", "-1"}, flag: "tau0"},
		{name: "tau-min 0", args: []string{"-tau-min", "0"}, flag: "tau-min"},
		{name: "tau-min above tau0", args: []string{"-tau-min", "2", "-tau0", "1"}, flag: "tau-min"},
		{name: "lr 0", args: []string{"-lr", "0"}, flag: "lr"},
		{name: "lr negative", args: []string{"-lr", "-1"}, flag: "lr"},
		{name: "lr NaN", args: []string{"-lr", "NaN"}, flag: "lr"},
		{name: "binarize foo", args: []string{"-binarize", "foo"}, flag: "binarize"},
		{name: "anneal-every 0", args: []string{"-anneal-every", "0"}, flag: "anneal-every"},
		{name: "limit negative", args: []string{"-limit", "-1"}, flag: "limit"},
		{name: "hidden 0", args: []string{"-hidden", "0"}, flag: "hidden"},
		{name: "hidden not a number", args: []string{"-hidden", "abc"}, flag: "hidden"},
		{name: "unknown flag", args: []string{"-bogus", "1"}, flag: "bogus"},
		{name: "positional argument", args: []string{"extra"}, want: `"extra"`},
		{name: "out is a file", args: []string{"-out", "FILE"}, flag: "out"},
		{name: "estimator unknown", args: []string{"-estimator", "rebar"}, want: "gs, st-gs, st, annealed-st, sf, nvil, muprop, darn"},
		{name: "relaxed KL with sf", args: []string{"-estimator", "sf", "-kl", "relaxed"}, flag: "kl", want: "estimator gs or st-gs only"},
		{name: "hard with sf", args: []string{"-hard", "-estimator", "sf"}, want: "-hard means -estimator st-gs"},
		{name: "latent unknown", args: []string{"-latent", "gaussian"}, want: "want categorical or bernoulli"},
		{name: "bernoulli with K 3", args: []string{"-latent", "bernoulli", "-K", "3"}, flag: "K"},
		{name: "task unknown", args: []string{"-task", "bogus"}, flag: "task", want: "want vae or sbn"},
		{name: "sbn with a learned prior", args: []string{"-task", "sbn", "-prior", "learned"}, flag: "prior"},
		{name: "sbn with hidden layers", args: []string{"-task", "sbn", "-hidden", "16"}, flag: "hidden"},
		{name: "sbn with the relaxed KL", args: []string{"-task", "sbn", "-kl", "relaxed"}, flag: "kl"},
		{name: "prior unknown", args: []string{"-prior", "beta"}, flag: "prior"},
		{name: "learned prior with the relaxed KL", args: []string{"-prior", "learned", "-kl", "relaxed"}, flag: "kl"},
		{name: "kl unknown", args: []string{"-kl", "exact"}, flag: "kl"},
		{name: "prior-tau 0", args: []string{"-kl", "relaxed", "-prior-tau", "0"}, flag: "prior-tau"},
		{name: "optimizer unknown", args: []string{"-optimizer", "rmsprop"}, flag: "optimizer"},
		{name: "anneal-rate negative", args: []string{"-anneal-rate", "-1"}, flag: "anneal-rate"},
		{name: "limit above the training set", args: []string{"-limit", "50001"}, flag: "limit"},
		{name: "batch 10001", args: []string{"-batch", "10001"}, flag: "batch"},
		{name: "track-gradvar negative", args: []string{"-track-gradvar", "-1"}, flag: "track-gradvar"},
		{name: "track-draws 1", args: []string{"-track-gradvar", "1", "-track-draws", "1"}, flag: "track-draws"},
		{name: "hidden too wide", args: []string{"-hidden", "70000"}, flag: "hidden"},
		{name: "N times K too wide", args: []string{"-N", "1000", "-K", "100"}, flag: "N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(tmp, "run")
			file := filepath.Join(tmp, "file")
			const content = "not a folder\n"
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{}, tt.args...)
			outGiven := false
			for i := range args {
				if args[i] == "FILE" {
					args[i], outGiven = file, true
				}
			}
			if !outGiven {
				args = append([]string{"-out", out}, args...)
			}

			r := runTrain(context.Background(), t, args...)

			if r.code != cli.ExitUsage {
				t.Errorf("exit status %d, want %d (stderr %q)", r.code, cli.ExitUsage, r.stderr)
			}
			wantOneLine(t, r.stderr)
			if tt.flag != "" && !namesFlag(r.stderr, tt.flag) {
				t.Errorf("stderr %q does not name -%s", r.stderr, tt.flag)
			}
			if tt.want != "" && !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("-out folder %s: Stat error %v, want it not created", out, err)
			}
			if b, err := os.ReadFile(file); err != nil || string(b) != content {
				t.Errorf("file %s changed: %q, %v", file, b, err)
			}
		})
	}
}

// TestRunHelp checks that -h exits 0 without an error message and that its
// output describes every flag the command defines.
func TestRunHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help"} {
		t.Run(arg, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			r := runTrain(context.Background(), t, arg, "-out", out)
			if r.code != cli.ExitOK {
				t.Errorf("exit status %d, want 0", r.code)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			if !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("help output lacks the usage text:\n%s", r.stdout)
			}
			cfg := train.Defaults()
			var resume bool
			n := 0
			newFlags(&cfg, &resume).VisitAll(func(f *flag.Flag) {
				n++
				if !namesFlag(r.stdout, f.Name) {
					t.Errorf("help output does not mention -%s:\n%s", f.Name, r.stdout)
				}
			})
			if n < 17 {
				t.Errorf("newFlags defines %d flags, want at least 17", n)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("-h created %s (Stat error %v)", out, err)
			}
		})
	}
}

// TestRunTrainAndResume trains a tiny model for one epoch and then, on the
// same folder, checks in order: that a second fresh run is refused with a
// pointer to -resume, that -resume -epochs 2 trains exactly one more epoch,
// that -resume refuses a changed architecture flag but accepts repeated
// identical ones, and that -resume with every epoch done does nothing.
func TestRunTrainAndResume(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, train.CheckpointFile)
	steps := []struct {
		name   string
		args   []string
		code   int
		epochs int  // metrics.jsonl lines (and checkpoint epoch) afterwards
		saves  bool // whether the step writes model.ckpt
		check  func(t *testing.T, r result)
	}{
		{
			name: "fresh run", args: tinyArgs(dir), code: cli.ExitOK, epochs: 1, saves: true,
			check: func(t *testing.T, r result) {
				wantEpochLine(t, r.stdout, 1)
				var cfg train.Config
				b, err := os.ReadFile(filepath.Join(dir, train.ConfigFile))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &cfg); err != nil {
					t.Fatalf("config.json: %v", err)
				}
				if cfg.Model.N != 3 || cfg.Model.K != 4 || !slices.Equal(cfg.Model.Hidden, []int{16, 8}) || cfg.Epochs != 1 || cfg.Batch != 50 || cfg.Limit != 200 || cfg.Out != dir {
					t.Errorf("config.json = %+v, want the flags of the run", cfg)
				}
			},
		},
		{
			name: "fresh run again", args: tinyArgs(dir), code: cli.ExitFailure, epochs: 1,
			check: func(t *testing.T, r result) {
				wantOneLine(t, r.stderr)
				if !namesFlag(r.stderr, "resume") {
					t.Errorf("stderr %q does not mention -resume", r.stderr)
				}
			},
		},
		{
			name: "resume to epoch 2", args: []string{"-resume", "-out", dir, "-epochs", "2"}, code: cli.ExitOK, epochs: 2, saves: true,
			check: func(t *testing.T, r result) {
				wantEpochLine(t, r.stdout, 2)
				if strings.Contains(r.stdout, "epoch   1/") {
					t.Errorf("resume retrained epoch 1:\n%s", r.stdout)
				}
			},
		},
		{
			name: "resume with another K", args: []string{"-resume", "-out", dir, "-K", "5"}, code: cli.ExitUsage, epochs: 2,
			check: func(t *testing.T, r result) {
				wantOneLine(t, r.stderr)
				if !namesFlag(r.stderr, "K") {
					t.Errorf("stderr %q does not name -K", r.stderr)
				}
			},
		},
		{
			name: "resume with every epoch done", args: []string{"-resume", "-out", dir}, code: cli.ExitOK, epochs: 2,
			check: wantNothingToDo,
		},
		{
			name: "resume repeating saved flags", args: []string{"-resume", "-out", dir, "-K", "4", "-N", "3", "-hidden", "16,8", "-batch", "50"}, code: cli.ExitOK, epochs: 2,
			check: wantNothingToDo,
		},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			before, _ := os.ReadFile(ckpt)
			r := runTrain(context.Background(), t, s.args...)
			if r.code != s.code {
				t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, s.code, r.stdout, r.stderr)
			}
			s.check(t, r)
			wantMetrics(t, filepath.Join(dir, train.MetricsFile), s.epochs)
			st, err := train.Load(ckpt)
			if err != nil {
				t.Fatalf("load the checkpoint: %v", err)
			}
			// 200 images in batches of 50: 4 steps per epoch.
			if st.Epoch != s.epochs || st.Step != 4*s.epochs {
				t.Errorf("checkpoint at epoch %d, step %d; want %d, %d", st.Epoch, st.Step, s.epochs, 4*s.epochs)
			}
			after, _ := os.ReadFile(ckpt)
			if changed := !bytes.Equal(before, after); changed != s.saves {
				t.Errorf("model.ckpt changed = %v, want %v", changed, s.saves)
			}
		})
		if !ok {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

// TestRunCancelled checks that a run whose context is already cancelled
// exits with status 130, saves its position (step 0) to model.ckpt, says
// how to resume, and writes no metrics, since no epoch completed.
func TestRunCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := runTrain(ctx, t, tinyArgs(dir)...)
	if r.code != cli.ExitInterrupted {
		t.Errorf("exit status %d, want %d (stderr %q)", r.code, cli.ExitInterrupted, r.stderr)
	}
	if !strings.Contains(r.stderr, "train: ") || !strings.Contains(r.stderr, "interrupted") {
		t.Errorf("stderr %q lacks the interruption message", r.stderr)
	}
	if !strings.Contains(r.stdout, "resume with: train -resume -out "+dir) {
		t.Errorf("stdout %q does not say how to resume", r.stdout)
	}
	// The position reached (no update yet) is saved; no epoch completed.
	st, err := train.Load(filepath.Join(dir, train.CheckpointFile))
	if err != nil {
		t.Fatalf("no usable checkpoint after the interruption: %v", err)
	}
	if st.Step != 0 || st.Epoch != 0 {
		t.Errorf("checkpoint at epoch %d step %d, want 0 and 0", st.Epoch, st.Step)
	}
	if _, err := os.Stat(filepath.Join(dir, train.MetricsFile)); !os.IsNotExist(err) {
		t.Errorf("%s: Stat error %v, want it not written", train.MetricsFile, err)
	}
}

// wantEpochLine fails unless stdout has a line starting with "epoch" for
// epoch e.
func wantEpochLine(t *testing.T, stdout string, e int) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^epoch +` + strconv.Itoa(e) + `/`)
	if !re.MatchString(stdout) {
		t.Errorf("stdout has no line starting with \"epoch %d/\":\n%s", e, stdout)
	}
}

// wantNothingToDo fails unless a resume reported that it had nothing to do
// and trained nothing.
func wantNothingToDo(t *testing.T, r result) {
	t.Helper()
	if !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("stdout %q does not say there is nothing to do", r.stdout)
	}
	if regexp.MustCompile(`(?m)^epoch`).MatchString(r.stdout) {
		t.Errorf("stdout shows a trained epoch:\n%s", r.stdout)
	}
}

// wantMetrics fails unless path holds exactly n JSON lines for epochs 1..n,
// each with the documented keys, increasing steps and finite losses.
func wantMetrics(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s line %d: %v: %s", path, len(lines)+1, err, sc.Text())
		}
		lines = append(lines, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) != n {
		t.Fatalf("%s has %d lines, want %d", path, len(lines), n)
	}
	for i, m := range lines {
		for _, key := range []string{"epoch", "step", "tau", "train_neg_elbo", "valid_neg_elbo", "seconds"} {
			v, ok := m[key].(float64)
			if !ok {
				t.Errorf("line %d: key %q is %v, want a number", i+1, key, m[key])
				continue
			}
			if key == "train_neg_elbo" || key == "valid_neg_elbo" {
				// A -ELBO of binary images is positive: at most 784 ln 2 per
				// image for a uniform decoder, more for a random one.
				if !(v > 0 && v < 1e5) {
					t.Errorf("line %d: %s = %v, want a positive finite value", i+1, key, v)
				}
			}
		}
		if m["epoch"] != float64(i+1) {
			t.Errorf("line %d: epoch %v, want %d", i+1, m["epoch"], i+1)
		}
		if m["step"] != float64(4*(i+1)) {
			t.Errorf("line %d: step %v, want %d", i+1, m["step"], 4*(i+1))
		}
	}
}

// TestRunLinear checks that -hidden none trains the paper's linear VAE
// (one weight matrix and bias each way) and that a resume repeating
// -hidden none is accepted as the saved setting.
func TestRunLinear(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"-epochs", "1", "-limit", "200", "-batch", "50", "-N", "3", "-K", "4", "-hidden", "none", "-out", dir}
	if r := runTrain(context.Background(), t, args...); r.code != cli.ExitOK {
		t.Fatalf("exit status %d\nstderr:\n%s", r.code, r.stderr)
	}
	st, err := train.Load(filepath.Join(dir, train.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Config.Model.Hidden) != 0 || len(st.Params.Tensors) != 4 {
		t.Errorf("hidden %v and %d parameter tensors, want none and 4 (enc0.w, enc0.b, dec0.w, dec0.b)", st.Config.Model.Hidden, len(st.Params.Tensors))
	}
	r := runTrain(context.Background(), t, "-resume", "-out", dir, "-hidden", "none")
	if r.code != cli.ExitOK {
		t.Errorf("resume repeating -hidden none: exit status %d, stderr %q", r.code, r.stderr)
	}
}

// countdown is a context that reports cancellation from its n-th Err call
// on: training checks Err before every update, so n = 2 stops a run after
// its second update.
type countdown struct {
	context.Context
	n int
}

func (c *countdown) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// sbnArgs are the flags of a tiny SBN run: 392-(3x4)-(3x4)-392 on 200
// images, 4 updates of 50 per epoch, with the score-function estimator
// nvil, whose moving averages and baseline network a resume must restore.
func sbnArgs(out string) []string {
	return []string{"-task", "sbn", "-estimator", "nvil", "-epochs", "1", "-limit", "200", "-batch", "50", "-N", "3", "-K", "4", "-out", out}
}

// TestRunSBNInterruptedAndResumed trains the tiny SBN of sbnArgs straight,
// and again interrupted after 2 updates: the interrupted run must exit
// with status 130, end stderr with the interruption and print on stdout
// where it stopped and the line "resume with: train -resume -out DIR";
// train -resume -out DIR must then
// finish the epoch with the straight run's weights, optimiser moments,
// moving averages and metrics, bit for bit. The checkpoint must hold the
// SBN's layers (h1, h2, xl, and nvil's baseline) and no hidden layers,
// since -task sbn has none unless -hidden says otherwise.
func TestRunSBNInterruptedAndResumed(t *testing.T) {
	straight, split := t.TempDir(), t.TempDir()
	if r := runTrain(context.Background(), t, sbnArgs(straight)...); r.code != cli.ExitOK {
		t.Fatalf("straight run: exit status %d\nstderr:\n%s", r.code, r.stderr)
	}
	r := runTrain(&countdown{context.Background(), 2}, t, sbnArgs(split)...)
	if r.code != cli.ExitInterrupted {
		t.Fatalf("interrupted run: exit status %d, want %d\nstderr:\n%s", r.code, cli.ExitInterrupted, r.stderr)
	}
	ckpt := filepath.Join(split, train.CheckpointFile)
	for _, want := range []string{
		"interrupted at step 2 (epoch 1, 100 of 200 images done); saved " + ckpt + "\n",
		"resume with: train -resume -out " + split + "\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	// stderr holds the progress bar's lines, then cli.Report's.
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); !strings.HasPrefix(lines[len(lines)-1], "train: interrupted at step 2") || !strings.HasSuffix(r.stderr, "context canceled\n") {
		t.Errorf("stderr does not end with the interruption:\n%s", r.stderr)
	}
	if r := runTrain(context.Background(), t, "-resume", "-out", split); r.code != cli.ExitOK {
		t.Fatalf("resume: exit status %d\nstderr:\n%s", r.code, r.stderr)
	}
	a, err := train.Load(filepath.Join(straight, train.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := train.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Config.Model; !m.SBN() || len(m.Hidden) != 0 || m.Baseline == 0 {
		t.Errorf("model %+v, want the SBN with no hidden layers and a baseline network", m)
	}
	if want := []string{"h1.w", "h1.b", "h2.w", "h2.b", "xl.w", "xl.b", "base0.w", "base0.b", "base1.w", "base1.b"}; !slices.Equal(b.Params.Names, want) {
		t.Errorf("parameters %v, want %v", b.Params.Names, want)
	}
	if a.Step != 4 || b.Step != 4 || !slices.Equal(a.Stats, b.Stats) {
		t.Errorf("steps %d and %d, moving averages %+v and %+v; want 4 and equal", a.Step, b.Step, a.Stats, b.Stats)
	}
	for i, name := range a.Params.Names {
		for _, pair := range [][2][]float32{
			{a.Params.Tensors[i].Float32s(), b.Params.Tensors[i].Float32s()},
			{a.Opt.M[i], b.Opt.M[i]}, {a.Opt.V[i], b.Opt.V[i]},
		} {
			if !slices.Equal(pair[0], pair[1]) {
				t.Fatalf("%s differs between the straight and the resumed run", name)
			}
		}
	}
	ma, mb := metricsLines(t, straight), metricsLines(t, split)
	if len(ma) != 1 || !slices.Equal(ma, mb) {
		t.Errorf("metrics differ:\n%v\n%v", ma, mb)
	}
}

// metricsLines returns the lines of dir's metrics.jsonl without the
// timings, which differ between runs.
func metricsLines(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "seconds")
		delete(m, "steps_per_sec")
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(js))
	}
	return out
}

// TestEverySettingNamesAFlag checks that every setting a
// *model.SettingError of train.Config.Validate can name (every JSON key of
// train.Config and model.Config) turns, through flagOf, into a flag that
// train defines, so that a usage error always names something the user can
// type.
func TestEverySettingNamesAFlag(t *testing.T) {
	cfg := train.Defaults()
	var resume bool
	fs := newFlags(&cfg, &resume)
	for _, typ := range []reflect.Type{reflect.TypeFor[train.Config](), reflect.TypeFor[model.Config]()} {
		for f := range typ.Fields() {
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if key == "" || key == "model" { // the nested model.Config
				continue
			}
			name, ok := flagOf[key]
			if !ok {
				name = key
			}
			if fs.Lookup(name) == nil {
				t.Errorf("setting %q (%s.%s) maps to -%s, which train does not define", key, typ.Name(), f.Name, name)
			}
		}
	}
}

// TestRunAcceptedSettings checks flag combinations that must pass
// validation, each under a cancelled context, so that the run stops (exit
// status 130, not 2) before its first update, having written config.json
// with the settings resolved: -hidden none gives the linear VAE, -task sbn
// has no hidden layers whether or not -hidden none says so, and -latent
// bernoulli sets N = 200 and K = 2 for the SBN as for the VAE.
func TestRunAcceptedSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want model.Config
	}{
		{"hidden none", []string{"-hidden", "none"}, model.Config{Task: model.TaskVAE, N: 20, K: 10, Hidden: []int{}}},
		{"sbn", []string{"-task", "sbn"}, model.Config{Task: model.TaskSBN, N: 20, K: 10, Hidden: []int{}}},
		{"sbn hidden none", []string{"-task", "sbn", "-hidden", "none"}, model.Config{Task: model.TaskSBN, N: 20, K: 10, Hidden: []int{}}},
		{"sbn bernoulli", []string{"-task", "sbn", "-latent", "bernoulli"}, model.Config{Task: model.TaskSBN, N: BernoulliN, K: 2, Hidden: []int{}, Kind: model.LatentBernoulli}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			r := runTrain(ctx, t, append([]string{"-limit", "100", "-out", dir}, tc.args...)...)
			if r.code != cli.ExitInterrupted {
				t.Fatalf("exit status %d, want %d (stderr %q)", r.code, cli.ExitInterrupted, r.stderr)
			}
			b, err := os.ReadFile(filepath.Join(dir, train.ConfigFile))
			if err != nil {
				t.Fatal(err)
			}
			var cfg train.Config
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			m := cfg.Model.WithDefaults()
			if m.Task != tc.want.Task || m.N != tc.want.N || m.K != tc.want.K || !slices.Equal(m.Hidden, tc.want.Hidden) || m.Kind != tc.want.WithDefaults().Kind {
				t.Errorf("model %+v, want %+v", m, tc.want)
			}
		})
	}
}
