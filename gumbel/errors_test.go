package gumbel

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/graph"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// builders returns, for every function of the package that builds a
// node, a builder taking (logits, noise, tau, x, prior) nodes and k.
func builders(priorTau float64) []struct {
	name  string
	build func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error)
} {
	return []struct {
		name  string
		build func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error)
	}{
		{"GumbelSoftmax", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return GumbelSoftmax(l, g, tau, k) }},
		{"Softmax", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return Softmax(l, k, nil) }},
		{"Softmax tau", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return Softmax(l, k, tau) }},
		{"LogSoftmax", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return LogSoftmax(l, k) }},
		{"GumbelMax", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return GumbelMax(l, g, k) }},
		{"CategoricalKL", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return CategoricalKL(l, k, nil) }},
		{"CategoricalKL learned", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return CategoricalKL(l, k, prior) }},
		{"RelaxedKL", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return RelaxedKL(l, g, tau, k, priorTau) }},
		{"LogExpConcrete", func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error) { return LogExpConcrete(x, l, tau, k) }},
	}
}

// runSafely runs vm once and returns its error, turning a panic into an
// error that says so.
func runSafely(vm G.VM) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	defer vm.Reset()
	return vm.RunAll()
}

// graphOf builds a float64 graph of one op on inputs of shape (2, cols)
// (prior (1, cols)) holding zeros but for tau, and a machine for it.
func graphOf(build func(l, g, tau, x, prior *G.Node, k int) (*G.Node, error), cols, k int) (*G.Node, *G.Node, G.VM, error) {
	g := G.NewGraph()
	m := func(name string, rows int) *G.Node {
		return G.NodeFromAny(g, tensor.New(tensor.WithShape(rows, cols), tensor.Of(tensor.Float64)), G.WithName(name))
	}
	tau := G.NodeFromAny(g, 1.0, G.WithName("tau"))
	out, err := build(m("logits", 2), m("noise", 2), tau, m("x", 2), m("prior", 1), k)
	if err != nil {
		return nil, nil, nil, err
	}
	return out, tau, G.NewTapeMachine(g), nil
}

// TestOpsRejectBadShapesAndTemperatures checks that what a user can get
// wrong when building or feeding a graph ends in an error from the
// builder or from RunAll, never in a panic: k < 1 (no groups to split the
// rows into), rows of 7 values for k = 3 (not N*k), and a temperature of
// 0, -1 or NaN given with G.Let before a run. Inputs of different element
// types (float32 logits, float64 others) cannot reach Do through a graph:
// building the node fails in gorgonia's type check, as the test checks
// too; TestDoRejectsBadInputs gives Do such inputs directly.
func TestOpsRejectBadShapesAndTemperatures(t *testing.T) {
	for _, b := range builders(0.5) {
		t.Run(b.name, func(t *testing.T) {
			for _, k := range []int{0, -1} {
				if _, _, vm, err := graphOf(b.build, 6, k); err == nil {
					err = runSafely(vm)
					t.Errorf("k = %d: built without error; RunAll: %v", k, err)
				}
			}
			_, _, vm, err := graphOf(b.build, 7, 3)
			if err != nil {
				t.Fatalf("building on (2, 7) with k = 3: %v (want the error at run time, with the values)", err)
			}
			if err := runSafely(vm); err == nil {
				t.Errorf("(2, 7) with k = 3: no error")
			} else {
				t.Logf("(2, 7) with k = 3: %v", err)
			}
			_, tau, vm, err := graphOf(b.build, 6, 3)
			if err != nil {
				t.Fatal(err)
			}
			if err := runSafely(vm); err != nil {
				t.Fatalf("good inputs: %v", err)
			}
			uses := b.name == "GumbelSoftmax" || b.name == "Softmax tau" || b.name == "RelaxedKL" || b.name == "LogExpConcrete"
			for _, v := range []float64{0, -1, math.NaN()} {
				if err := G.Let(tau, v); err != nil {
					t.Fatal(err)
				}
				err := runSafely(vm)
				if uses && err == nil {
					t.Errorf("tau = %v: no error", v)
				} else if !uses && err != nil {
					t.Errorf("tau = %v, which the op does not read: %v", v, err)
				}
			}
		})
	}
	for _, b := range builders(0.5) {
		g := G.NewGraph()
		m := func(name string, dt tensor.Dtype) *G.Node {
			return G.NewMatrix(g, dt, G.WithShape(2, 6), G.WithName(name))
		}
		tau := G.NewScalar(g, tensor.Float64, G.WithName("tau"))
		_, err := b.build(m("logits", tensor.Float32), m("noise", tensor.Float64), tau, m("x", tensor.Float64), m("prior", tensor.Float64), 3)
		single := b.name == "Softmax" || b.name == "LogSoftmax" || b.name == "CategoricalKL"
		if err == nil && !single {
			t.Errorf("%s: built on float32 logits and float64 other inputs without error", b.name)
		}
	}
	if _, err := RelaxedKL(nil, nil, nil, 3, 0); err == nil {
		t.Errorf("RelaxedKL with prior temperature 0: no error")
	}
}

// TestOpsAcceptOneClass checks the smallest k the builders accept, k = 1
// (checkK refuses k < 1 only): every op builds and runs on (2, 6) inputs
// of zeros (six one-class variables per row, tau 1) and gives the values
// of a variable that has one class: probability 1 (the softmaxes and the
// one-hot sample), log-probability 0, and a KL or log-density of 0 (for
// LogExpConcrete and RelaxedKL, log (K-1)! + (K-1) log lambda + u - K u = 0
// at K = 1). Tolerance 1e-12: the values are 0 or 1 up to a few float64
// roundings.
func TestOpsAcceptOneClass(t *testing.T) {
	ones := map[string]bool{"GumbelSoftmax": true, "Softmax": true, "Softmax tau": true, "GumbelMax": true}
	for _, b := range builders(0.5) {
		t.Run(b.name, func(t *testing.T) {
			out, _, vm, err := graphOf(b.build, 6, 1)
			if err != nil {
				t.Fatalf("k = 1: %v", err)
			}
			if err := runSafely(vm); err != nil {
				t.Fatalf("k = 1: %v", err)
			}
			want := 0.0
			if ones[b.name] {
				want = 1
			}
			for i, v := range floats(t, out.Value()) {
				if math.Abs(v-want) > 1e-12 {
					t.Errorf("k = 1: output %d = %v, want %v", i, v, want)
				}
			}
		})
	}
}

// TestOpNames checks the name of the op of every builder's node: the name
// starts every error of the op's Do and stands for the op in gorgonia's
// messages and graph dumps, and it must state the settings the op was
// built with (k = 3, the noise and temperature inputs, a learned prior,
// the prior temperature 0.5).
func TestOpNames(t *testing.T) {
	want := map[string]string{
		"GumbelSoftmax":         "GroupSoftmax{k=3,noise=true,tau=true}",
		"Softmax":               "GroupSoftmax{k=3,noise=false,tau=false}",
		"Softmax tau":           "GroupSoftmax{k=3,noise=false,tau=true}",
		"LogSoftmax":            "GroupLogSoftmax{k=3}",
		"GumbelMax":             "GumbelMax{k=3}",
		"CategoricalKL":         "CategoricalKL{k=3,learned=false}",
		"CategoricalKL learned": "CategoricalKL{k=3,learned=true}",
		"RelaxedKL":             "RelaxedKL{k=3,priorTau=0.5}",
		"LogExpConcrete":        "LogExpConcrete{k=3,wrt=0}",
	}
	for _, b := range builders(0.5) {
		out, _, _, err := graphOf(b.build, 6, 3)
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		if got := fmt.Sprint(out.Op()); got != want[b.name] {
			t.Errorf("%s: op %q, want %q", b.name, got, want[b.name])
		}
	}
}

// TestDoRejectsBadInputs calls Do of every op node of the package, the
// forward ops and the gradient ops G.Grad adds, with each input in turn
// replaced by one that does not fit: a tensor of the other element type
// than the op's other tensor inputs, a row of one value fewer, a scalar
// for a tensor or a tensor for a scalar, and with no inputs or one too
// many. Each must return an error, not panic. Accepted, and so allowed
// here: a scalar of the other float type (a float32 temperature in a
// float64 graph is read as its value; gorgonia's G.Let accepts either for
// a scalar node), and anything in StraightThrough's inputs but the
// element type of hard: its Do copies hard and reads nothing of soft,
// and the node's shape rule has already required one shape of both
// (gorgonia's G.Let keeps each input node's shape).
func TestDoRejectsBadInputs(t *testing.T) {
	const rows, k = 2, 3
	g := G.NewGraph()
	m := func(name string, r int) *G.Node {
		return G.NodeFromAny(g, tensor.New(tensor.WithShape(r, 2*k), tensor.WithBacking(make([]float64, r*2*k))), G.WithName(name))
	}
	l, noise, x, prior := m("logits", rows), m("noise", rows), m("x", rows), m("prior", 1)
	tau := G.NodeFromAny(g, 0.5, G.WithName("tau"))
	var outs G.Nodes
	for _, b := range builders(0.5) {
		out, err := b.build(l, noise, tau, x, prior, k)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	st := G.Must(StraightThrough(outs[0], outs[4]))
	outs = append(outs, st)
	var terms G.Nodes
	for _, o := range outs {
		terms = append(terms, G.Must(G.Sum(o)))
	}
	loss := terms[0]
	for _, term := range terms[1:] {
		loss = G.Must(G.Add(loss, term))
	}
	if _, err := G.Grad(loss, l, x, prior); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, n := range g.AllNodes() {
		o, ok := n.Op().(interface{ String() string })
		if !ok || n.Op() == nil || !isOurs(n.Op()) {
			continue
		}
		checked++
		var in []G.Value
		for _, c := range graph.NodesOf(g.From(n.ID())) { // the inputs, in order
			in = append(in, c.(*G.Node).Value())
		}
		try := func(what string, inputs []G.Value, mayPass bool) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
						t.Errorf("%v with %s: %v", o, what, err)
					}
				}()
				_, err = n.Op().Do(inputs...)
			}()
			if err == nil && !mayPass {
				t.Errorf("%v with %s: no error", o, what)
			}
		}
		try("no inputs", nil, false)
		try("one input too many", append(append([]G.Value(nil), in...), in[0]), false)
		tensors := 0
		for _, v := range in {
			if _, ok := v.(*tensor.Dense); ok {
				tensors++
			}
		}
		for i, v := range in {
			bad := func(r G.Value) []G.Value {
				c := append([]G.Value(nil), in...)
				c[i] = r
				return c
			}
			st := o.String() == "StraightThrough"
			ignored := st && i == 0
			switch v := v.(type) {
			case *G.F64:
				f := G.F32(*v)
				try(fmt.Sprintf("input %d float32", i), bad(&f), true)
				try(fmt.Sprintf("input %d a tensor", i), bad(in[0]), false)
			case *tensor.Dense:
				s := v.Shape()
				n := s.TotalSize()
				try(fmt.Sprintf("input %d float32", i), bad(tensor.New(tensor.WithShape(s...), tensor.WithBacking(make([]float32, n)))), ignored || tensors == 1)
				short := tensor.New(tensor.WithShape(n-1), tensor.WithBacking(make([]float64, n-1)))
				if len(s) == 2 {
					short = tensor.New(tensor.WithShape(s[0], s[1]-1), tensor.WithBacking(make([]float64, s[0]*(s[1]-1))))
				}
				try(fmt.Sprintf("input %d of shape %v", i, short.Shape()), bad(short), st)
				f := G.F64(1)
				try(fmt.Sprintf("input %d a scalar", i), bad(&f), ignored)
			default:
				t.Fatalf("%v: input %d is a %T", o, i, v)
			}
		}
	}
	t.Logf("checked %d op nodes", checked)
	if checked < 20 {
		t.Errorf("checked only %d op nodes", checked)
	}
}

// isOurs reports whether op is one of the package's op types.
func isOurs(op G.Op) bool {
	switch op.(type) {
	case softmaxOp, softmaxGradOp, gumbelMaxOp, straightThroughOp, logSoftmaxOp, klOp, relaxedKLOp, logExpConcreteOp:
		return true
	}
	return false
}

// TestGradOfGradientIsAnError checks what happens when a graph
// differentiates through the gradients of the package's ops: second
// derivatives, as a gradient penalty sum((dL/dlogits)^2) needs, are not
// implemented, so G.Grad of a loss that depends on a gradient must fail
// with an error, also when the loss depends on the logits by another path
// too (the gradient must not silently count as a constant), and must not
// panic. So must a second G.Grad call on the graph, with respect to other
// nodes (gorgonia supports one call per graph: even its own Exp then
// reports "No gradients found for node").
func TestGradOfGradientIsAnError(t *testing.T) {
	for _, b := range builders(0.5) {
		if b.name == "GumbelMax" {
			continue // no gradient
		}
		t.Run(b.name, func(t *testing.T) {
			grad := func(loss *G.Node, wrt ...*G.Node) (grads G.Nodes, err error) {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("G.Grad panicked: %v", r)
						err = fmt.Errorf("panic")
					}
				}()
				return G.Grad(loss, wrt...)
			}
			for _, mixed := range []bool{false, true} {
				g := G.NewGraph()
				m := func(name string, rows int) *G.Node {
					return G.NodeFromAny(g, tensor.New(tensor.WithShape(rows, 6), tensor.WithBacking(make([]float64, rows*6))), G.WithName(name))
				}
				w, v := m("w", 2), m("v", 2)
				l := G.Must(G.HadamardProd(w, v))
				tau := G.NodeFromAny(g, 0.5, G.WithName("tau"))
				out, err := b.build(l, m("noise", 2), tau, m("x", 2), m("prior", 1), 3)
				if err != nil {
					t.Fatal(err)
				}
				loss := G.Must(G.Sum(G.Must(G.Square(out))))
				gs, err := grad(loss, w)
				if err != nil {
					t.Fatalf("first derivative: %v", err)
				}
				penalty := G.Must(G.Sum(G.Must(G.Square(gs[0]))))
				if mixed {
					penalty = G.Must(G.Add(penalty, G.Must(G.Sum(l))))
				}
				if _, err := grad(penalty, w); err == nil {
					t.Errorf("G.Grad through the gradient (mixed %t): no error", mixed)
				} else if mixed {
					t.Logf("G.Grad through the gradient: %v", err)
				}
			}
			g := G.NewGraph()
			m := func(name string, rows int) *G.Node {
				return G.NodeFromAny(g, tensor.New(tensor.WithShape(rows, 6), tensor.WithBacking(make([]float64, rows*6))), G.WithName(name))
			}
			w, v := m("w", 2), m("v", 2)
			l := G.Must(G.HadamardProd(w, v))
			tau := G.NodeFromAny(g, 0.5, G.WithName("tau"))
			out := G.Must(b.build(l, m("noise", 2), tau, m("x", 2), m("prior", 1), 3))
			loss := G.Must(G.Sum(G.Must(G.Square(out))))
			if _, err := grad(loss, w); err != nil {
				t.Fatal(err)
			}
			_, err := grad(loss, v)
			t.Logf("second G.Grad call: %v", err)
		})
	}
}
