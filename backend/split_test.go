package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestSplitSgemm checks splitBLAS against one unsplit call of gonum's
// Sgemm for every transpose form, for products split by rows (m >= n) and
// by columns, with sizes that do not divide evenly, beta 0 and 0.5, and
// leading dimensions larger than the matrices. Tolerance: 1e-4 relative
// to the sum of |terms|, float32 rounding over k <= 300 products.
func TestSplitSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := splitBLAS{base(), tile}
	for _, tc := range []struct{ m, n, k int }{{301, 97, 150}, {97, 301, 150}, {64, 64, 64}, {3, 5, 7}} {
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				for _, beta := range []float32{0, 0.5} {
					name := fmt.Sprintf("%dx%dx%d,%c%c,beta=%v", tc.m, tc.n, tc.k, tA, tB, beta)
					ar, ac := tc.m, tc.k
					if tA == blas.Trans {
						ar, ac = ac, ar
					}
					br, bc := tc.k, tc.n
					if tB == blas.Trans {
						br, bc = bc, br
					}
					lda, ldb, ldc := ac+3, bc+1, tc.n+2
					a, b := randSlice(rng, ar*lda), randSlice(rng, br*ldb)
					c := randSlice(rng, tc.m*ldc)
					want, abs := append([]float32(nil), c...), make([]float32, len(c))
					gonum.Implementation{}.Sgemm(tA, tB, tc.m, tc.n, tc.k, 1.5, a, lda, b, ldb, beta, want, ldc)
					absA, absB := absSlice(a), absSlice(b)
					gonum.Implementation{}.Sgemm(tA, tB, tc.m, tc.n, tc.k, 1.5, absA, lda, absB, ldb, 0, abs, ldc)
					s.Sgemm(tA, tB, tc.m, tc.n, tc.k, 1.5, a, lda, b, ldb, beta, c, ldc)
					for i := range c {
						if math.Abs(float64(c[i]-want[i])) > 1e-4*(float64(abs[i])+1) {
							t.Fatalf("%s: C[%d] = %v, want %v", name, i, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func absSlice(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

// TestSplitIsReproducible checks that the split changes no bit of the
// product, whatever the number of bands: every element of C is still
// computed by one call over the whole inner dimension. The shapes are the
// model's three products (forward, weight gradient, input gradient) at
// batch 100. OpenBLAS is not checked: its kernels for a band's edge round
// differently (1 ulp at 3 bands), so its runs reproduce at a given CPU
// count only, as the README says.
func TestSplitIsReproducible(t *testing.T) {
	if Name == "openblas" {
		t.Skip("OpenBLAS products depend on the band width in the last bit")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	s := splitBLAS{base(), tile}
	for _, tc := range []struct {
		tA, tB  blas.Transpose
		m, n, k int
	}{{blas.NoTrans, blas.Trans, 100, 512, 784}, {blas.Trans, blas.NoTrans, 512, 784, 100}, {blas.NoTrans, blas.NoTrans, 100, 784, 512}} {
		lda, ldb := tc.k, tc.n
		if tc.tA == blas.Trans {
			lda = tc.m
		}
		if tc.tB == blas.Trans {
			ldb = tc.k
		}
		a, b := randSlice(rng, tc.m*tc.k), randSlice(rng, tc.k*tc.n)
		var first []float32
		for _, procs := range []int{1, 2, 3} {
			prev := runtime.GOMAXPROCS(procs)
			c := make([]float32, tc.m*tc.n)
			s.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, 1, a, lda, b, ldb, 0, c, tc.n)
			runtime.GOMAXPROCS(prev)
			if first == nil {
				first = c
				continue
			}
			for i := range c {
				if c[i] != first[i] {
					t.Fatalf("%dx%dx%d with %d bands: C[%d] = %v, one band gives %v", tc.m, tc.n, tc.k, procs, i, c[i], first[i])
				}
			}
		}
	}
}
