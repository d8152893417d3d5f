package gumbel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/op"
)

// TestCategoricalKLMatchesEnumeration compares the analytic KL of N
// variables of k classes with KL(q || p) summed over all k^N joint states
// z of the row: sum_z q(z) log(q(z) / p(z)), q(z) = prod_n q_n(z_n) and
// p(z) = prod_n p_n(z_n) from the marginals softmax(logits_n) (computed
// with SoftmaxGroups in float64), for the uniform prior p_n = 1/k and for
// a learned prior softmax(prior_n) shared by the batch's rows. Tolerance
// in float64 1e-12: rounding of a sum of at most 9 terms of size below
// 10, and of the op's logarithms (kernels.NegLog64, 1 float64 ulp). In
// float32 (the enumeration then takes the logits rounded to float32) the
// op's exponentials have a relative error of about 2e-7
// (kernels.ExpNeg32), which moves each term q_j log(q_j/p_j) by about
// 2e-7 q_j |log(q_j/p_j) + 1|, and the result is rounded to float32:
// tolerance 1e-6 (1 + KL).
func TestCategoricalKLMatchesEnumeration(t *testing.T) {
	const rows = 5
	for _, tc := range []struct {
		n, k         int
		learned, f32 bool
	}{
		{2, 3, false, false}, {2, 3, true, false}, {3, 2, false, false}, {3, 2, true, false}, {1, 5, true, false},
		{2, 3, false, true}, {2, 3, true, true},
	} {
		t.Run(fmt.Sprintf("N=%d k=%d learned=%t float32=%t", tc.n, tc.k, tc.learned, tc.f32), func(t *testing.T) {
			cols := tc.n * tc.k
			rng := rand.New(rand.NewPCG(3, uint64(cols)))
			logits := randomSlice(rng, rows*cols, 2)
			prior := make([]float64, cols) // zero logits: uniform
			if tc.learned {
				prior = randomSlice(rng, cols, 1)
			}
			in := []input{{"logits", mat(rows, append([]float64(nil), logits...))}, {"prior", mat(1, append([]float64(nil), prior...))}}
			tol := func(float64) float64 { return 1e-12 }
			if tc.f32 {
				for i, v := range logits {
					logits[i] = float64(float32(v))
				}
				for i, v := range prior {
					prior[i] = float64(float32(v))
				}
				in = []input{{"logits", mat(rows, to32(logits))}, {"prior", mat(1, to32(prior))}}
				tol = func(kl float64) float64 { return 1e-6 * (1 + kl) }
			}
			if !tc.learned {
				in = in[:1]
			}
			p := newProbe(t, in, func(in G.Nodes) (*G.Node, error) {
				if tc.learned {
					return CategoricalKL(in[0], tc.k, in[1])
				}
				return CategoricalKL(in[0], tc.k, nil)
			}, nil, rng, nil)
			kl, _ := p.run(t)
			pp := make([]float64, cols)
			SoftmaxGroups(pp, prior, tc.k, 1)
			for r := range rows {
				q := make([]float64, cols)
				SoftmaxGroups(q, logits[r*cols:(r+1)*cols], tc.k, 1)
				var want float64
				states := int(math.Pow(float64(tc.k), float64(tc.n)))
				for s := range states {
					qz, pz := 1.0, 1.0
					for v, rest := 0, s; v < tc.n; v, rest = v+1, rest/tc.k {
						j := v*tc.k + rest%tc.k
						qz *= q[j]
						pz *= pp[j]
					}
					want += qz * math.Log(qz/pz)
				}
				if math.Abs(kl[r]-want) > tol(want) {
					t.Errorf("row %d: KL = %.15g, enumeration %.15g", r, kl[r], want)
				}
			}
		})
	}
}

// TestKLGradientCache checks the cache that carries dKL/dlogits from the
// forward op to the gradient op (klCache): the gradient it gives equals,
// bit for bit, the one computed from the logits again; it is used only
// for the logits it was computed from (a gradient for other logits, or a
// second gradient after one forward pass, computes afresh); and in a real
// graph the gradient op built by SymDiff consumes it.
func TestKLGradientCache(t *testing.T) {
	const k = 3
	rng := rand.New(rand.NewPCG(7, 7))
	dense := func(r, c int) *tensor.Dense {
		v := make([]float64, r*c)
		for i := range v {
			v[i] = 3 * rng.NormFloat64()
		}
		return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(v))
	}
	a, b, dout := dense(2, 6), dense(2, 6), tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{0.7, -1.3}))
	c := &klCache{wanted: true}
	fwd := klOp{k: k, buf: new(op.Buffer), cache: c}
	grad := klOp{k: k, what: klLogits, buf: new(op.Buffer), cache: c}
	afresh := func(x *tensor.Dense) []float64 {
		g, err := klOp{k: k, what: klLogits, buf: new(op.Buffer)}.Do(x, dout)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float64(nil), g.Data().([]float64)...)
	}
	for _, tc := range []struct {
		name       string
		forward    *tensor.Dense // the logits of the forward pass
		backward   []*tensor.Dense
		cacheAfter []bool // whether the cache still holds a gradient after each backward call
	}{
		{"same logits", a, []*tensor.Dense{a}, []bool{false}},
		{"other logits", a, []*tensor.Dense{b}, []bool{true}},
		{"twice after one forward", a, []*tensor.Dense{a, a}, []bool{false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fwd.Do(tc.forward); err != nil {
				t.Fatal(err)
			}
			if c.dkl == nil {
				t.Fatal("the forward op left the cache empty")
			}
			for i, x := range tc.backward {
				g, err := grad.Do(x, dout)
				if err != nil {
					t.Fatal(err)
				}
				got, want := g.Data().([]float64), afresh(x)
				for j := range want {
					if got[j] != want[j] {
						t.Fatalf("call %d: dL/dlogits[%d] = %v, computed afresh %v", i, j, got[j], want[j])
					}
				}
				if (c.dkl != nil) != tc.cacheAfter[i] {
					t.Errorf("call %d: cache holds a gradient: %t, want %t", i, c.dkl != nil, tc.cacheAfter[i])
				}
			}
			c.dkl, c.from = nil, nil
		})
	}
	t.Run("graph", func(t *testing.T) {
		g := G.NewGraph()
		l := G.NewMatrix(g, G.Float64, G.WithName("l"), G.WithValue(dense(2, 6)))
		kl, err := CategoricalKL(l, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := G.Grad(G.Must(G.Sum(kl)), l); err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		o := kl.Op().(klOp)
		if !o.cache.wanted || o.cache.dkl != nil {
			t.Errorf("after a forward and backward pass: cache wanted %t, holding a gradient %t; want true, false", o.cache.wanted, o.cache.dkl != nil)
		}
	})
}
