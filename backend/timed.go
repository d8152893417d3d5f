package backend

import (
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
)

// productNanos is the wall-clock time of every float32 product so far, in
// nanoseconds.
var productNanos atomic.Int64

// ProductTime returns the wall-clock time that the float32 matrix
// products of this process have taken so far, summed over calls: every
// Sgemm through the BLAS this package installs (gorgonia's, the model's
// and the floors'), under either strategy. Read around a block of
// training steps it splits their time into the products and everything
// else (BenchmarkTrainStep's products-ms). A call costs two readings of
// the clock, against products of tens of microseconds or more.
func ProductTime() time.Duration { return time.Duration(productNanos.Load()) }

// timed is a BLAS whose Sgemm adds its wall-clock time to productNanos.
type timed struct{ G.BLAS }

// Sgemm computes C = alpha op(A) op(B) + beta C with the wrapped BLAS.
func (t timed) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	start := time.Now()
	t.BLAS.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	productNanos.Add(int64(time.Since(start)))
}
