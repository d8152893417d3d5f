//go:build !amd64 || noasm

package model

import "math"

// gumbel32 sets dst[i] = float32(-log(-log(u[i]))) for u[i] in
// [2^-53, 1 - 2^-53] with math.Log: this build has no assembly kernels.
func gumbel32(dst []float32, u []float64) { gumbel32Go(dst, u) }

// negLog64 sets dst[i] = -log(x[i]) with math.Log, the log the tests
// measure where there is no assembly kernel.
func negLog64(dst, x []float64) {
	for i, v := range x {
		dst[i] = -math.Log(v)
	}
}
