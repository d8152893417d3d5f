package gumbel

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/op"
)

// Central differences: (L(v+h) - L(v-h)) / 2h differs from dL/dv by the
// truncation error h^2/6 |d3L/dv3| and a rounding error of about
// eps |L| / h (eps = 2.2e-16, the float64 rounding of the two runs of the
// graph). With h = 1e-6 they are 1.7e-13 |d3L/dv3| and 2.2e-10 |L|. In
// the tests below |L| is at most a few hundred and |d3L/dv3| at most
// about 1e5 (third derivatives of a softmax at temperature tau scale as
// 1/tau^3, tau >= 0.1), so both terms stay below 1e-7. fdTol = 1e-6,
// relative to max(1, |fd|), keeps a margin of 10 or more (the errors
// observed are about 1e-9), while a wrong term in a gradient (a missing
// 1/tau, a sign, a forgotten path) is off by O(1) of the gradient.
const (
	fdStep = 1e-6
	fdTol  = 1e-6
)

// randomSlice returns n normal draws times scale.
func randomSlice(rng *rand.Rand, n int, scale float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = scale * rng.NormFloat64()
	}
	return s
}

// gumbelSlice returns n draws of standard Gumbel noise.
func gumbelSlice(rng *rand.Rand, n int) []float64 {
	g := make([]float64, n)
	Sample(g, rng)
	return g
}

// to32 returns s rounded to float32.
func to32(s []float64) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

// mat returns a (rows, len(data)/rows) dense tensor on data.
func mat[T op.Float](rows int, data []T) *tensor.Dense {
	return tensor.New(tensor.WithShape(rows, len(data)/rows), tensor.WithBacking(data))
}

// floats returns a float32 or float64 value (tensor or scalar) as a new
// []float64.
func floats(t testing.TB, v G.Value) []float64 {
	t.Helper()
	switch s := v.(type) {
	case *G.F32, *G.F64:
		x, err := op.Scalar(s)
		if err != nil {
			t.Fatal(err)
		}
		return []float64{x}
	}
	out := op.Float64s(nil, v)
	if out == nil {
		t.Fatalf("value %v (%T) is not a float tensor", v, v)
	}
	return out
}

// isFinite reports whether every element of x is finite.
func isFinite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// probe is a graph around one op under test: input nodes holding the
// given values, the op's output out = build(inputs), the loss
// L = sum(c * out) for c drawn from N(0, 1) (or all ones), and the
// gradients of L with respect to the inputs wrt. A linear loss makes
// dL/dout = c, so the gradients isolate the op's own backward pass. Every
// value is read by G.Read, as the tape machine may overwrite a node's
// value in place once its last reader has run. The inputs' backing slices
// may be edited between runs.
type probe struct {
	vm       G.VM
	in       []G.Value // the inputs' values, in order
	c        []float64 // the loss's weights
	cIn      G.Value   // their value in the graph
	out, l   G.Value
	grads    []G.Value
	gradNode G.Nodes
}

// input is one input of a probe: a name and a *tensor.Dense or a float32
// or float64 scalar.
type input struct {
	name string
	v    any
}

// newProbe builds a probe. c gives the loss's weights: nil draws them
// from rng, otherwise they are c (as many as out has elements).
func newProbe(t testing.TB, inputs []input, build func(G.Nodes) (*G.Node, error), wrt []int, rng *rand.Rand, c []float64) *probe {
	t.Helper()
	g := G.NewGraph()
	p := &probe{}
	var nodes G.Nodes
	for _, in := range inputs {
		n := G.NodeFromAny(g, in.v, G.WithName(in.name))
		nodes = append(nodes, n)
		p.in = append(p.in, n.Value())
	}
	out, err := build(nodes)
	if err != nil {
		t.Fatal(err)
	}
	size := out.Shape().TotalSize()
	if c == nil {
		c = randomSlice(rng, size, 1)
	}
	var cv *tensor.Dense
	if out.Dtype() == tensor.Float32 {
		cv = tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(to32(c)))
	} else {
		cv = tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(append([]float64(nil), c...)))
	}
	p.c, p.cIn = c, cv
	cn := G.NodeFromAny(g, cv, G.WithName("c"))
	prod, err := G.HadamardProd(out, cn)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	G.Read(out, &p.out)
	G.Read(loss, &p.l)
	if len(wrt) > 0 {
		var ws G.Nodes
		for _, i := range wrt {
			ws = append(ws, nodes[i])
		}
		if p.gradNode, err = G.Grad(loss, ws...); err != nil {
			t.Fatal(err)
		}
		p.grads = make([]G.Value, len(wrt))
		for i, n := range p.gradNode {
			G.Read(n, &p.grads[i])
		}
	}
	p.vm = G.NewTapeMachine(g)
	t.Cleanup(func() { p.vm.Close() })
	return p
}

// run runs the graph once and returns its output and loss as float64.
func (p *probe) run(t testing.TB) (out []float64, loss float64) {
	t.Helper()
	if err := p.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	p.vm.Reset()
	return floats(t, p.out), floats(t, p.l)[0]
}

// grad returns the i-th gradient of the last run as float64.
func (p *probe) grad(t testing.TB, i int) []float64 {
	t.Helper()
	return floats(t, p.grads[i])
}

// checkFiniteDifferences compares the gradient of the probe's loss with
// respect to its float64 input in (the probe's gradient gi) with central
// differences of step fdStep, within fdTol relative to max(1, |fd|) (see
// fdStep), and returns the largest error in those units.
func checkFiniteDifferences(t *testing.T, p *probe, in, gi int) float64 {
	t.Helper()
	p.run(t)
	grad := p.grad(t, gi)
	vals := p.in[in].(*tensor.Dense).Float64s()
	worst := 0.0
	for i := range vals {
		orig := vals[i]
		vals[i] = orig + fdStep
		_, up := p.run(t)
		vals[i] = orig - fdStep
		_, down := p.run(t)
		vals[i] = orig
		fd := (up - down) / (2 * fdStep)
		e := math.Abs(grad[i]-fd) / math.Max(1, math.Abs(fd))
		worst = math.Max(worst, e)
		if e > fdTol {
			t.Errorf("input %d element %d: gradient %.10g, finite difference %.10g", in, i, grad[i], fd)
		}
	}
	return worst
}

// ulp32 returns the spacing of float32 values just above |x|.
func ulp32(x float32) float64 {
	a := float32(math.Abs(float64(x)))
	return float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
}
