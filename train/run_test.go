package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gsvae/checkpoint"
	"gsvae/data"
	"gsvae/estimator"
	"gsvae/model"
)

// tinyConfig is a run small enough for unit tests: a 784-16-8-(3x4) model
// on 200 images, 4 updates per epoch.
func tinyConfig(t *testing.T) Config {
	cfg := Defaults()
	cfg.Model = model.Config{N: 3, K: 4, Hidden: []int{16, 8}, Input: model.Pixels}
	cfg.Limit, cfg.Batch, cfg.Epochs = 200, 50, 2
	cfg.Out, cfg.Data = t.TempDir(), rawData(t)
	return cfg
}

// tinySBN is a two-layer belief network small enough for unit tests:
// 392-(3x4)-(3x4)-392.
var tinySBN = model.Config{Task: model.TaskSBN, N: 3, K: 4, Hidden: []int{}, Input: model.Pixels}

var quiet = Output{Log: new(bytes.Buffer)}

// readMetrics returns the lines of metrics.jsonl without their timings.
func readMetrics(t *testing.T, dir string) []Metrics {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ms []Metrics
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m Metrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		m.Seconds, m.StepsPerSec = 0, 0
		ms = append(ms, m)
	}
	return ms
}

// stateDiff describes the first difference between two states in what a
// resumed run must reproduce bit for bit: the weights, the optimiser's
// moments and step count, the counters, the epoch's loss sums, the best
// validation bound and the estimators' moving averages. It returns "" for
// identical states.
func stateDiff(a, b *State) string {
	switch {
	case a.Step != b.Step || a.Epoch != b.Epoch || a.Opt.T != b.Opt.T:
		return fmt.Sprintf("step %d, epoch %d, optimiser step %d against %d, %d, %d", a.Step, a.Epoch, a.Opt.T, b.Step, b.Epoch, b.Opt.T)
	case (a.Opt.V == nil) != (b.Opt.V == nil):
		return "one optimiser has second moments, the other none"
	case math.Float64bits(a.EpochLoss) != math.Float64bits(b.EpochLoss) || a.EpochImages != b.EpochImages:
		return fmt.Sprintf("epoch loss %v over %d images against %v over %d", a.EpochLoss, a.EpochImages, b.EpochLoss, b.EpochImages)
	case math.Float64bits(a.BestValid) != math.Float64bits(b.BestValid):
		return fmt.Sprintf("best validation bound %v against %v", a.BestValid, b.BestValid)
	case !slices.Equal(a.Stats, b.Stats):
		return fmt.Sprintf("moving averages %+v against %+v", a.Stats, b.Stats)
	}
	for i := range a.Params.Tensors {
		pairs := []struct {
			what string
			a, b []float32
		}{
			{"weights", a.Params.Tensors[i].Float32s(), b.Params.Tensors[i].Float32s()},
			{"first moments", a.Opt.M[i], b.Opt.M[i]},
		}
		if a.Opt.V != nil {
			pairs = append(pairs, struct {
				what string
				a, b []float32
			}{"second moments", a.Opt.V[i], b.Opt.V[i]})
		}
		for _, pair := range pairs {
			for j := range pair.a {
				if math.Float32bits(pair.a[j]) != math.Float32bits(pair.b[j]) {
					return fmt.Sprintf("%s of %s [%d]: %v against %v", pair.what, a.Params.Names[i], j, pair.a[j], pair.b[j])
				}
			}
		}
	}
	return ""
}

// sameBits reports whether two states are identical in the sense of
// stateDiff.
func sameBits(a, b *State) bool { return stateDiff(a, b) == "" }

func loadRun(t *testing.T, dir string) *State {
	t.Helper()
	st, err := Load(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSameSeedSameModel checks determinism (with either BLAS): two runs of
// one epoch with one seed give bit-identical weights and identical
// metrics, and another seed gives different weights.
func TestSameSeedSameModel(t *testing.T) {
	a, b, c := tinyConfig(t), tinyConfig(t), tinyConfig(t)
	c.Seed = 2
	for _, cfg := range []*Config{&a, &b, &c} {
		cfg.Epochs = 1
	}
	for _, cfg := range []Config{a, b, c} {
		if err := Run(context.Background(), cfg, quiet); err != nil {
			t.Fatal(err)
		}
	}
	if !sameBits(loadRun(t, a.Out), loadRun(t, b.Out)) {
		t.Error("two runs with seed 1 differ")
	}
	if ma, mb := readMetrics(t, a.Out), readMetrics(t, b.Out); !slices.Equal(ma, mb) {
		t.Errorf("metrics differ:\n%+v\n%+v", ma, mb)
	}
	if sameBits(loadRun(t, a.Out), loadRun(t, c.Out)) {
		t.Error("seeds 1 and 2 gave the same weights")
	}
}

// TestResumeMatchesStraightRun trains 2 epochs straight, and 1 epoch then a
// resume for 1 more, with Adam and with momentum: weights, optimiser state
// and metrics must be bit-identical, because the checkpoint carries the
// random stream. (Dynamic binarization, whose draws come from that
// stream, is resumed at an epoch boundary by the "validating epoch 1"
// case of TestInterruptedRunResumesExactly.)
func TestResumeMatchesStraightRun(t *testing.T) {
	for _, tc := range []struct{ bin, opt string }{{"fixed", OptAdam}, {"fixed", OptMomentum}} {
		t.Run(tc.bin+"/"+tc.opt, func(t *testing.T) {
			straight, split := tinyConfig(t), tinyConfig(t)
			straight.Binarize, split.Binarize = tc.bin, tc.bin
			straight.Optimizer, split.Optimizer = tc.opt, tc.opt
			if err := Run(context.Background(), straight, quiet); err != nil {
				t.Fatal(err)
			}
			split.Epochs = 1
			if err := Run(context.Background(), split, quiet); err != nil {
				t.Fatal(err)
			}
			st := loadRun(t, split.Out)
			st.Config.Epochs = 2
			if err := Resume(context.Background(), st, quiet); err != nil {
				t.Fatal(err)
			}
			if !sameBits(loadRun(t, straight.Out), loadRun(t, split.Out)) {
				t.Error("resumed run differs from the straight run")
			}
			if ma, mb := readMetrics(t, straight.Out), readMetrics(t, split.Out); !slices.Equal(ma, mb) {
				t.Errorf("metrics differ:\n%+v\n%+v", ma, mb)
			}
		})
	}
}

// TestRunRefusesExistingRun checks that a fresh run never overwrites a
// saved one.
func TestRunRefusesExistingRun(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Epochs = 1
	if err := Run(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), cfg, quiet); !errors.Is(err, ErrExists) {
		t.Errorf("second run into %s: got %v, want ErrExists", cfg.Out, err)
	}
}

// TestCheckpointRoundTripPredicts checks that a saved and loaded state
// computes exactly what the original does: the same loss, reconstruction
// and KL terms and gradients, bit for bit, on the same images and noise,
// for the VAE and the SBN.
func TestCheckpointRoundTripPredicts(t *testing.T) {
	for _, task := range []string{model.TaskVAE, model.TaskSBN} {
		t.Run(task, func(t *testing.T) {
			cfg := tinyConfig(t)
			if task == model.TaskSBN {
				cfg.Model = tinySBN
			}
			st, err := NewState(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Save(filepath.Join(cfg.Out, CheckpointFile)); err != nil {
				t.Fatal(err)
			}
			loaded := loadRun(t, cfg.Out)
			var outs [2][]float64
			for i, s := range []*State{st, loaded} {
				est, err := estimator.New(estimator.GS, s.Config.Model, s.Params, estimator.Options{Batch: 4})
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(9, 9))
				x := est.X.Float32s()
				for j := range x {
					x[j] = float32(rng.IntN(2))
				}
				if err := est.Estimate(1, rng); err != nil {
					t.Fatal(err)
				}
				outs[i] = append(append(est.Rec(), est.KL()...), est.Loss())
				for _, g := range est.Grads() {
					for _, v := range g.Float32s() {
						outs[i] = append(outs[i], float64(v))
					}
				}
			}
			for j := range outs[0] {
				if math.Float64bits(outs[0][j]) != math.Float64bits(outs[1][j]) {
					t.Fatalf("output %d: %v before saving, %v after loading", j, outs[0][j], outs[1][j])
				}
			}
		})
	}
}

// TestLoadErrors checks that unusable files give an error, not a panic or a
// half-loaded model.
func TestLoadErrors(t *testing.T) {
	cfg := tinyConfig(t)
	st, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(cfg.Out, "good.ckpt")
	if err := st.Save(good); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// Checkpoints whose configuration does not fit their tensors: K = 5
	// over K = 4 tensors, and a hidden layer of 20,000 units that would
	// need ~190 MB if it were allocated before the shapes are checked.
	foreign := func(name string, edit func(*Config)) string {
		f, err := st.file()
		if err != nil {
			t.Fatal(err)
		}
		other := cfg
		edit(&other)
		if f.Config, err = json.Marshal(other); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(cfg.Out, name)
		if err := checkpoint.Save(path, f); err != nil {
			t.Fatal(err)
		}
		return path
	}
	k5 := foreign("k5.ckpt", func(c *Config) { c.Model.K = 5 })
	wide := foreign("wide.ckpt", func(c *Config) { c.Model.Hidden = []int{20000, 8} })
	huge := foreign("huge.ckpt", func(c *Config) { c.Model.Hidden = []int{1 << 26, 8} })
	// A checkpoint whose first optimiser moment holds a NaN (the weights
	// are checked the same way: model's TestLoadErrors).
	nanMoment := func() string {
		f, err := st.file()
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(f.Tensors, func(x checkpoint.Tensor) bool { return strings.HasPrefix(x.Name, prefixOptM) })
		f.Tensors[i].Data = slices.Clone(f.Tensors[i].Data)
		f.Tensors[i].Data[1] = float32(math.NaN())
		path := filepath.Join(cfg.Out, "nan.ckpt")
		if err := checkpoint.Save(path, f); err != nil {
			t.Fatal(err)
		}
		return path
	}()
	for _, tc := range []struct {
		name, path string
		content    []byte
		want       string
	}{
		{"missing", filepath.Join(cfg.Out, "nope.ckpt"), nil, "no such file"},
		{"truncated", "trunc.ckpt", raw[:len(raw)/2], "truncated"},
		{"not a checkpoint", "png.ckpt", []byte("\x89PNG\r\n\x1a\n0000000000000000000000"), "not a checkpoint"},
		{"architecture mismatch", k5, nil, "shape"},
		{"oversized architecture", wide, nil, "shape"},
		{"absurd architecture", huge, nil, "layer width"},
		{"NaN optimiser moment", nanMoment, nil, prefixOptM + "enc0.w holds NaN at index 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if tc.content != nil {
				path = filepath.Join(cfg.Out, tc.path)
				if err := os.WriteFile(path, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			st, err := Load(path)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("Load allocated %d MB for a %s file", grew>>20, tc.name)
			}
			if err == nil || st != nil {
				t.Fatalf("Load(%s) = %v, %v; want an error", tc.name, st, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q: want it to name %s and say %q", err, path, tc.want)
			}
		})
	}
}

// TestNonFiniteStopsTraining poisons one weight with NaN before resuming:
// training must stop at the first update with ErrNonFinite, naming the
// step, and leave the last checkpoint byte for byte as it was.
func TestNonFiniteStopsTraining(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Epochs = 1
	if err := Run(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.Out, CheckpointFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := loadRun(t, cfg.Out)
	st.Params.Tensors[1].Data().([]float32)[0] = float32(math.NaN()) // a bias: every row sees it
	st.Config.Epochs = 2
	err = Resume(context.Background(), st, quiet)
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 4") {
		t.Fatalf("got %v, want ErrNonFinite at step 4", err)
	}
	t.Log(err)
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the checkpoint changed after a non-finite loss")
	}
}

// countdown is a context that reports cancellation from its n-th Err call
// on: the training loop checks Err before every update and validation
// before every batch, so n picks the point of interruption.
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

// TestInterruptedRunResumesExactly interrupts a 2-epoch run (4 updates per
// epoch) before its first update, in the middle of epoch 1, during the
// validation of epoch 1 and in the middle of epoch 2. Each time the run
// must return an *Interrupted wrapping context.Canceled that says where
// it stopped and what it saved; resuming must then end with the state
// and metrics of the uninterrupted run, bit for bit.
func TestInterruptedRunResumesExactly(t *testing.T) {
	straight := tinyConfig(t)
	straight.Binarize = "dynamic" // the random stream matters most here
	if err := Run(context.Background(), straight, quiet); err != nil {
		t.Fatal(err)
	}
	want := loadRun(t, straight.Out)
	for _, tc := range []struct {
		name  string
		calls int // Err calls before the interruption
		step  int // updates done by then
		epoch int // the epoch in progress (from 1)
		done  int // images of it done
	}{
		{"before the first update", 0, 0, 1, 0},
		{"mid epoch 1", 2, 2, 1, 100},
		// 5 checks in epoch 1 (one per update, one at its end), then one
		// per 500 validation images.
		{"validating epoch 1", 7, 4, 1, 200},
		{"mid epoch 2", 5 + 20 + 3, 7, 2, 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := straight
			cfg.Out = t.TempDir()
			err := Run(&countdown{context.Background(), tc.calls}, cfg, quiet)
			var stop *Interrupted
			if !errors.As(err, &stop) || !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want an *Interrupted wrapping context.Canceled", err)
			}
			path := filepath.Join(cfg.Out, CheckpointFile)
			if got := (Interrupted{tc.step, tc.epoch, tc.done, cfg.Limit, path, stop.Cause}); *stop != got {
				t.Errorf("interrupted %+v, want %+v", *stop, got)
			}
			st := loadRun(t, cfg.Out)
			if st.Step != tc.step {
				t.Errorf("saved at step %d, want %d", st.Step, tc.step)
			}
			if err := Resume(context.Background(), st, quiet); err != nil {
				t.Fatal(err)
			}
			if d := stateDiff(want, loadRun(t, cfg.Out)); d != "" {
				t.Errorf("resumed run differs from the uninterrupted run: %s", d)
			}
			if ma, mb := readMetrics(t, straight.Out), readMetrics(t, cfg.Out); !slices.Equal(ma, mb) {
				t.Errorf("metrics differ:\n%+v\n%+v", ma, mb)
			}
		})
	}
}

// interruptAfter returns a context and an Output whose progress reports
// cancel the context at the k-th update: the run stops before the next
// one, in the middle of its epoch when k is not a multiple of the epoch's
// updates.
func interruptAfter(k int) (context.Context, Output) {
	ctx, cancel := context.WithCancel(context.Background())
	updates := 0
	return ctx, Output{Log: io.Discard, Progress: func(p Progress) {
		if p.Unit == "steps" && p.Tau > 0 { // the report of an update
			if updates++; updates == k {
				cancel()
			}
		}
	}}
}

// interruptedRun does in this process what Run(ctx, cfg, out) does with
// the first epoch when ctx is cancelled by the report of its k-th update
// (see interruptAfter), on trainSet, which must be what Run loads for cfg:
// a fresh state, the estimator with the state's moving averages, the
// epoch's shuffle, State.epoch until the cancellation, and
// State.interrupt, which saves the position reached to cfg.Out. It returns
// the *Interrupted and, having gone on with the same state, estimator,
// batches and random stream to the end of the epoch, the state of the run
// that was never interrupted: the interruption only stopped the loop.
// (Run would load MNIST again, a quarter of a second.)
func interruptedRun(t *testing.T, cfg Config, trainSet *data.Split, k int) (*Interrupted, *State) {
	t.Helper()
	st, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	est := newEstimator(t, st)
	if err := est.SetStats(st.Stats); err != nil {
		t.Fatal(err)
	}
	bin, err := data.ParseBinarization(cfg.Binarize)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(st.RNG)
	batches := data.NewBatches(trainSet, cfg.Batch, bin, rng)
	batches.Shuffle()
	ctx, out := interruptAfter(k)
	if _, err = st.epoch(ctx, est, batches, rng, out); !errors.Is(err, context.Canceled) {
		t.Fatalf("epoch: got %v, want context.Canceled", err)
	}
	var stop *Interrupted
	if err := st.interrupt(batches, err); !errors.As(err, &stop) {
		t.Fatalf("interrupt: got %v, want an *Interrupted", err)
	}
	st.Order, st.Next = nil, 0
	if _, err := st.epoch(context.Background(), est, batches, rng, quiet); err != nil {
		t.Fatal(err)
	}
	return stop, st
}

// trainedDiff is stateDiff for what training sets before the epoch's
// validation: the epoch count and best bound are left out.
func trainedDiff(a, b *State) string {
	a2, b2 := *a, *b
	a2.Epoch, a2.BestValid, b2.Epoch, b2.BestValid = 0, 0, 0, 0
	return stateDiff(&a2, &b2)
}

// TestEveryEstimatorResumesExactly trains every estimator on the tiny
// categorical VAE (3x4) and the tiny Bernoulli VAE (6 variables), and four
// of them on the tiny SBNs (3x4 categorical, 6 Bernoulli), for one epoch
// of 6 updates with a temperature that changes at every step, interrupted
// after update 3 (see interruptedRun), and resumes each from its
// checkpoint (Resume). The resumed run must end with the state of the
// uninterrupted run (weights, optimiser moments, moving averages,
// counters, loss sums), bit for bit, and its metrics must report that
// state: the epoch's training loss, and the validation bound as best. For
// gs on the VAEs the uninterrupted run is also made by Run, whose state
// and metrics must be the same. The score-function estimators' moving
// averages (checkpoint blobs signal_mean and signal_var) and nvil's
// baseline network (parameters base0, base1) must therefore survive the
// checkpoint; the test checks that the averages saved at the interruption
// have moved from their starting values, so that losing them changes the
// resumed run.
func TestEveryEstimatorResumesExactly(t *testing.T) {
	const limit, interruptAt = 300, 3
	trainSet, _, _, err := data.Load(rawData(t), limit)
	if err != nil {
		t.Fatal(err)
	}
	vae := model.Config{N: 3, K: 4, Hidden: []int{16, 8}, Input: model.Pixels}
	bernoulli := model.Config{N: 6, K: 2, Hidden: []int{16, 8}, Input: model.Pixels, Kind: model.LatentBernoulli}
	sbnBernoulli := tinySBN
	sbnBernoulli.N, sbnBernoulli.K, sbnBernoulli.Kind = 6, 2, model.LatentBernoulli
	type tc struct {
		name  string
		model model.Config
		est   string
	}
	var cases []tc
	for _, m := range []struct {
		name  string
		model model.Config
		names []string
	}{
		{"vae-categorical", vae, estimator.Names},
		{"vae-bernoulli", bernoulli, estimator.Names},
		{"sbn-categorical", tinySBN, []string{estimator.SF, estimator.MuProp}},
		{"sbn-bernoulli", sbnBernoulli, []string{estimator.NVIL, estimator.DARN}},
	} {
		for _, name := range m.names {
			cases = append(cases, tc{m.name + "/" + name, m.model, name})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			cfg.Model, cfg.Limit, cfg.Epochs = c.model, limit, 1
			cfg.AnnealEvery, cfg.AnnealRate, cfg.TauMin = 1, 0.1, 0.3
			cfg = cfg.WithEstimator(c.est)
			stop, want := interruptedRun(t, cfg, trainSet, interruptAt)
			if stop.Step != interruptAt || stop.Epoch != 1 || stop.Done != interruptAt*cfg.Batch {
				t.Fatalf("interrupted %+v, want step %d, epoch 1, %d images done", stop, interruptAt, interruptAt*cfg.Batch)
			}
			st := loadRun(t, cfg.Out)
			if estimator.Scored(c.est) {
				for i, s := range st.Stats {
					if s == estimator.NewStats() {
						t.Errorf("layer %d: the moving averages saved at step %d are the starting ones %+v", i, interruptAt, s)
					}
				}
			}
			if err := Resume(context.Background(), st, quiet); err != nil {
				t.Fatal(err)
			}
			got := loadRun(t, cfg.Out)
			if d := trainedDiff(want, got); d != "" {
				t.Errorf("interrupted at step %d and resumed, the run differs from the uninterrupted run: %s", interruptAt, d)
			}
			ms := readMetrics(t, cfg.Out)
			if len(ms) != 1 || ms[0].Step != want.Step || ms[0].TrainNegELBO != want.EpochLoss/float64(want.EpochImages) || ms[0].ValidNegELBO != got.BestValid {
				t.Errorf("metrics %+v: want step %d, training loss %v and the saved best bound %v", ms, want.Step, want.EpochLoss/float64(want.EpochImages), got.BestValid)
			}
			if c.est != estimator.GS {
				return
			}
			straight := cfg
			straight.Out = t.TempDir()
			if err := Run(context.Background(), straight, quiet); err != nil {
				t.Fatal(err)
			}
			if d := stateDiff(loadRun(t, straight.Out), got); d != "" {
				t.Errorf("the resumed run differs from Run's uninterrupted run: %s", d)
			}
			if ma := readMetrics(t, straight.Out); !slices.Equal(ma, ms) {
				t.Errorf("metrics differ:\n%+v\n%+v", ma, ms)
			}
		})
	}
}

// TestLockRefusesSecondWriter checks that a folder locked by one run is
// refused to another, and free again once the first lets go.
func TestLockRefusesSecondWriter(t *testing.T) {
	cfg := tinyConfig(t)
	unlock, err := lockRun(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), cfg, quiet); !errors.Is(err, ErrLocked) {
		t.Errorf("run into a locked folder: got %v, want ErrLocked", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	cfg.Epochs = 1
	if err := Run(context.Background(), cfg, quiet); err != nil {
		t.Errorf("run after unlocking: %v", err)
	}
}

// TestBestCheckpoint checks that best.ckpt holds the state with the lowest
// validation -ELBO, recorded in BestValid.
func TestBestCheckpoint(t *testing.T) {
	cfg := tinyConfig(t)
	if err := Run(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	ms := readMetrics(t, cfg.Out)
	best, err := Load(filepath.Join(cfg.Out, BestFile))
	if err != nil {
		t.Fatal(err)
	}
	lowest := ms[0]
	for _, m := range ms {
		if m.ValidNegELBO < lowest.ValidNegELBO {
			lowest = m
		}
	}
	if best.Epoch != lowest.Epoch || best.BestValid != lowest.ValidNegELBO {
		t.Errorf("best.ckpt is epoch %d with %v; metrics say epoch %d with %v", best.Epoch, best.BestValid, lowest.Epoch, lowest.ValidNegELBO)
	}
}

// TestUnwritableOutput checks that an -out below a regular file fails with
// a clear error before training.
func TestUnwritableOutput(t *testing.T) {
	cfg := tinyConfig(t)
	file := filepath.Join(cfg.Out, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Out = filepath.Join(file, "run")
	if err := Run(context.Background(), cfg, quiet); err == nil || !strings.Contains(err.Error(), "create output folder") {
		t.Errorf("got %v, want a create output folder error", err)
	}
}

// TestEpochsLowerLoss trains a 20x10 model with one hidden layer of 32
// units on a 500-image slice for 20 epochs of 10 updates of 50 images
// with Adam at 3e-3: the mean loss of the last epoch must be at most 70%
// of the first's. (From ~540 nats at initialisation the first epoch
// averages ~520; 200 updates reach ~200. A broken gradient, optimiser
// or data path stays near the first value.) The default 784-512-256 model
// behaves the same way but takes ten times as long.
func TestEpochsLowerLoss(t *testing.T) {
	cfg := Defaults()
	cfg.Limit, cfg.Batch, cfg.Out, cfg.LR, cfg.Model.Hidden = 500, 50, t.TempDir(), 3e-3, []int{32}
	st, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	trainSet, _, _, err := data.Load(rawData(t), cfg.Limit)
	if err != nil {
		t.Fatal(err)
	}
	gr := newEstimator(t, st)
	rng := rand.New(st.RNG)
	batches := data.NewBatches(trainSet, cfg.Batch, data.Fixed, rng)
	var first, last float64
	for e := 0; e < 20; e++ {
		batches.Shuffle()
		st.EpochLoss, st.EpochImages = 0, 0
		if _, err := st.epoch(context.Background(), gr, batches, rng, Output{}); err != nil {
			t.Fatal(err)
		}
		loss := st.EpochLoss / float64(st.EpochImages)
		if e == 0 {
			first = loss
		}
		last = loss
	}
	t.Logf("mean loss: epoch 1 %.2f, epoch 20 %.2f nats", first, last)
	if !(last < 0.7*first) {
		t.Errorf("loss fell from %.2f to %.2f only; want below %.2f", first, last, 0.7*first)
	}
}

// TestValidate checks that every setting that cannot give a run is
// refused with a *model.SettingError naming it by its JSON key (which
// commands map to their flags), and that the defaults, the SBN with each
// estimator and nvil with its baseline network are accepted.
func TestValidate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sbn := func(c *Config) { c.Model = tinySBN }
	for _, tc := range []struct {
		setting string
		edit    func(*Config)
	}{
		{"epochs", func(c *Config) { c.Epochs = 0 }},
		{"batch", func(c *Config) { c.Batch = 0 }},
		{"batch", func(c *Config) { c.Batch = 1 << 40 }},
		{"lr", func(c *Config) { c.LR = 0 }},
		{"lr", func(c *Config) { c.LR = math.NaN() }},
		{"n", func(c *Config) { c.Model.N = 0 }},
		{"k", func(c *Config) { c.Model.K = 1 }},
		{"k", func(c *Config) { c.Model.Kind, c.Model.K = model.LatentBernoulli, 3 }},
		{"tau0", func(c *Config) { c.Tau0 = 0 }},
		{"tau_min", func(c *Config) { c.TauMin = -1 }},
		{"tau_min", func(c *Config) { c.TauMin = 2 }},
		{"anneal_rate", func(c *Config) { c.AnnealRate = -1 }},
		{"anneal_every", func(c *Config) { c.AnnealEvery = 0 }},
		{"limit", func(c *Config) { c.Limit = -5 }},
		{"limit", func(c *Config) { c.Limit = 50001 }},
		{"params", func(c *Config) { c.Model.Hidden = []int{60000, 8} }}, // too many parameters
		{"hidden", func(c *Config) { sbn(c); c.Model.Hidden = []int{16} }},
		{"binarize", func(c *Config) { c.Binarize = "otsu" }},
		{"optimizer", func(c *Config) { c.Optimizer = "rmsprop" }},
		{"estimator", func(c *Config) { c.Estimator = "rebar" }},
		{"baseline", func(c *Config) { c.Estimator = estimator.NVIL }}, // without WithEstimator: no baseline network
		{"baseline", func(c *Config) { *c = c.WithEstimator(estimator.NVIL); c.Estimator = estimator.SF }},
		{"kl", func(c *Config) { c.KL = "exact" }},
		{"kl", func(c *Config) { *c = c.WithEstimator(estimator.SF); c.KL = KLRelaxed }},
		{"kl", func(c *Config) { c.Model.Prior, c.KL = model.PriorLearned, KLRelaxed }},
		{"kl", func(c *Config) { sbn(c); c.KL = KLRelaxed }},
		{"prior", func(c *Config) { c.Model.Prior = "beta" }},
		{"prior", func(c *Config) { sbn(c); c.Model.Prior = model.PriorLearned }},
		{"task", func(c *Config) { c.Model.Task = "gan" }},
		{"latent", func(c *Config) { c.Model.Kind = "gaussian" }},
		{"input", func(c *Config) { c.Model.Input = 100 }},
		{"prior_tau", func(c *Config) { c.KL, c.PriorTau = KLRelaxed, 0 }},
		{"track_gradvar", func(c *Config) { c.TrackGradVar = -1 }},
		{"track_draws", func(c *Config) { c.TrackGradVar, c.TrackDraws = 1, 1 }},
		{"out", func(c *Config) { c.Out = "" }},
		{"out", func(c *Config) { c.Out = file }},
	} {
		cfg := Defaults()
		tc.edit(&cfg)
		var se *model.SettingError
		if err := cfg.Validate(); !errors.As(err, &se) || se.Setting != tc.setting {
			t.Errorf("%s: got %v, want a *model.SettingError for %q", tc.setting, err, tc.setting)
		}
	}
	for _, name := range estimator.Names {
		for _, m := range []model.Config{model.DefaultConfig(), tinySBN} {
			cfg := Defaults()
			cfg.Model = m
			if err := cfg.WithEstimator(name).Validate(); err != nil {
				t.Errorf("%s on %s: %v", name, m.Describe(), err)
			}
		}
	}
}

// TestRelaxedKLTrains trains the tiny model with the relaxed KL at tau 0.5
// (prior temperature 2/3, the values Maddison et al. found best for
// binary variables) for 4 epochs of 4 updates: every reported loss is
// finite and the last epoch's relaxed training loss is below the first's.
func TestRelaxedKLTrains(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.KL, cfg.PriorTau, cfg.Tau0, cfg.TauMin, cfg.Epochs, cfg.LR = KLRelaxed, 2.0/3, 0.5, 0.5, 4, 3e-3
	if err := Run(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	ms := readMetrics(t, cfg.Out)
	for _, m := range ms {
		if math.IsNaN(m.TrainNegELBO) || math.IsInf(m.TrainNegELBO, 0) || math.IsNaN(m.ValidNegELBO) {
			t.Fatalf("epoch %d: train %v, valid %v", m.Epoch, m.TrainNegELBO, m.ValidNegELBO)
		}
	}
	if first, last := ms[0].TrainNegELBO, ms[len(ms)-1].TrainNegELBO; !(last < first) {
		t.Errorf("relaxed loss went from %.2f to %.2f", first, last)
	}
}

// TestLearnedPriorTrains trains the tiny model with a learned prior for an
// epoch of 4 updates, interrupted after the second and resumed (see
// interruptedRun): the prior's logits must move away from zero (uniform),
// and the resumed run must reproduce them, with the rest of the state,
// exactly (they are saved with the other parameters).
func TestLearnedPriorTrains(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Model.Prior, cfg.Epochs = model.PriorLearned, 1
	trainSet, _, _, err := data.Load(cfg.Data, cfg.Limit)
	if err != nil {
		t.Fatal(err)
	}
	_, want := interruptedRun(t, cfg, trainSet, 2)
	if err := Resume(context.Background(), loadRun(t, cfg.Out), quiet); err != nil {
		t.Fatal(err)
	}
	st := loadRun(t, cfg.Out)
	if d := trainedDiff(want, st); d != "" {
		t.Errorf("the resumed run differs from the uninterrupted run: %s", d)
	}
	var moved float64
	for _, v := range st.Params.PriorLogits(cfg.Model) {
		moved = math.Max(moved, math.Abs(v))
	}
	if !(moved > 1e-4) {
		t.Errorf("the prior's logits stayed at zero (max |logit| %v)", moved)
	}
}

// TestTruncateMetrics checks that metrics.jsonl is cut back to the epochs a
// checkpoint records, and left alone when it has no more lines than that.
func TestTruncateMetrics(t *testing.T) {
	for _, tc := range []struct {
		epochs int
		want   string
	}{
		{0, ""},
		{1, "{\"epoch\":1}\n"},
		{3, "{\"epoch\":1}\n{\"epoch\":2}\n{\"epoch\":3}\n"},
		{5, "{\"epoch\":1}\n{\"epoch\":2}\n{\"epoch\":3}\n"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, MetricsFile)
		if err := os.WriteFile(path, []byte("{\"epoch\":1}\n{\"epoch\":2}\n{\"epoch\":3}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := truncateMetrics(dir, tc.epochs); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != tc.want {
			t.Errorf("epochs %d: file %q (%v), want %q", tc.epochs, got, err, tc.want)
		}
	}
	if err := truncateMetrics(t.TempDir(), 2); err != nil {
		t.Errorf("no metrics file: %v", err)
	}
}

// TestLegacyConfigDefaults loads a checkpoint whose configuration predates
// the optimizer, kl, prior_tau and prior settings: they must come back as
// the values such a run used, so that -resume accepts them if repeated.
func TestLegacyConfigDefaults(t *testing.T) {
	cfg := tinyConfig(t)
	st, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.file()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(f.Config, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"optimizer", "kl", "prior_tau"} {
		delete(m, key)
	}
	delete(m["model"].(map[string]any), "prior")
	if f.Config, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.Out, "legacy.ckpt")
	if err := checkpoint.Save(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Config; c.Optimizer != OptAdam || c.KL != KLAnalytic || c.PriorTau != 1 || c.Model.Prior != model.PriorUniform {
		t.Errorf("legacy config loaded as optimizer %q, kl %q, prior-tau %v, prior %q", c.Optimizer, c.KL, c.PriorTau, c.Model.Prior)
	}
}

// TestTrackGradVar trains the tiny model for 2 epochs of 5 updates of 10
// images with -track-gradvar 2 and checks that only the second epoch's
// metrics carry a measurement: all 8 estimators, encoder and decoder,
// against the exact gradient (4^3 codes), at the temperature of that
// epoch, with finite statistics. It also checks that tracking leaves the
// trained weights as they are without it.
func TestTrackGradVar(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Limit, cfg.Batch = 50, 10
	cfg.TrackGradVar, cfg.TrackDraws = 2, 5
	if err := Run(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	ms := readMetrics(t, cfg.Out)
	if len(ms) != 2 || ms[0].GradVar != nil || ms[1].GradVar == nil {
		t.Fatalf("metrics %+v: want a measurement after epoch 2 only", ms)
	}
	rep := ms[1].GradVar
	if rep.Reference != "exact" || len(rep.Stats) != 2*len(estimator.Names) {
		t.Fatalf("reference %q, %d statistics; want exact and %d", rep.Reference, len(rep.Stats), 2*len(estimator.Names))
	}
	for _, s := range rep.Stats {
		if estimator.Tempered(s.Estimator) && s.Tau != ms[1].Tau {
			t.Errorf("%s measured at tau %v, want the epoch's %v", s.Estimator, s.Tau, ms[1].Tau)
		}
		if math.IsNaN(s.Log10Var) || math.IsInf(s.Log10Var, 0) || math.IsNaN(s.RelBias) {
			t.Errorf("%s %s: non-finite statistics %+v", s.Estimator, s.Part, s)
		}
	}
	plain := tinyConfig(t)
	plain.Limit, plain.Batch = cfg.Limit, cfg.Batch
	if err := Run(context.Background(), plain, quiet); err != nil {
		t.Fatal(err)
	}
	st, err := Load(filepath.Join(plain.Out, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	tracked, err := Load(filepath.Join(cfg.Out, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Params.Tensors {
		if !slices.Equal(st.Params.Tensors[i].Float32s(), tracked.Params.Tensors[i].Float32s()) {
			t.Fatalf("%s differs with tracking", st.Params.Names[i])
		}
	}
}
