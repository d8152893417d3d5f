package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gsvae/backend"
	"gsvae/data"
	"gsvae/estimator"
	"gsvae/eval"
	"gsvae/model"
)

// benchState returns the state and gs estimator of the default model with
// n latent variables at batch size b, with random binary pixels as input.
func benchState(tb testing.TB, b, n int) (*State, *estimator.Estimator, *rand.Rand) {
	cfg := Defaults()
	cfg.Batch, cfg.Model.N = b, n
	return benchStateOf(tb, cfg)
}

// benchStateOf is benchState for any configuration.
func benchStateOf(tb testing.TB, cfg Config) (*State, *estimator.Estimator, *rand.Rand) {
	st, err := NewState(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	est := newEstimator(tb, st)
	rng := rand.New(rand.NewPCG(1, 1))
	x := est.X.Float32s()
	for i := range x {
		x[i] = float32(rng.IntN(2))
	}
	return st, est, rng
}

// newEstimator returns the training estimator of st's configuration.
func newEstimator(tb testing.TB, st *State) *estimator.Estimator {
	tb.Helper()
	est, err := estimator.New(st.Config.Estimator, st.Config.Model, st.Params, st.Config.estimatorOptions())
	if err != nil {
		tb.Fatal(err)
	}
	return est
}

// BenchmarkTrainStep measures one training update of the default model
// (784-512-256-(20x10)-256-512-784, batch 100, Gumbel-Softmax at tau = 1,
// Adam included) on random binary pixels. Besides ns/op it reports
// ms/step; floor-ms, the GEMM-only floor of the same step (see
// BenchmarkGEMMFloor) with the faster of the two strategies, run in blocks
// alternating with the steps'; x-floor, their ratio; products-ms, the
// time of the step's own products (backend.ProductTime), and
// products-x-floor, its ratio to the floor: x-floor less products-x-floor
// is everything but the products, in floors; and peak-RSS-MB.
func BenchmarkTrainStep(b *testing.B) {
	cfg := Defaults()
	benchmarkStep(b, cfg)
}

// BenchmarkSmallNets measures the step of the paper's small networks
// against their own GEMM-only floors, as BenchmarkTrainStep does: the
// linear VAE 784-200-784 (200 Bernoulli, 20x10 categorical) and the SBN
// 392-200-200-392 (Bernoulli, categorical), batch 100, gs.
func BenchmarkSmallNets(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"vae-linear-bernoulli", func(c *Config) {
			c.Model.Hidden, c.Model.Kind, c.Model.N, c.Model.K = nil, model.LatentBernoulli, 200, 2
		}},
		{"vae-linear-categorical", func(c *Config) { c.Model.Hidden = nil }},
		{"sbn-bernoulli", func(c *Config) {
			c.Model.Task, c.Model.Hidden, c.Model.Kind, c.Model.N, c.Model.K = model.TaskSBN, nil, model.LatentBernoulli, 200, 2
		}},
		{"sbn-categorical", func(c *Config) { c.Model.Task, c.Model.Hidden = model.TaskSBN, nil }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := Defaults()
			tc.cfg(&cfg)
			benchmarkStep(b, cfg)
		})
	}
}

// BenchmarkTrainStepSizes shows how the step scales: batch 500, and 30x10
// latents at batch 100 (examples/s is the figure to compare).
func BenchmarkTrainStepSizes(b *testing.B) {
	for _, tc := range []struct {
		name  string
		batch int
		n     int
	}{{"B=500", 500, 20}, {"N=30", 100, 30}} {
		b.Run(tc.name, func(b *testing.B) {
			st, gr, rng := benchState(b, tc.batch, tc.n)
			if _, err := st.update(gr, tc.batch, 1, rng); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := st.update(gr, tc.batch, 1, rng); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tc.batch*b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// benchmarkStep times the training update of cfg (gs, tau = 1) against
// its GEMM-only floor under both strategies.
func benchmarkStep(b *testing.B, cfg Config) {
	st, gr, rng := benchStateOf(b, cfg)
	b.Log(backend.Describe())
	floor := backend.NewFloor(stepProducts(cfg.Model, cfg.Batch), 1)
	if _, err := st.update(gr, cfg.Batch, 1, rng); err != nil { // allocates the op buffers
		b.Fatal(err)
	}
	chosen := backend.CurrentStrategy()
	defer backend.SetStrategy(chosen)
	for _, s := range strategies {
		backend.SetStrategy(s)
		floor.Run()
	}
	// Steps and floor runs alternate in blocks of 25, the floor's with the
	// timer stopped, so that the ratio compares the two under the same
	// machine load (on a shared machine separate runs drift by more than
	// the effects we measure) while each still runs with warm caches
	// (alternating single runs slowed both by a third).
	const block = 25
	var stepTime, productTime time.Duration
	floorTime := make([]time.Duration, len(strategies))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		backend.SetStrategy(chosen)
		start, products := time.Now(), backend.ProductTime()
		for range n {
			if _, err := st.update(gr, cfg.Batch, 1, rng); err != nil {
				b.Fatal(err)
			}
		}
		stepTime += time.Since(start)
		productTime += backend.ProductTime() - products
		b.StopTimer()
		for i, s := range strategies {
			backend.SetStrategy(s)
			start = time.Now()
			for range n {
				floor.Run()
			}
			floorTime[i] += time.Since(start)
			if s == backend.Threads {
				time.Sleep(threadsSpinDown)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	backend.SetStrategy(chosen)
	best := slices.Min(floorTime)
	b.ReportMetric(stepTime.Seconds()/float64(b.N)*1e3, "ms/step")
	b.ReportMetric(best.Seconds()/float64(b.N)*1e3, "floor-ms")
	b.ReportMetric(stepTime.Seconds()/best.Seconds(), "x-floor")
	b.ReportMetric(productTime.Seconds()/float64(b.N)*1e3, "products-ms")
	b.ReportMetric(productTime.Seconds()/best.Seconds(), "products-x-floor")
	for i, s := range strategies {
		b.ReportMetric(floorTime[i].Seconds()/float64(b.N)*1e3, s.String()+"-floor-ms")
	}
	if rss, err := peakRSS(); err == nil {
		b.ReportMetric(rss, "peak-RSS-MB")
	}
}

// strategies are the ways a product can use the CPUs (see package backend).
var strategies = []backend.Strategy{backend.Split, backend.Threads}

// threadsSpinDown is how long a benchmark waits, with its timer stopped,
// after a block of products under the Threads strategy: OpenBLAS's threads
// keep spinning for a while after a threaded product (its thread timeout)
// and would slow whatever runs next, here the next block of timed steps.
const threadsSpinDown = 200 * time.Millisecond

// BenchmarkGEMMFloor measures only the matrix products of one training
// step of the default model with the same BLAS, under each strategy of
// package backend: 6 forward products, 6 weight gradients and 5 input
// gradients (the first layer's input needs none), in float32 at batch
// 100, in the forms the model's linear layers use (weights stored (out,
// in)). No training step can be faster; the ratio of BenchmarkTrainStep to
// the faster of the two is the overhead of everything else.
func BenchmarkGEMMFloor(b *testing.B) {
	cfg := Defaults()
	f := backend.NewFloor(stepProducts(cfg.Model, cfg.Batch), 1)
	b.Log(backend.Describe())
	chosen := backend.CurrentStrategy()
	defer backend.SetStrategy(chosen)
	for _, s := range strategies {
		b.Run(s.String(), func(b *testing.B) {
			backend.SetStrategy(s)
			f.Run()
			b.ResetTimer()
			for range b.N {
				f.Run()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/step")
			b.ReportMetric(float64(f.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

// stepProducts lists the matrix products of one gs training step of cfg at
// the given batch size: every linear layer's forward product and weight
// gradient, and its input gradient unless its input is the data. They have
// the step's sparsity, since gonum's kernels skip zeros: binary pixels,
// ReLU outputs and their masked gradients half zero, codes and output
// logits dense.
func stepProducts(cfg model.Config, batch int) []backend.Product {
	names, shapes := cfg.Shapes()
	var ps []backend.Product
	for i, name := range names {
		if !strings.HasSuffix(name, ".w") || cfg.Part(i) == model.PartBaseline {
			continue
		}
		out, in := shapes[i][0], shapes[i][1]
		fromData := name == "enc0.w" || name == "h1.w"
		zeroX, zeroDY := 0.5, 0.0 // the data, or a ReLU layer's output
		if !fromData && in == cfg.Code() {
			zeroX = 0 // a code
		}
		if strings.HasPrefix(name, "enc") && out != cfg.Code() || strings.HasPrefix(name, "dec") && out != cfg.Input {
			zeroDY = 0.5 // the layer has a ReLU
		}
		ps = append(ps, backend.LinearProducts(batch, in, out, !fromData, zeroX, zeroDY)...)
	}
	return ps
}

// peakRSS returns the process's peak resident set size in MB (Linux).
func peakRSS() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// BenchmarkEpoch times one real epoch of `make train`: 500 updates over the
// 50,000 training images and the validation pass over 10,000, as s/epoch.
func BenchmarkEpoch(b *testing.B) {
	cfg := Defaults()
	st, err := NewState(cfg)
	if err != nil {
		b.Fatal(err)
	}
	dir, err := data.FindDir("")
	if err != nil {
		b.Fatal(err)
	}
	trainSet, validSet, _, err := data.Load(dir, 0)
	if err != nil {
		b.Fatal(err)
	}
	gr := newEstimator(b, st)
	rng := rand.New(st.RNG)
	batches := data.NewBatches(trainSet, cfg.Batch, data.Fixed, rng)
	b.ResetTimer()
	for range b.N {
		batches.Shuffle()
		if _, err := st.epoch(context.Background(), gr, batches, rng, Output{}); err != nil {
			b.Fatal(err)
		}
		if _, err := eval.NegELBO(context.Background(), cfg.Model, st.Params, validSet, 1, rand.New(rand.NewPCG(1, 1))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/epoch")
}

// BenchmarkEstimators measures one training update (batch 100, Adam
// included) with every estimator, on the 20x10 categorical and the 200
// Bernoulli model, reporting ms/step and x-gs: the ratio to gs on the same
// model, measured just before in the same process.
func BenchmarkEstimators(b *testing.B) {
	bernoulli := model.DefaultConfig()
	bernoulli.Kind, bernoulli.N, bernoulli.K = model.LatentBernoulli, 200, 2
	for _, m := range []model.Config{model.DefaultConfig(), bernoulli} {
		var gs float64
		for _, name := range estimator.Names {
			b.Run(m.Kind+"/"+name, func(b *testing.B) {
				cfg := Defaults()
				cfg.Model = m
				cfg = cfg.WithEstimator(name)
				st, est, rng := benchStateOf(b, cfg)
				if _, err := st.update(est, cfg.Batch, 1, rng); err != nil { // allocates the buffers
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if _, err := st.update(est, cfg.Batch, 1, rng); err != nil {
						b.Fatal(err)
					}
				}
				ms := 1000 * b.Elapsed().Seconds() / float64(b.N)
				if name == estimator.GS {
					gs = ms
				}
				b.ReportMetric(ms, "ms/step")
				if gs > 0 {
					b.ReportMetric(ms/gs, "x-gs")
				}
			})
		}
	}
}
