package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"

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
// ms/step, floor-ms (the GEMM-only floor, see BenchmarkGEMMFloor, run in
// blocks alternating with the steps'), x-floor (their ratio) and
// peak-RSS-MB.
func BenchmarkTrainStep(b *testing.B) {
	for _, batch := range []int{100} {
		benchmarkStep(b, batch)
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

func benchmarkStep(b *testing.B, batch int) {
	st, gr, rng := benchState(b, batch, 20)
	b.Log(backend.Describe())
	floor := newFloor(batch)
	if _, err := st.update(gr, batch, 1, rng); err != nil { // allocates the op buffers
		b.Fatal(err)
	}
	floor.run()
	// Steps and floor runs alternate in blocks of 25, the floor's with the
	// timer stopped, so that the ratio compares the two under the same
	// machine load (on a shared machine separate runs drift by more than
	// the effects we measure) while each still runs with warm caches
	// (alternating single runs slowed both by a third).
	const block = 25
	var stepTime, floorTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		start := time.Now()
		for range n {
			if _, err := st.update(gr, batch, 1, rng); err != nil {
				b.Fatal(err)
			}
		}
		stepTime += time.Since(start)
		b.StopTimer()
		start = time.Now()
		for range n {
			floor.run()
		}
		floorTime += time.Since(start)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(stepTime.Seconds()/float64(b.N)*1e3, "ms/step")
	b.ReportMetric(floorTime.Seconds()/float64(b.N)*1e3, "floor-ms")
	b.ReportMetric(stepTime.Seconds()/floorTime.Seconds(), "x-floor")
	if rss, err := peakRSS(); err == nil {
		b.ReportMetric(rss, "peak-RSS-MB")
	}
}

// BenchmarkGEMMFloor measures only the matrix products of one training
// step of the same model with the same BLAS: 6 forward products, 6 weight
// gradients and 5 input gradients (the first layer's input needs none), in
// float32 at batch 100, in the forms the model's linear layers use (weights
// stored (out, in)). No training step can be faster; the ratio of
// BenchmarkTrainStep to it is the overhead of everything else.
func BenchmarkGEMMFloor(b *testing.B) {
	f := newFloor(100)
	b.Log(backend.Describe())
	b.ResetTimer()
	for range b.N {
		f.run()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/step")
}

// floor holds the operands of the GEMM-only floor. They have the step's
// sparsity, since gonum's kernels skip zeros: binary pixels, ReLU outputs
// and their masked gradients half zero, the latent layer and the output
// logits dense.
type floor struct {
	batch                      int
	dims                       []int
	ws, acts, grads, dws, outs [][]float32
}

func newFloor(batch int) *floor {
	f := &floor{batch: batch, dims: []int{784, 512, 256, 200, 256, 512, 784}}
	rng := rand.New(rand.NewPCG(1, 1))
	randSlice := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	for i, d := range f.dims {
		a, g := randSlice(batch*d), randSlice(batch*d)
		for j := range a {
			switch {
			case i == 0:
				a[j] = float32(rng.IntN(2))
			case i < len(f.dims)-1 && i != 3 && a[j] < 0:
				a[j], g[j] = 0, 0
			}
		}
		f.acts, f.grads = append(f.acts, a), append(f.grads, g)
		if i+1 < len(f.dims) {
			f.ws = append(f.ws, randSlice(d*f.dims[i+1]))
			f.dws = append(f.dws, make([]float32, d*f.dims[i+1]))
			f.outs = append(f.outs, make([]float32, batch*f.dims[i+1]))
		}
	}
	return f
}

// run makes the 17 products of one step.
func (f *floor) run() {
	impl, batch := backend.BLAS(), f.batch
	for i, w := range f.ws { // forward: a[i] W^T, W (out, in)
		in, out := f.dims[i], f.dims[i+1]
		impl.Sgemm(blas.NoTrans, blas.Trans, batch, out, in, 1, f.acts[i], in, w, in, 0, f.outs[i], out)
	}
	for i, w := range f.ws { // backward: dW = g[i+1]^T a[i], g[i] = g[i+1] W
		in, out := f.dims[i], f.dims[i+1]
		impl.Sgemm(blas.Trans, blas.NoTrans, out, in, batch, 1, f.grads[i+1], out, f.acts[i], in, 0, f.dws[i], in)
		if i > 0 {
			impl.Sgemm(blas.NoTrans, blas.NoTrans, batch, in, out, 1, f.grads[i+1], out, w, in, 0, f.grads[i], in)
		}
	}
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
