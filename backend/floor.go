package backend

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
)

// Product is the shape of one float32 matrix product C = op(A) op(B), C
// being M x N and the inner dimension K, as a computation makes it. ZeroA
// is the fraction of A's entries that are zero (binary pixels, ReLU
// outputs and their masked gradients): gonum's kernels skip zero entries,
// so a floor for gonum must have the computation's sparsity.
type Product struct {
	TransA, TransB bool
	M, N, K        int
	ZeroA          float64
}

// LinearProducts returns the products of one linear layer y = x W^T of a
// training step with batch rows, W stored (out, in): the forward product
// x W^T, the weight gradient dy^T x and, when inputGrad is set, the input
// gradient dy W. zeroX is the fraction of zeros in x (and in dy for the
// input gradient when the layer's output goes through a ReLU, given by
// zeroDY).
func LinearProducts(batch, in, out int, inputGrad bool, zeroX, zeroDY float64) []Product {
	ps := []Product{
		{TransB: true, M: batch, N: out, K: in, ZeroA: zeroX},
		{TransA: true, M: out, N: in, K: batch, ZeroA: zeroDY},
	}
	if inputGrad {
		ps = append(ps, Product{M: batch, N: in, K: out, ZeroA: zeroDY})
	}
	return ps
}

// Floor holds the operands of a list of products and runs them back to
// back with the BLAS in use: the GEMM-only floor of a computation, the
// time no implementation of it can beat with this BLAS and strategy.
type Floor struct {
	ps      []Product
	a, b, c [][]float32
}

// NewFloor draws random operands for the products from seed.
func NewFloor(ps []Product, seed uint64) *Floor {
	rng := rand.New(rand.NewPCG(seed, 0xf100))
	f := &Floor{ps: ps}
	for _, p := range ps {
		a := make([]float32, p.M*p.K)
		for i := range a {
			if rng.Float64() >= p.ZeroA {
				a[i] = float32(rng.NormFloat64())
			}
		}
		b := make([]float32, p.K*p.N)
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		f.a, f.b, f.c = append(f.a, a), append(f.b, b), append(f.c, make([]float32, p.M*p.N))
	}
	return f
}

// Run makes every product once.
func (f *Floor) Run() {
	impl := BLAS()
	for i, p := range f.ps {
		ta, lda := blas.NoTrans, p.K
		if p.TransA {
			ta, lda = blas.Trans, p.M
		}
		tb, ldb := blas.NoTrans, p.N
		if p.TransB {
			tb, ldb = blas.Trans, p.K
		}
		impl.Sgemm(ta, tb, p.M, p.N, p.K, 1, f.a[i], lda, f.b[i], ldb, 0, f.c[i], p.N)
	}
}

// MACs returns the multiply-adds of one Run.
func (f *Floor) MACs() int {
	n := 0
	for _, p := range f.ps {
		n += p.M * p.N * p.K
	}
	return n
}
