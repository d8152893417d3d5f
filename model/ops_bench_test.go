package model

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkNLLForward times the Bernoulli likelihood op on a float32 batch
// of 100 images of 784 logits, the widest elementwise pass of a step.
func BenchmarkNLLForward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	l := tensor.New(tensor.WithShape(100, Pixels), tensor.Of(tensor.Float32))
	x := tensor.New(tensor.WithShape(100, Pixels), tensor.Of(tensor.Float32))
	for i := range l.Float32s() {
		l.Float32s()[i] = float32(4 * rng.NormFloat64())
		x.Float32s()[i] = float32(rng.IntN(2))
	}
	op := newNLLOp()
	in := []G.Value{l, x}
	b.ResetTimer()
	for range b.N {
		if _, err := op.Do(in...); err != nil {
			b.Fatal(err)
		}
	}
}
