package backend

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"

	"gsvae/internal/parallel"
)

// splitBLAS is a BLAS whose float32 matrix products run as one call of
// the underlying (single-threaded) BLAS per CPU, each computing its own
// band of C's rows (when C has at least as many rows as columns) or
// columns. Each element of C is still computed by one call over the whole
// inner dimension, so the split changes which call computes it, not how.
//
// With tile set, each band is computed tile by tile, tile[0] rows by
// tile[1] columns at a time: gonum's Sgemm starts a goroutine (and
// allocates) for every 64 x 64 block of C once C has 4 of them, which
// tiles of 64 x 192 avoid.
type splitBLAS struct {
	G.BLAS
	tile [2]int
}

// minSplitWork is the number of multiply-adds below which a product runs
// in one call: under it the goroutines cost more than they save.
const minSplitWork = 1 << 18

// Sgemm computes C = alpha op(A) op(B) + beta C in bands.
func (s splitBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := product{s: s, tA: tA, tB: tB, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	parts := runtime.GOMAXPROCS(0)
	if parts < 2 || m*n*k < minSplitWork {
		p.tiles(0, 0, m, n)
		return
	}
	// The first band runs on the calling goroutine, the others on
	// parallel's helpers. (With a new goroutine per band instead, the
	// caller had to run none: while it was in C the others waited for a
	// scheduler.)
	parallel.Run(parts, func(q int) {
		if m >= n {
			lo, hi := q*m/parts, (q+1)*m/parts
			p.tiles(lo, 0, hi-lo, n)
		} else {
			lo, hi := q*n/parts, (q+1)*n/parts
			p.tiles(0, lo, m, hi-lo)
		}
	})
}

// product is one Sgemm call's arguments but its shape.
type product struct {
	s      splitBLAS
	tA, tB blas.Transpose
	k      int
	alpha  float32
	a      []float32
	lda    int
	b      []float32
	ldb    int
	beta   float32
	c      []float32
	ldc    int
}

// tiles computes the m x n block of C at row i and column j, in tiles of
// s.tile when set, else in one call.
func (p product) tiles(i, j, m, n int) {
	if m == 0 || n == 0 {
		return
	}
	tm, tn := p.s.tile[0], p.s.tile[1]
	if tm == 0 {
		tm, tn = m, n
	}
	for r := i; r < i+m; r += tm {
		for c := j; c < j+n; c += tn {
			p.block(r, c, min(tm, i+m-r), min(tn, j+n-c))
		}
	}
}

// block computes the m x n block of C at row i and column j with one call.
func (p product) block(i, j, m, n int) {
	ao, bo := i*p.lda, j
	if p.tA != blas.NoTrans {
		ao = i
	}
	if p.tB != blas.NoTrans {
		bo = j * p.ldb
	}
	p.s.BLAS.Sgemm(p.tA, p.tB, m, n, p.k, p.alpha, p.a[ao:], p.lda, p.b[bo:], p.ldb, p.beta, p.c[i*p.ldc+j:], p.ldc)
}
