package eval

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"gsvae/backend"
	"gsvae/data"
	"gsvae/internal/kernels"
	"gsvae/model"
)

// BenchmarkIWBound times the importance-weighted bound with k = 1000 (the
// `eval bound -iw 1000` of the README) on the first 100 test images with
// the default model's shapes, and reports s/test-set: the time the whole
// 10,000-image test set takes at that rate. It also reports floor-s, the
// same for the bound's own floor: the decoder's matrix products over the
// k samples of every image (run with the faster strategy of package
// backend), its first layer being a gather of the N weight columns a
// one-hot code selects, not a product; and x-floor, the ratio, with the
// bound and the floor run alternately. The weights are a fresh
// initialisation; the time does not depend on them.
func BenchmarkIWBound(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  func(*model.Config)
	}{
		{"default", func(*model.Config) {}},
		{"linear-categorical", func(c *model.Config) { c.Hidden = nil }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := model.DefaultConfig()
			tc.cfg(&cfg)
			benchmarkIW(b, cfg)
		})
	}
}

func benchmarkIW(b *testing.B, cfg model.Config) {
	b.Log(backend.Describe())
	dir, err := data.FindDir("")
	if err != nil {
		b.Fatal(err)
	}
	_, _, test, err := data.Load(dir, 0)
	if err != nil {
		b.Fatal(err)
	}
	const n, k = 100, 1000
	s := &data.Split{Name: "test", N: n, Intensity: test.Intensity[:n*model.Pixels], Binary: test.Binary[:n*model.Pixels]}
	p, err := model.NewParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	floor := newIWFloor(cfg, k)
	chosen := backend.CurrentStrategy()
	defer backend.SetStrategy(chosen)
	var boundTime, floorTime time.Duration
	b.ResetTimer()
	for range b.N {
		backend.SetStrategy(chosen)
		start := time.Now()
		if _, err := NegIWBound(context.Background(), cfg, p, s, k, rand.New(rand.NewPCG(2, 2)), nil); err != nil {
			b.Fatal(err)
		}
		boundTime += time.Since(start)
		b.StopTimer()
		best := time.Duration(1 << 62)
		for _, st := range []backend.Strategy{backend.Split, backend.Threads} {
			backend.SetStrategy(st)
			start = time.Now()
			for range n {
				floor.run()
			}
			best = min(best, time.Since(start))
		}
		floorTime += best
		b.StartTimer()
	}
	scale := float64(test.N) / n / float64(b.N)
	b.ReportMetric(boundTime.Seconds()*scale, "s/test-set")
	b.ReportMetric(floorTime.Seconds()*scale, "floor-s")
	b.ReportMetric(boundTime.Seconds()/floorTime.Seconds(), "x-floor")
}

// iwFloor is the floor of one image's k samples: the first decoder layer
// as a gather (bias plus the N columns of W^T a code selects) and the
// products of the later layers.
type iwFloor struct {
	cfg      model.Config
	k        int
	wt, y    []float32 // first layer's W^T (Code, out) and output (k, out)
	codes    [][]int   // the columns each sample selects
	products *backend.Floor
}

func newIWFloor(cfg model.Config, k int) *iwFloor {
	names, shapes := cfg.Shapes()
	var dec [][]int
	for i, name := range names {
		if len(name) > 3 && name[:3] == "dec" && name[len(name)-2:] == ".w" {
			dec = append(dec, shapes[i])
		}
	}
	f := &iwFloor{cfg: cfg, k: k}
	out := dec[0][0]
	f.wt, f.y = make([]float32, cfg.Code()*out), make([]float32, k*out)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range f.wt {
		f.wt[i] = float32(rng.NormFloat64())
	}
	for range k {
		var c []int
		for v := range cfg.N { // a one-hot code: one class per variable
			c = append(c, v*cfg.K+rng.IntN(cfg.K))
		}
		f.codes = append(f.codes, c)
	}
	var ps []backend.Product
	for _, sh := range dec[1:] { // forward products x W^T of the later layers
		ps = append(ps, backend.Product{TransB: true, M: k, N: sh[0], K: sh[1], ZeroA: 0.5})
	}
	f.products = backend.NewFloor(ps, 4)
	return f
}

// run decodes one image's k samples' worth of floor work.
func (f *iwFloor) run() {
	out := len(f.y) / f.k
	for r, c := range f.codes {
		y := f.y[r*out : (r+1)*out]
		clear(y)
		for _, j := range c {
			kernels.BiasAct(y, f.wt[j*out:(j+1)*out], false)
		}
	}
	f.products.Run()
}
