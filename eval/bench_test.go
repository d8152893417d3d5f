package eval

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"gsvae/backend"
	"gsvae/data"
	"gsvae/internal/kernels"
	"gsvae/internal/parallel"
	"gsvae/model"
)

// BenchmarkIWBound times the importance-weighted bound with k = 1000 (the
// `eval bound -iw 1000` of the README) on the first 100 test images, with
// the shapes of the default model, the paper's linear categorical VAE and
// its two SBNs, and reports s/test-set: the time the whole 10,000-image
// test set takes at that rate. It also reports floor-s, the same for the
// bound's own floor: the matrix products over the k samples of every
// image (run with the faster strategy of package backend), each layer
// that reads a sample being a gather of the weight columns the code
// selects, not a product (see iwFloor); and x-floor, the ratio, with the
// bound and the floor run alternately. The weights are a fresh
// initialisation; the time does not depend on them.
func BenchmarkIWBound(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  func(*model.Config)
	}{
		{"default", func(*model.Config) {}},
		{"linear-categorical", func(c *model.Config) { c.Hidden = nil }},
		{"sbn-bernoulli", func(c *model.Config) {
			c.Task, c.Hidden, c.Kind, c.N, c.K = model.TaskSBN, nil, model.LatentBernoulli, 200, 2
		}},
		{"sbn-categorical", func(c *model.Config) { c.Task, c.Hidden = model.TaskSBN, nil }},
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

// iwFloor is the floor of one image's k samples: every layer that reads a
// sample as a gather (bias plus the columns of W^T that the code
// selects), and the products of the deterministic layers after them (the
// VAE's later decoder layers). A VAE's decoder reads one sample, an SBN's
// second layer and decoder read one each.
type iwFloor struct {
	gathers  []*gather
	products *backend.Floor
}

// gather is one layer that reads a sample, over k samples.
type gather struct {
	wt, y []float32 // W^T (Code, out) and the output (k, out)
	codes [][]int   // the columns each sample selects
}

func newIWFloor(cfg model.Config, k int) *iwFloor {
	names, shapes := cfg.Shapes()
	f := &iwFloor{}
	rng := rand.New(rand.NewPCG(3, 3))
	var ps []backend.Product
	for i, name := range names {
		if !strings.HasSuffix(name, ".w") || strings.HasPrefix(name, "enc") || name == "h1.w" {
			continue // not read by the bound's later pieces
		}
		out := shapes[i][0]
		if name != "dec0.w" && strings.HasPrefix(name, "dec") { // forward products x W^T of the VAE's later layers
			ps = append(ps, backend.Product{TransB: true, M: k, N: out, K: shapes[i][1], ZeroA: 0.5})
			continue
		}
		g := &gather{wt: make([]float32, cfg.Code()*out), y: make([]float32, k*out)}
		for j := range g.wt {
			g.wt[j] = float32(rng.NormFloat64())
		}
		for range k {
			var c []int
			for v := range cfg.N {
				switch {
				case cfg.Bernoulli(): // the variables that are 1, half of them on average
					if rng.IntN(2) == 1 {
						c = append(c, v)
					}
				default: // a one-hot code: one class per variable
					c = append(c, v*cfg.K+rng.IntN(cfg.K))
				}
			}
			g.codes = append(g.codes, c)
		}
		f.gathers = append(f.gathers, g)
	}
	f.products = backend.NewFloor(ps, 4)
	return f
}

// run decodes one image's k samples' worth of floor work.
func (f *iwFloor) run() {
	for _, g := range f.gathers {
		out := len(g.y) / len(g.codes)
		parallel.Rows(len(g.codes), 16, func(lo, hi int) { // on every CPU, as the bound's gathers
			for r := lo; r < hi; r++ {
				y := g.y[r*out : (r+1)*out]
				clear(y)
				for _, j := range g.codes[r] {
					kernels.BiasAct(y, g.wt[j*out:(j+1)*out], false)
				}
			}
		})
	}
	f.products.Run()
}
