package train

import (
	"math/rand/v2"
	"testing"

	"gsvae/model"
)

// BenchmarkTrainStep measures one training update of the default model
// (784-512-256-(20x10)-256-512-784, batch 100, Gumbel-Softmax at tau = 1,
// Adam included) on random binary pixels: the baseline for speed work.
// Report ms/step as ns/op / 1e6.
func BenchmarkTrainStep(b *testing.B) {
	cfg := Defaults()
	st, err := NewState(cfg)
	if err != nil {
		b.Fatal(err)
	}
	gr, err := model.NewGraph(cfg.Model, st.Params, model.Options{Batch: cfg.Batch, Grad: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	x := gr.X.Data().([]float32)
	for i := range x {
		x[i] = float32(rng.IntN(2))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := st.update(gr, cfg.Batch, 1, rng); err != nil {
			b.Fatal(err)
		}
	}
}
