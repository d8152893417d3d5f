package gumbel

import (
	"math"
	"math/rand/v2"
	"sync"

	"gsvae/internal/kernels"
	"gsvae/internal/parallel"
)

// Float is the element type of the functions on slices: float32 for
// training, float64 for the finite-difference checks.
type Float interface{ ~float32 | ~float64 }

// Sample fills dst with independent standard Gumbel noise
//
//	g = -log(-log u),  u ~ U(0,1),
//
// drawn from rng. u is drawn strictly inside (0,1), so g is always finite:
// -3.61 < g < 36.74.
//
// The draws are made in order from rng into float64 scratch space (u near
// 1 would round to 1 in float32); then both logarithms are taken. For
// float64 dst they are math.Log's; for float32 dst (training) they are
// those of kernels.Gumbel32 (fdlibm's logarithm in float64, rounded once
// to float32 within 1 float32 ulp of float32(-math.Log(-math.Log(u))),
// except for |g| below about 1e-8), split across CPUs in pieces of at
// least 65536 values (so from 131072 values on).
func Sample[T Float](dst []T, rng *rand.Rand) {
	buf := uniforms.Get().(*[]float64)
	defer uniforms.Put(buf)
	if cap(*buf) < len(dst) {
		*buf = make([]float64, len(dst))
	}
	u := (*buf)[:len(dst)]
	for i := range u {
		u[i] = uniformFromBits(rng.Uint64())
	}
	if d32, ok := any(dst).([]float32); ok {
		// The kernel takes 40 µs for a training step's 20000 values;
		// split across 2 CPUs the draws and kernel took 113 µs against
		// 86 µs on one, so it splits only into pieces of 65536 values
		// or more.
		parallel.Rows(len(d32), 1<<16, func(lo, hi int) { kernels.Gumbel32(d32[lo:hi], u[lo:hi]) })
		return
	}
	parallel.Rows(len(dst), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = T(-math.Log(-math.Log(u[i])))
		}
	})
}

// uniforms holds Sample's scratch slices, so that a training step
// allocates none.
var uniforms = sync.Pool{New: func() any { return new([]float64) }}

// uniformFromBits maps the top 52 bits of r to the midpoints of a grid of
// 2^52 cells of (0,1): from 2^-53 to 1 - 2^-53, both exactly representable.
// (With 53 bits the top midpoint 1 - 2^-54 would round to 1 and give g = +Inf.)
func uniformFromBits(r uint64) float64 {
	return (float64(r>>12) + 0.5) / (1 << 52)
}

// OneHotSample writes into z the Gumbel-max sample of each group of k logits with
// its noise: the one-hot vector of
//
//	argmax_j logits_j + g_j,
//
// an exact draw from the categorical distribution softmax(logits) of the
// group (Gumbel 1954; Maddison et al. 2014). Ties go to the first index.
// z may not share memory with logits or noise; len(logits) must be a
// multiple of k >= 1.
func OneHotSample[T Float](z, logits, noise []T, k int) {
	for g := 0; g < len(logits); g += k {
		best, bestV := 0, logits[g]+noise[g]
		for j := 1; j < k; j++ {
			if v := logits[g+j] + noise[g+j]; v > bestV {
				best, bestV = j, v
			}
		}
		clear(z[g : g+k])
		z[g+best] = 1
	}
}
