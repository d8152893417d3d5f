package model

import (
	"math"
	"math/rand/v2"
)

// SampleGumbel fills dst with independent standard Gumbel noise
// g = -log(-log u), u ~ U(0,1). u is drawn strictly inside (0,1), so g is
// always finite: -3.61 < g < 36.74.
//
// The draws and the first logarithm, e = -log u in (0, 37], are made in
// order from rng; the second, g = -log e, on all CPUs. (e, not u, is what
// is stored between the passes: u near 1 would round to 1 in float32.)
func SampleGumbel[T Float](dst []T, rng *rand.Rand) {
	for i := range dst {
		dst[i] = T(-math.Log(openUniform(rng)))
	}
	parallelRows(len(dst), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = T(-math.Log(float64(dst[i])))
		}
	})
}

// openUniform returns a uniform draw from the open interval (0,1).
func openUniform(rng *rand.Rand) float64 { return uniformFromBits(rng.Uint64()) }

// uniformFromBits maps the top 52 bits of r to the midpoints of a grid of
// 2^52 cells of (0,1): from 2^-53 to 1 - 2^-53, both exactly representable.
// (With 53 bits the top midpoint 1 - 2^-54 would round to 1 and give g = +Inf.)
func uniformFromBits(r uint64) float64 {
	return (float64(r>>12) + 0.5) / (1 << 52)
}
