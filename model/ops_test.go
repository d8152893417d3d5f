package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// opInput is one input of an op under test.
type opInput struct {
	name  string
	shape []int // nil for a scalar
	data  []float64
	grad  bool    // whether the op gives it a gradient
	scale float64 // its gradient is scale times the finite difference (0 means 1)
}

// opCase builds one op of linear.go, likelihood.go, pairs.go or loss.go
// from its input nodes.
type opCase struct {
	name   string
	inputs []opInput
	build  func(in G.Nodes) (*G.Node, error)
}

// opCases returns the ops under test with random inputs (seeded): every
// flag of the linear layer, the Bernoulli NLL, both directions of the
// Bernoulli pairs, WeightedSum of one to three terms and ScaleGrad.
func opCases() []opCase {
	rng := rand.New(rand.NewPCG(21, 1))
	const rows, in, out = 3, 4, 5
	mat := func(name string, r, c int, grad bool) opInput {
		return opInput{name: name, shape: []int{r, c}, data: normals(rng, r*c, 1), grad: grad}
	}
	vec := func(name string, n int, grad bool) opInput {
		return opInput{name: name, shape: []int{n}, data: normals(rng, n, 1), grad: grad}
	}
	lin := func(name string, relu, inputGrad, frozen bool) opCase {
		return opCase{
			name:   name,
			inputs: []opInput{mat("x", rows, in, inputGrad), mat("w", out, in, !frozen), mat("b", 1, out, !frozen)},
			build: func(n G.Nodes) (*G.Node, error) {
				return linear("l", n[0], n[1], n[2], relu, inputGrad, frozen)
			},
		}
	}
	ws := func(terms int) opCase {
		c := opCase{name: "WeightedSum/" + string(rune('0'+terms)) + " terms"}
		for i := range terms {
			c.inputs = append(c.inputs, vec("t"+string(rune('1'+i)), rows+1, true))
		}
		w := opInput{name: "w", shape: []int{rows + 1}, data: []float64{0.5, 0.25, 0.25, 0}} // the last row is padding
		c.inputs = append(c.inputs, w)
		c.build = func(n G.Nodes) (*G.Node, error) { return WeightedSum(n[terms], n[:terms]...) }
		return c
	}
	nllX := opInput{name: "x", shape: []int{rows, 6}, data: bits(rng, rows*6)}
	return []opCase{
		lin("linear/relu", true, true, false),
		lin("linear/identity", false, true, false),
		lin("linear/relu, no input gradient", true, false, false),
		lin("linear/identity, no input gradient", false, false, false),
		lin("linear/relu, frozen", true, true, true),
		lin("linear/identity, frozen", false, true, true),
		{
			name:   "BernoulliNLL",
			inputs: []opInput{{name: "l", shape: []int{rows, 6}, data: normals(rng, rows*6, 3), grad: true}, nllX},
			build:  func(n G.Nodes) (*G.Node, error) { return negLogLik(n[0], n[1]) },
		},
		{
			name:   "pairs/widen",
			inputs: []opInput{mat("x", rows, 3, true)},
			build:  func(n G.Nodes) (*G.Node, error) { return pairs(n[0], true) },
		},
		{
			name:   "pairs/narrow",
			inputs: []opInput{mat("x", rows, 6, true)},
			build:  func(n G.Nodes) (*G.Node, error) { return pairs(n[0], false) },
		},
		ws(1), ws(2), ws(3),
		{
			name:   "ScaleGrad",
			inputs: []opInput{{name: "x", shape: []int{rows, in}, data: normals(rng, rows*in, 1), grad: true, scale: 2.5}, {name: "s", data: []float64{2.5}}},
			build:  func(n G.Nodes) (*G.Node, error) { return ScaleGrad(n[0], n[1]) },
		},
	}
}

// opGraph is an op case built into a graph with the loss L = sum_i c_i
// out_i (random c), or L = 1.75 out for a scalar output, so that a
// gradient op that drops or inverts the factor dL/dout it is given shows.
type opGraph struct {
	nodes     G.Nodes
	backing   [][]float64 // each float64 tensor input's data, for finite differences (nil for scalars)
	c         []float64   // the loss's weights (nil for a scalar output)
	out, loss *G.Node
	grads     G.Nodes // dL/dinput for each input with grad (nil entries elsewhere)
	gradNames []string
	m         *machine
}

// buildOp builds c in dtype dt. With withGrads it also adds the
// gradients of the inputs the op differentiates.
func buildOp(t *testing.T, c opCase, dt tensor.Dtype, withGrads bool) *opGraph {
	t.Helper()
	g := G.NewGraph()
	o := &opGraph{}
	for _, in := range c.inputs {
		var n *G.Node
		var d []float64
		switch {
		case in.shape == nil && dt == tensor.Float32:
			n = G.NewScalar(g, dt, G.WithName(in.name), G.WithValue(float32(in.data[0])))
		case in.shape == nil:
			n = G.NewScalar(g, dt, G.WithName(in.name), G.WithValue(in.data[0]))
		case dt == tensor.Float32:
			n = G.NewTensor(g, dt, len(in.shape), G.WithName(in.name), G.WithValue(tensor.New(tensor.WithShape(in.shape...), tensor.WithBacking(to32(in.data)))))
		default:
			d = append([]float64(nil), in.data...)
			n = G.NewTensor(g, dt, len(in.shape), G.WithName(in.name), G.WithValue(dense(d, in.shape...)))
		}
		o.nodes = append(o.nodes, n)
		o.backing = append(o.backing, d)
	}
	var err error
	if o.out, err = c.build(o.nodes); err != nil {
		t.Fatal(err)
	}
	if o.out.IsScalar() {
		o.c = []float64{1.75}
		var c *G.Node
		if dt == tensor.Float32 {
			c = G.NewScalar(g, dt, G.WithName("c"), G.WithValue(float32(o.c[0])))
		} else {
			c = G.NewScalar(g, dt, G.WithName("c"), G.WithValue(o.c[0]))
		}
		if o.loss, err = G.Mul(o.out, c); err != nil {
			t.Fatal(err)
		}
	} else {
		rng := rand.New(rand.NewPCG(5, uint64(o.out.Shape().TotalSize())))
		o.c = normals(rng, o.out.Shape().TotalSize(), 1)
		if o.loss, err = dot(o.out, o.c, "loss"); err != nil {
			t.Fatal(err)
		}
	}
	if withGrads {
		var wrt G.Nodes
		for i, in := range c.inputs {
			if in.grad {
				wrt = append(wrt, o.nodes[i])
				o.gradNames = append(o.gradNames, in.name)
			}
		}
		if o.grads, err = G.Grad(o.loss, wrt...); err != nil {
			t.Fatal(err)
		}
	}
	o.m = newMachine(g)
	return o
}

// TestOpGradientsFiniteDifferences checks the backward pass of every op of
// linear.go (the fused layer with and without ReLU, input gradient and
// frozen weights), likelihood.go, pairs.go and loss.go against central
// differences of L = sum_i c_i out_i in float64 (see fdTol); ScaleGrad's
// gradient must be its scale times the finite difference of its
// (identity) value.
func TestOpGradientsFiniteDifferences(t *testing.T) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			o := buildOp(t, c, tensor.Float64, true)
			o.m.run(t)
			var vals, grads [][]float64
			var scale []float64
			j := 0
			for i, in := range c.inputs {
				if in.shape == nil {
					continue
				}
				if in.grad {
					vals = append(vals, o.backing[i])
					grads = append(grads, values(t, o.grads[j].Value()))
					s := in.scale
					if s == 0 {
						s = 1
					}
					scale = append(scale, s)
					j++
				}
			}
			checkGrad(t, o.gradNames, vals, grads, scale, func() float64 {
				o.m.run(t)
				return scalar(t, o.loss)
			})
		})
	}
}

// TestOpNoGradient checks that the inputs an op does not differentiate get
// no gradient at all: the data of a linear layer built without input
// gradient, the weights and bias of a frozen layer (MuProp's mean-field
// copy), the pixels of the NLL, the row weights of WeightedSum and the
// scale of ScaleGrad. gorgonia's Grad refuses a node no gradient reaches.
func TestOpNoGradient(t *testing.T) {
	for _, c := range opCases() {
		for i, in := range c.inputs {
			if in.grad {
				continue
			}
			t.Run(c.name+"/"+in.name, func(t *testing.T) {
				o := buildOp(t, c, tensor.Float64, false)
				if _, err := G.Grad(o.loss, o.nodes[i]); err == nil || !strings.Contains(err.Error(), "Non Differentiable") {
					t.Errorf("Grad(loss, %s) = %v, want no gradient (Non Differentiable WRTs)", in.name, err)
				}
			})
		}
	}
}

// TestOpFloat32MatchesFloat64 runs every op case in float32 and float64 on
// the same (float32-representable) inputs and compares outputs, losses and
// gradients. The float32 values carry the rounding of float32 arithmetic
// only: u = 2^-24 = 6e-8 per operation, at most a few dozen operations
// (a dot product of 4-6 terms, the NLL kernel's terms at ~2e-7 each, the
// loss's sum of up to 20 weighted values), so 1e-5 of the largest
// magnitude compared (at least 1) bounds them with a margin of ~10.
func TestOpFloat32MatchesFloat64(t *testing.T) {
	const tol = 1e-5
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.inputs { // make the inputs exact in float32
				for j, v := range c.inputs[i].data {
					c.inputs[i].data[j] = float64(float32(v))
				}
			}
			o64 := buildOp(t, c, tensor.Float64, true)
			o32 := buildOp(t, c, tensor.Float32, true)
			o64.m.run(t)
			o32.m.run(t)
			compare := func(what string, got, want []float64) {
				t.Helper()
				scale := 1.0
				for _, v := range want {
					scale = math.Max(scale, math.Abs(v))
				}
				for i := range want {
					if math.Abs(got[i]-want[i]) > tol*scale {
						t.Errorf("%s[%d]: float32 %.9g, float64 %.9g", what, i, got[i], want[i])
						return
					}
				}
			}
			if o32.out.IsScalar() {
				compare("out", []float64{scalar(t, o32.out)}, []float64{scalar(t, o64.out)})
			} else {
				compare("out", values(t, o32.out.Value()), values(t, o64.out.Value()))
			}
			compare("loss", []float64{scalar(t, o32.loss)}, []float64{scalar(t, o64.loss)})
			for i, name := range o64.gradNames {
				compare("d"+name, values(t, o32.grads[i].Value()), values(t, o64.grads[i].Value()))
			}
		})
	}
}

// TestOpsSplitRowsAcrossCPUs runs the ops that split their rows across
// CPUs (parallel.Rows, 16 rows or more per CPU) on 50 rows, with
// GOMAXPROCS 1 (one range of rows) and 3 (rows 0-15, 16-32 and 33-49),
// and requires the same outputs and gradients bit for bit, as each range
// is computed by the code that computes the whole: the linear layer's bias
// and ReLU and the ReLU's gradient, the Bernoulli NLL and its gradient,
// and the sampled linear layer (on binary inputs). Only a range's bounds
// can tell the runs apart; on a machine with one CPU, and under
// go test -cpu 1, no other test splits these ops.
func TestOpsSplitRowsAcrossCPUs(t *testing.T) {
	const rows, in, out = 50, 7, 6
	rng := rand.New(rand.NewPCG(23, 1))
	mat := func(name string, r, c int, grad bool) opInput {
		return opInput{name: name, shape: []int{r, c}, data: normals(rng, r*c, 1), grad: grad}
	}
	x, w, b := mat("x", rows, in, true), mat("w", out, in, true), mat("b", 1, out, true)
	z := opInput{name: "z", shape: []int{rows, in}, data: bits(rng, rows*in)}
	noGrad := func(in opInput) opInput { in.grad = false; return in }
	cases := []opCase{
		{name: "linear/relu", inputs: []opInput{x, w, b}, build: func(n G.Nodes) (*G.Node, error) { return linear("l", n[0], n[1], n[2], true, true, false) }},
		{name: "linear/identity", inputs: []opInput{x, w, b}, build: func(n G.Nodes) (*G.Node, error) { return linear("l", n[0], n[1], n[2], false, true, false) }},
		{name: "BernoulliNLL", inputs: []opInput{mat("l", rows, in, true), z}, build: func(n G.Nodes) (*G.Node, error) { return negLogLik(n[0], n[1]) }},
		{name: "sampledLinear/relu", inputs: []opInput{z, noGrad(w), noGrad(b)}, build: func(n G.Nodes) (*G.Node, error) { return sampledLinear("s", n[0], n[1], n[2], true) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := func(procs int) [][]float64 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				o := buildOp(t, c, tensor.Float64, c.inputs[1].grad) // sampledLinear has no gradient op
				o.m.run(t)
				res := [][]float64{values(t, o.out.Value())}
				for _, g := range o.grads {
					res = append(res, values(t, g.Value()))
				}
				return res
			}
			one, three := run(1), run(3)
			for i := range one {
				for j := range one[i] {
					if math.Float64bits(one[i][j]) != math.Float64bits(three[i][j]) {
						t.Fatalf("value %d[%d]: %v on 1 CPU, %v on 3", i, j, one[i][j], three[i][j])
					}
				}
			}
		})
	}
}

// TestLinearFrozenCopySharesWeights builds what MuProp does: a frozen copy
// of a layer beside the layer itself, on the same weight nodes. The
// weights' gradient must be the finite difference of the unfrozen copy's
// term alone; the input, read by both, gets both terms.
func TestLinearFrozenCopySharesWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 1))
	g := G.NewGraph()
	xd, wd, bd := normals(rng, 12, 1), normals(rng, 20, 1), normals(rng, 5, 1)
	x := G.NewMatrix(g, tensor.Float64, G.WithName("x"), G.WithValue(dense(xd, 3, 4)))
	w := G.NewMatrix(g, tensor.Float64, G.WithName("w"), G.WithValue(dense(wd, 5, 4)))
	b := G.NewMatrix(g, tensor.Float64, G.WithName("b"), G.WithValue(dense(bd, 1, 5)))
	live, err := linear("l", x, w, b, true, true, false)
	if err != nil {
		t.Fatal(err)
	}
	frozen, err := linear("l", x, w, b, true, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if live == frozen {
		t.Fatal("the frozen copy is the live layer's node")
	}
	l1, err := dot(live, normals(rng, 15, 1), "live")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := dot(frozen, normals(rng, 15, 1), "frozen")
	if err != nil {
		t.Fatal(err)
	}
	total, err := G.Add(l1, l2)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(total, x, w, b)
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(g)
	m.run(t)
	gx, gw, gb := values(t, grads[0].Value()), values(t, grads[1].Value()), values(t, grads[2].Value())
	checkGrad(t, []string{"x"}, [][]float64{xd}, [][]float64{gx}, nil, func() float64 {
		m.run(t)
		return scalar(t, total)
	})
	checkGrad(t, []string{"w", "b"}, [][]float64{wd, bd}, [][]float64{gw, gb}, nil, func() float64 {
		m.run(t)
		return scalar(t, l1)
	})
}

// TestNegLogLikValues checks the NLL of rows of logits against
// sum_i softplus(l_i) - x_i l_i, and its gradient against sigmoid(l) - x,
// in float32 and float64, including the logits of +-1e4 where naive
// formulas give Inf or NaN (the old TestExtremeLogitsFloat32). Expected
// values by hand: softplus(1e4) - 1e4 = 0 for x = 1 and softplus(-1e4) =
// 0 for x = 0, so those pixels cost nothing while x = 0 at l = 1e4 costs
// 1e4 nats; log 2 at l = 0; softplus(100) = 100 + log1p(e^-100) = 100 in
// floating point, and exp(100) overflows float32. Tolerance: 1e-6 of
// max(1, |want|) in float64, float32 rounding (3e-7 of the row's
// magnitude, 2e-7 per term of the AVX2 kernel) with a margin of 10 in
// float32.
func TestNegLogLikValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		l, x    []float64
		nll     float64
		dlogits []float64 // sigmoid(l) - x
	}{
		{"zero logits", []float64{0, 0}, []float64{1, 0}, 2 * math.Ln2, []float64{-0.5, 0.5}},
		{"+-1e4", []float64{1e4, -1e4, 1e4, -1e4}, []float64{1, 0, 0, 1}, 2e4, []float64{0, 0, 1, -1}},
		{"+-100 (exp overflows float32)", []float64{100, -100, 100, -100}, []float64{1, 0, 0, 1}, 200, []float64{0, 0, 1, -1}},
		{"moderate", []float64{2, -3, 0.5}, []float64{1, 1, 0},
			math.Log1p(math.Exp(-2)) + 3 + math.Log1p(math.Exp(-3)) + 0.5 + math.Log1p(math.Exp(-0.5)),
			[]float64{1/(1+math.Exp(-2)) - 1, 1/(1+math.Exp(3)) - 1, 1 / (1 + math.Exp(-0.5))}},
	} {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			t.Run(tc.name+"/"+dt.String(), func(t *testing.T) {
				n := len(tc.l)
				c := opCase{
					inputs: []opInput{{name: "l", shape: []int{1, n}, data: tc.l, grad: true}, {name: "x", shape: []int{1, n}, data: tc.x}},
					build:  func(in G.Nodes) (*G.Node, error) { return negLogLik(in[0], in[1]) },
				}
				o := buildOp(t, c, dt, true)
				o.m.run(t)
				tol := 1e-6
				if dt == tensor.Float32 {
					tol = 3e-6
				}
				got := values(t, o.out.Value())
				if len(got) != 1 || !near(got[0], tc.nll, tol) {
					t.Errorf("NLL = %v, want %.9g", got, tc.nll)
				}
				// L = c_0 NLL_0 with dot's weight c_0, so dL/dl = c_0 (sigmoid(l) - x).
				c0 := o.c[0]
				for i, g := range values(t, o.grads[0].Value()) {
					if math.IsNaN(g) || math.IsInf(g, 0) || !near(g, c0*tc.dlogits[i], tol) {
						t.Errorf("dL/dl[%d] = %v, want %v", i, g, c0*tc.dlogits[i])
					}
				}
			})
		}
	}
}

// TestPairsValues checks the Bernoulli pairs by hand: widening maps
// (l1, l2) to (l1, 0, l2, 0), narrowing keeps the first of each pair, and
// narrowing an odd width is refused at build time.
func TestPairsValues(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithName("x"), G.WithValue(dense([]float64{1, 2, 3, 4}, 2, 2)))
	wide, err := pairs(x, true)
	if err != nil {
		t.Fatal(err)
	}
	y := G.NewMatrix(g, tensor.Float64, G.WithName("y"), G.WithValue(dense([]float64{1, 2, 3, 4, 5, 6}, 1, 6)))
	narrow, err := pairs(y, false)
	if err != nil {
		t.Fatal(err)
	}
	newMachine(g).run(t)
	if got, want := values(t, wide.Value()), []float64{1, 0, 2, 0, 3, 0, 4, 0}; !equal(got, want) || !wide.Shape().Eq(tensor.Shape{2, 4}) {
		t.Errorf("widen = %v %v, want %v (2, 4)", got, wide.Shape(), want)
	}
	if got, want := values(t, narrow.Value()), []float64{1, 3, 5}; !equal(got, want) || !narrow.Shape().Eq(tensor.Shape{1, 3}) {
		t.Errorf("narrow = %v %v, want %v (1, 3)", got, narrow.Shape(), want)
	}
	odd := G.NewMatrix(g, tensor.Float64, G.WithName("odd"), G.WithValue(dense([]float64{1, 2, 3}, 1, 3)))
	if _, err := pairs(odd, false); err == nil {
		t.Error("narrowing a width of 3: no error")
	}
}

// TestWeightedSumValue checks sum_b w_b (t1_b + t2_b) by hand, with a
// padding row of weight 0 whose terms are large: 0.5 (1 + 3) + 0.5 (2 +
// 4) + 0 (1e6 + 7) = 5, exactly in binary floating point.
func TestWeightedSumValue(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		c := opCase{
			inputs: []opInput{
				{name: "t1", shape: []int{3}, data: []float64{1, 2, 1e6}},
				{name: "t2", shape: []int{3}, data: []float64{3, 4, 7}},
				{name: "w", shape: []int{3}, data: []float64{0.5, 0.5, 0}},
			},
			build: func(in G.Nodes) (*G.Node, error) { return WeightedSum(in[2], in[0], in[1]) },
		}
		o := buildOp(t, c, dt, false)
		o.m.run(t)
		if got := scalar(t, o.out); got != 5 {
			t.Errorf("%v: WeightedSum = %v, want 5", dt, got)
		}
		if o.out.Dtype() != dt {
			t.Errorf("%v: WeightedSum has dtype %v", dt, o.out.Dtype())
		}
	}
}

// TestScaleGradForward checks that ScaleGrad passes its input forward
// bit for bit, for scales 1 (a copy) and 2.5.
func TestScaleGradForward(t *testing.T) {
	x := []float64{1.5, -2.25, math.Pi, 1e-300, -0.0, 7}
	for _, s := range []float64{1, 2.5} {
		c := opCase{
			inputs: []opInput{{name: "x", shape: []int{2, 3}, data: x}, {name: "s", data: []float64{s}}},
			build:  func(in G.Nodes) (*G.Node, error) { return ScaleGrad(in[0], in[1]) },
		}
		o := buildOp(t, c, tensor.Float64, false)
		o.m.run(t)
		got := values(t, o.out.Value())
		for i := range x {
			if math.Float64bits(got[i]) != math.Float64bits(x[i]) {
				t.Errorf("scale %v: out[%d] = %v, want %v", s, i, got[i], x[i])
			}
		}
	}
}

// equal reports whether a and b hold the same values.
func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
