package gumbel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
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
