package eval

import (
	"context"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/backend"
	"gsvae/data"
	"gsvae/model"
)

// BenchmarkIWBound times the importance-weighted bound with k = 1000 (the
// `eval bound -iw 1000` of the README) on the first 100 test images with
// the default model's shapes, and reports s/test-set: the time the whole
// 10,000-image test set takes at that rate. The weights are a fresh
// initialisation; the time does not depend on them.
func BenchmarkIWBound(b *testing.B) {
	b.Log(backend.Describe())
	dir, err := data.FindDir("")
	if err != nil {
		b.Fatal(err)
	}
	_, _, test, err := data.Load(dir, 0)
	if err != nil {
		b.Fatal(err)
	}
	const n = 100
	s := &data.Split{Name: "test", N: n, Intensity: test.Intensity[:n*model.Pixels], Binary: test.Binary[:n*model.Pixels]}
	cfg := model.DefaultConfig()
	p, err := model.NewParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := NegIWBound(context.Background(), cfg, p, s, 1000, rand.New(rand.NewPCG(2, 2)), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*float64(test.N)/n, "s/test-set")
}
