package gumbel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestStraightThrough checks both halves of the straight-through
// Gumbel-Softmax StraightThrough(GumbelSoftmax(l, g, tau), GumbelMax(l, g))
// in float64 and float32 at tau = 0.1, 1 and 10: the forward value is
// exactly one-hot at argmax_j l_j + g_j of each variable (computed here in
// the graph's dtype, as the ops add), and the gradient of a linear loss
// sum(c * out) with respect to the logits equals, bit for bit, that of
// sum(c * GumbelSoftmax(l, g, tau)) (a linear loss has the same dL/dout
// in both graphs, which StraightThrough passes on unchanged).
func TestStraightThrough(t *testing.T) {
	const rows, k = 6, 4
	const cols = 2 * k // two variables
	for _, f32 := range []bool{false, true} {
		for _, tau := range []float64{0.1, 1, 10} {
			t.Run(fmt.Sprintf("float32=%t tau=%v", f32, tau), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(5, 5))
				l, g := randomSlice(rng, rows*cols, 3), gumbelSlice(rng, rows*cols)
				c := randomSlice(rng, rows*cols, 1)
				inputs := func() []input {
					if f32 {
						return []input{{"logits", mat(rows, to32(l))}, {"noise", mat(rows, to32(g))}, {"tau", float32(tau)}}
					}
					return []input{{"logits", mat(rows, append([]float64(nil), l...))}, {"noise", mat(rows, append([]float64(nil), g...))}, {"tau", tau}}
				}
				st := newProbe(t, inputs(), func(in G.Nodes) (*G.Node, error) {
					soft, err := GumbelSoftmax(in[0], in[1], in[2], k)
					if err != nil {
						return nil, err
					}
					hard, err := GumbelMax(in[0], in[1], k)
					if err != nil {
						return nil, err
					}
					return StraightThrough(soft, hard)
				}, []int{0}, nil, c)
				soft := newProbe(t, inputs(), func(in G.Nodes) (*G.Node, error) {
					return GumbelSoftmax(in[0], in[1], in[2], k)
				}, []int{0}, nil, c)
				z, _ := st.run(t)
				soft.run(t)
				for v := 0; v < rows*cols; v += k {
					best := 0
					for j := 1; j < k; j++ {
						if sum(f32, l[v+j], g[v+j]) > sum(f32, l[v+best], g[v+best]) {
							best = j
						}
					}
					for j := range k {
						if want := float64(btoi(j == best)); z[v+j] != want {
							t.Errorf("variable %d: z = %v, want one-hot at %d", v/k, z[v:v+k], best)
							break
						}
					}
				}
				gs, gst := soft.grad(t, 0), st.grad(t, 0)
				for i := range gs {
					if gst[i] != gs[i] {
						t.Errorf("straight-through gradient[%d] = %v, Gumbel-Softmax's %v", i, gst[i], gs[i])
					}
				}
			})
		}
	}
}

// sum returns a + b rounded as the ops add them: in float32 when f32.
func sum(f32 bool, a, b float64) float64 {
	if f32 {
		return float64(float32(a) + float32(b))
	}
	return a + b
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGumbelMaxPassesNoGradient checks what gorgonia does with GumbelMax,
// whose DiffWRT reports no differentiable input: when the logits reach the
// loss only through GumbelMax, G.Grad fails with a SymDiffError ("Non
// Differentiable WRTs"), and so it does for the noise, which no op
// differentiates; when they also reach it through Softmax, the gradient is
// exactly that of the Softmax term alone: GumbelMax adds nothing.
func TestGumbelMaxPassesNoGradient(t *testing.T) {
	const rows, k = 3, 3
	build := func(withSoftmax, withGumbelMax bool) (*G.ExprGraph, *G.Node, G.Nodes) {
		g := G.NewGraph()
		l := G.NodeFromAny(g, mat(rows, randomSlice(rand.New(rand.NewPCG(1, 1)), rows*k, 2)), G.WithName("logits"))
		noise := G.NodeFromAny(g, mat(rows, gumbelSlice(rand.New(rand.NewPCG(2, 2)), rows*k)), G.WithName("noise"))
		c := G.NodeFromAny(g, mat(rows, randomSlice(rand.New(rand.NewPCG(3, 3)), rows*k, 1)), G.WithName("c"))
		d := G.NodeFromAny(g, mat(rows, randomSlice(rand.New(rand.NewPCG(4, 4)), rows*k, 1)), G.WithName("d"))
		var terms G.Nodes
		if withGumbelMax {
			z := G.Must(GumbelMax(l, noise, k))
			terms = append(terms, G.Must(G.Sum(G.Must(G.HadamardProd(z, c)))))
		}
		if withSoftmax {
			y := G.Must(Softmax(l, k, nil))
			terms = append(terms, G.Must(G.Sum(G.Must(G.HadamardProd(y, d)))))
		}
		loss := terms[0]
		if len(terms) == 2 {
			loss = G.Must(G.Add(terms[0], terms[1]))
		}
		return g, loss, G.Nodes{l, noise}
	}
	_, loss, in := build(false, true)
	for i, name := range []string{"logits", "noise"} {
		_, err := G.Grad(loss, in[i])
		var sde G.SymDiffError
		if !errors.As(err, &sde) {
			t.Errorf("G.Grad of sum(c * GumbelMax) with respect to the %s: error %v, want a SymDiffError", name, err)
		}
	}

	gradOf := func(withGumbelMax bool) []float64 {
		g, loss, in := build(true, withGumbelMax)
		grads, err := G.Grad(loss, in[0])
		if err != nil {
			t.Fatal(err)
		}
		var v G.Value
		G.Read(grads[0], &v)
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return floats(t, v)
	}
	with, without := gradOf(true), gradOf(false)
	for i := range with {
		if with[i] != without[i] {
			t.Errorf("gradient[%d] with a GumbelMax term %v, without %v", i, with[i], without[i])
		}
	}
}
