package gumbel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestGradientsFiniteDifferences checks the backward pass of every
// differentiable op, through gorgonia's own G.Grad, against central
// differences of L = sum(c * out) for random c, in float64 (step and
// tolerance derived at fdStep). The temperatures run from 0.1 (gradients
// of 1/tau = 10 times the logits' scale, where a missing 1/tau shows) to
// 5; each op is differentiated with respect to every input that has a
// gradient: the logits, a learned prior, the log-sample x.
func TestGradientsFiniteDifferences(t *testing.T) {
	const rows, n, k = 3, 2, 3 // 3 rows of 2 variables of 3 classes
	const cols = n * k
	type tcase struct {
		name   string
		inputs func(rng *rand.Rand) []input
		build  func(in G.Nodes) (*G.Node, error)
		wrt    []int
	}
	logitsNoiseTau := func(tau float64) func(rng *rand.Rand) []input {
		return func(rng *rand.Rand) []input {
			return []input{
				{"logits", mat(rows, randomSlice(rng, rows*cols, 2))},
				{"noise", mat(rows, gumbelSlice(rng, rows*cols))},
				{"tau", tau},
			}
		}
	}
	var cases []tcase
	for _, tau := range []float64{0.1, 0.5, 1, 5} {
		cases = append(cases, tcase{
			name:   fmt.Sprintf("GumbelSoftmax tau=%v", tau),
			inputs: logitsNoiseTau(tau),
			build:  func(in G.Nodes) (*G.Node, error) { return GumbelSoftmax(in[0], in[1], in[2], k) },
			wrt:    []int{0},
		})
	}
	for _, tau := range []float64{0.1, 2} {
		cases = append(cases, tcase{
			name: fmt.Sprintf("Softmax tau=%v", tau),
			inputs: func(rng *rand.Rand) []input {
				return []input{{"x", mat(rows, randomSlice(rng, rows*cols, 2))}, {"tau", tau}}
			},
			build: func(in G.Nodes) (*G.Node, error) { return Softmax(in[0], k, in[1]) },
			wrt:   []int{0},
		})
	}
	xOnly := func(rng *rand.Rand) []input { return []input{{"x", mat(rows, randomSlice(rng, rows*cols, 2))}} }
	priorInputs := func(rng *rand.Rand) []input {
		return []input{
			{"logits", mat(rows, randomSlice(rng, rows*cols, 2))},
			{"prior", mat(1, randomSlice(rng, cols, 1))},
		}
	}
	cases = append(cases,
		tcase{"Softmax no tau", xOnly, func(in G.Nodes) (*G.Node, error) { return Softmax(in[0], k, nil) }, []int{0}},
		tcase{"LogSoftmax", xOnly, func(in G.Nodes) (*G.Node, error) { return LogSoftmax(in[0], k) }, []int{0}},
		tcase{"CategoricalKL uniform k=3", xOnly, func(in G.Nodes) (*G.Node, error) { return CategoricalKL(in[0], k, nil) }, []int{0}},
		tcase{"CategoricalKL uniform k=2", xOnly, func(in G.Nodes) (*G.Node, error) { return CategoricalKL(in[0], 2, nil) }, []int{0}},
		tcase{"CategoricalKL learned prior", priorInputs, func(in G.Nodes) (*G.Node, error) { return CategoricalKL(in[0], k, in[1]) }, []int{0, 1}},
	)
	for _, tc := range []struct{ tau, priorTau float64 }{{1, 1}, {0.5, 2.0 / 3}, {0.1, 0.5}, {2, 0.5}} {
		cases = append(cases, tcase{
			name:   fmt.Sprintf("RelaxedKL tau=%v priorTau=%.3g", tc.tau, tc.priorTau),
			inputs: logitsNoiseTau(tc.tau),
			build:  func(in G.Nodes) (*G.Node, error) { return RelaxedKL(in[0], in[1], in[2], k, tc.priorTau) },
			wrt:    []int{0},
		})
	}
	for _, lambda := range []float64{0.3, 1, 2} {
		cases = append(cases, tcase{
			name: fmt.Sprintf("LogExpConcrete lambda=%v", lambda),
			inputs: func(rng *rand.Rand) []input {
				// x on the log-simplex (a log-softmax of random values), as
				// the op sees it; the density's formula is smooth off it too.
				x := randomSlice(rng, rows*cols, 2)
				LogSoftmaxGroups(x, x, k)
				return []input{{"x", mat(rows, x)}, {"logits", mat(rows, randomSlice(rng, rows*cols, 2))}, {"lambda", lambda}}
			},
			build: func(in G.Nodes) (*G.Node, error) { return LogExpConcrete(in[0], in[1], in[2], k) },
			wrt:   []int{0, 1},
		})
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(i)))
			p := newProbe(t, tc.inputs(rng), tc.build, tc.wrt, rng, nil)
			for gi, in := range tc.wrt {
				worst := checkFiniteDifferences(t, p, in, gi)
				t.Logf("input %d: largest error %.2g (tolerance %g)", in, worst, fdTol)
			}
		})
	}
}
