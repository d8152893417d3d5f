package model

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randMatrix returns a float32 matrix of standard normal values times
// scale.
func randMatrix(rng *rand.Rand, rows, cols int, scale float64) *tensor.Dense {
	m := tensor.New(tensor.WithShape(rows, cols), tensor.Of(tensor.Float32))
	for i := range m.Float32s() {
		m.Float32s()[i] = float32(scale * rng.NormFloat64())
	}
	return m
}

// benchOp times op.Do on the inputs.
func benchOp(b *testing.B, op G.Op, in ...G.Value) {
	if _, err := op.Do(in...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := op.Do(in...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepOps times the other ops of a training step of the default
// model (batch 100, 20x10 latents) in float32, one at a time: the bias and
// ReLU pass of a 512-wide layer (its product aside), the ReLU gradient and bias gradient of a
// 512-wide layer, the categorical KL, and the Gumbel-Softmax relaxation.
func BenchmarkStepOps(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	bias := randMatrix(rng, 1, 512, 0.1).Float32s()
	y, dy := randMatrix(rng, 100, 512, 1), randMatrix(rng, 100, 512, 1)
	for i, v := range y.Float32s() {
		y.Float32s()[i] = max(v, 0)
	}
	logits, noise := randMatrix(rng, 100, 200, 2), randMatrix(rng, 100, 200, 1)
	tau := G.NewF32(0.5)
	b.Run("BiasReLU", func(b *testing.B) {
		z := y.Clone().(*tensor.Dense).Float32s()
		for range b.N {
			addBiasRows(z, bias, 100, true)
		}
	})
	b.Run("ReLUGrad", func(b *testing.B) { benchOp(b, reluGradOp{buf: new(outBuf)}, y, dy) })
	b.Run("ColSum", func(b *testing.B) { benchOp(b, colSumOp{buf: new(outBuf)}, dy) })
	b.Run("KL", func(b *testing.B) { benchOp(b, newKLOp(10, false), logits) })
	b.Run("GumbelSoftmax", func(b *testing.B) { benchOp(b, newRelaxOp(10, false), logits, noise, tau) })
}

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
