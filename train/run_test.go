package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	cfg.Out = t.TempDir()
	return cfg
}

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

// sameBits reports whether two states hold bit-identical weights and
// optimiser moments.
func sameBits(a, b *State) bool {
	if (a.Opt.V == nil) != (b.Opt.V == nil) {
		return false
	}
	for i := range a.Params.Tensors {
		pairs := [][2][]float32{
			{a.Params.Tensors[i].Float32s(), b.Params.Tensors[i].Float32s()},
			{a.Opt.M[i], b.Opt.M[i]},
		}
		if a.Opt.V != nil {
			pairs = append(pairs, [2][]float32{a.Opt.V[i], b.Opt.V[i]})
		}
		for _, pair := range pairs {
			for j := range pair[0] {
				if math.Float32bits(pair[0][j]) != math.Float32bits(pair[1][j]) {
					return false
				}
			}
		}
	}
	return a.Step == b.Step && a.Epoch == b.Epoch && a.Opt.T == b.Opt.T
}

func loadRun(t *testing.T, dir string) *State {
	t.Helper()
	st, err := Load(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSameSeedSameModel checks determinism with the pure-Go BLAS: two runs
// with one seed give bit-identical weights and identical metrics, and
// another seed gives different weights.
func TestSameSeedSameModel(t *testing.T) {
	a, b, c := tinyConfig(t), tinyConfig(t), tinyConfig(t)
	c.Seed = 2
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
// resume for 1 more: weights, optimiser state and metrics must be
// bit-identical, because the checkpoint carries the random stream.
func TestResumeMatchesStraightRun(t *testing.T) {
	for _, tc := range []struct{ bin, opt string }{{"fixed", OptAdam}, {"dynamic", OptAdam}, {"fixed", OptMomentum}} {
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
// predicts exactly what the original does: same loss and pixel logits, bit
// for bit, on the same images and noise.
func TestCheckpointRoundTripPredicts(t *testing.T) {
	cfg := tinyConfig(t)
	st, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.Out, CheckpointFile)
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded := loadRun(t, cfg.Out)
	var outs [2][]float64
	for i, s := range []*State{st, loaded} {
		gr, err := model.NewGraph(cfg.Model, s.Params, model.Options{Batch: 4, Hard: true})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(9, 9))
		for j, x := 0, gr.X.Data().([]float32); j < len(x); j++ {
			x[j] = float32(rng.IntN(2))
		}
		model.SampleGumbel(gr.Noise.Data().([]float32), rng)
		if err := gr.Run(); err != nil {
			t.Fatal(err)
		}
		outs[i] = append(gr.PixelLogits(), gr.Loss())
	}
	for j := range outs[0] {
		if outs[0][j] != outs[1][j] {
			t.Fatalf("output %d: %v before saving, %v after loading", j, outs[0][j], outs[1][j])
		}
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
		{"absurd architecture", huge, nil, "hidden layer width"},
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
// must return context.Canceled, save its position and say how to resume;
// resuming must then end with the weights, optimiser state and metrics of
// the uninterrupted run, bit for bit.
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
	}{
		{"before the first update", 0, 0},
		{"mid epoch 1", 2, 2},
		{"validating epoch 1", 7, 4},
		{"mid epoch 2", 5 + 20 + 3, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := straight
			cfg.Out = t.TempDir()
			var log bytes.Buffer
			err := Run(&countdown{context.Background(), tc.calls}, cfg, Output{Log: &log})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			if !strings.Contains(log.String(), "resume with: train -resume -out "+cfg.Out) {
				t.Errorf("log does not say how to resume:\n%s", log.String())
			}
			st := loadRun(t, cfg.Out)
			if st.Step != tc.step {
				t.Errorf("saved at step %d, want %d", st.Step, tc.step)
			}
			if err := Resume(context.Background(), st, quiet); err != nil {
				t.Fatal(err)
			}
			if !sameBits(want, loadRun(t, cfg.Out)) {
				t.Error("resumed run differs from the uninterrupted run")
			}
			if ma, mb := readMetrics(t, straight.Out), readMetrics(t, cfg.Out); !slices.Equal(ma, mb) {
				t.Errorf("metrics differ:\n%+v\n%+v", ma, mb)
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

// TestEpochsLowerLoss trains the default 20x10 model on a 1,000-image slice
// for 30 epochs of 10 updates: the mean loss of the last epoch must be at
// most 70% of the first's. (From ~540 nats at initialisation an untrained
// epoch averages ~480; 300 updates reach ~190. A broken gradient, optimiser
// or data path stays near the first value.)
func TestEpochsLowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for 300 steps")
	}
	cfg := Defaults()
	cfg.Limit, cfg.Out = 1000, t.TempDir()
	st, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := data.FindDir("")
	if err != nil {
		t.Fatal(err)
	}
	trainSet, _, _, err := data.Load(dir, cfg.Limit)
	if err != nil {
		t.Fatal(err)
	}
	gr := newEstimator(t, st)
	rng := rand.New(st.RNG)
	batches := data.NewBatches(trainSet, cfg.Batch, data.Fixed, rng)
	var first, last float64
	for e := 0; e < 30; e++ {
		batches.Shuffle()
		st.EpochLoss, st.EpochImages = 0, 0
		if _, err := st.epoch(context.Background(), gr, batches, rng, nil); err != nil {
			t.Fatal(err)
		}
		loss := st.EpochLoss / float64(st.EpochImages)
		if e == 0 {
			first = loss
		}
		last = loss
	}
	t.Logf("mean loss: epoch 1 %.2f, epoch 30 %.2f nats", first, last)
	if !(last < 0.7*first) {
		t.Errorf("loss fell from %.2f to %.2f only; want below %.2f", first, last, 0.7*first)
	}
}

func TestValidate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flag string
		edit func(*Config)
	}{
		{"-epochs", func(c *Config) { c.Epochs = 0 }},
		{"-batch", func(c *Config) { c.Batch = 0 }},
		{"-lr", func(c *Config) { c.LR = 0 }},
		{"-lr", func(c *Config) { c.LR = math.NaN() }},
		{"-N", func(c *Config) { c.Model.N = 0 }},
		{"-K", func(c *Config) { c.Model.K = 1 }},
		{"-tau0", func(c *Config) { c.Tau0 = 0 }},
		{"-tau-min", func(c *Config) { c.TauMin = -1 }},
		{"-tau-min", func(c *Config) { c.TauMin = 2 }},
		{"-anneal-rate", func(c *Config) { c.AnnealRate = -1 }},
		{"-anneal-every", func(c *Config) { c.AnnealEvery = 0 }},
		{"-limit", func(c *Config) { c.Limit = -5 }},
		{"-limit", func(c *Config) { c.Limit = 50001 }},
		{"-batch", func(c *Config) { c.Batch = 1 << 40 }},
		{"parameters", func(c *Config) { c.Model.Hidden = []int{60000, 8} }},
		{"-binarize", func(c *Config) { c.Binarize = "otsu" }},
		{"-optimizer", func(c *Config) { c.Optimizer = "rmsprop" }},
		{"-kl", func(c *Config) { c.KL = "exact" }},
		{"-prior", func(c *Config) { c.Model.Prior = "beta" }},
		{"-prior", func(c *Config) { c.Model.Prior, c.KL = model.PriorLearned, KLRelaxed }},
		{"-prior-tau", func(c *Config) { c.KL, c.PriorTau = KLRelaxed, 0 }},
		{"-out", func(c *Config) { c.Out = file }},
	} {
		cfg := Defaults()
		tc.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s: got %v, want an error naming %s", tc.flag, err, tc.flag)
		}
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestRelaxedKLTrains trains the tiny model with the relaxed KL at tau 0.5
// (prior temperature 2/3, the values Maddison et al. found best for
// binary variables) for 6 epochs of 4 updates: every reported loss is
// finite and the last epoch's relaxed training loss is below the first's.
func TestRelaxedKLTrains(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.KL, cfg.PriorTau, cfg.Tau0, cfg.TauMin, cfg.Epochs, cfg.LR = KLRelaxed, 2.0/3, 0.5, 0.5, 6, 3e-3
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

// TestLearnedPriorTrains trains the tiny model with a learned prior for 2
// epochs: the prior's logits must move away from zero (uniform), and a
// resumed run must reproduce them exactly (they are saved with the rest).
func TestLearnedPriorTrains(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Model.Prior = model.PriorLearned
	if err := Run(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	st := loadRun(t, cfg.Out)
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

// TestTrackGradVar trains the tiny model for 2 epochs with -track-gradvar 2
// and checks that only the second epoch's metrics carry a measurement: all
// 8 estimators, encoder and decoder, against the exact gradient (4^3 codes),
// at the temperature of that epoch, with finite statistics. It also checks
// that tracking leaves the trained weights as they are without it.
func TestTrackGradVar(t *testing.T) {
	cfg := tinyConfig(t)
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
