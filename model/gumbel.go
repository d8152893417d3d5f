package model

import (
	"math"
	"math/rand/v2"
	"sync"
)

// SampleGumbel fills dst with independent standard Gumbel noise
// g = -log(-log u), u ~ U(0,1). u is drawn strictly inside (0,1), so g is
// always finite: -3.61 < g < 36.74.
//
// The draws are made in order from rng into a scratch slice of float64
// (u near 1 would round to 1 in float32); then both logarithms are taken.
// For float64 dst they are math.Log's, on all CPUs. For []float32 dst
// (training) they are gumbel32's, on all CPUs beyond 65536 values: on CPUs with AVX2 and FMA an assembly
// kernel computes both logs in float64, four lanes at a time, to about 1
// float64 ulp, and rounds once to float32, so each value is within 1
// float32 ulp of float32(-math.Log(-math.Log(u))) except for |g| below
// about 1e-8, where an absolute error of a few 1e-16 (the inner log's
// relative error) is larger than that ulp (TestGumbelKernel).
func SampleGumbel[T Float](dst []T, rng *rand.Rand) {
	buf := uniforms.Get().(*[]float64)
	defer uniforms.Put(buf)
	if cap(*buf) < len(dst) {
		*buf = make([]float64, len(dst))
	}
	u := (*buf)[:len(dst)]
	for i := range u {
		u[i] = openUniform(rng)
	}
	if d32, ok := any(dst).([]float32); ok {
		// The kernel takes 40 µs for a training step's 20000 values;
		// split across 2 CPUs the draws and kernel took 113 µs against
		// 86 µs on one, so it splits only beyond 65536 values.
		parallelRows(len(d32), 1<<16, func(lo, hi int) { gumbel32(d32[lo:hi], u[lo:hi]) })
		return
	}
	parallelRows(len(dst), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = T(-math.Log(-math.Log(u[i])))
		}
	})
}

// gumbel32Go sets dst[i] = float32(-log(-log(u[i]))) with math.Log: the
// float32 noise where the assembly kernel cannot run, and its tail.
func gumbel32Go(dst []float32, u []float64) {
	for i, v := range u[:len(dst)] {
		dst[i] = float32(-math.Log(-math.Log(v)))
	}
}

// uniforms holds SampleGumbel's scratch slices, so that a training step
// allocates none.
var uniforms = sync.Pool{New: func() any { return new([]float64) }}

// openUniform returns a uniform draw from the open interval (0,1).
func openUniform(rng *rand.Rand) float64 { return uniformFromBits(rng.Uint64()) }

// uniformFromBits maps the top 52 bits of r to the midpoints of a grid of
// 2^52 cells of (0,1): from 2^-53 to 1 - 2^-53, both exactly representable.
// (With 53 bits the top midpoint 1 - 2^-54 would round to 1 and give g = +Inf.)
func uniformFromBits(r uint64) float64 {
	return (float64(r>>12) + 0.5) / (1 << 52)
}
