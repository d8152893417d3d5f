package estimator

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
	"gsvae/internal/op"
)

// meanField returns the node of stochastic layer i's point in MuProp's
// mean-field pass (Gu et al. 2016): the value mubar that the deterministic
// copy of the network reads in place of the sample z. For the first layer
// mubar is mu = softmax(l) of the layer's own logits (mubar == nil); for a
// later one it is the softmax of the logits that the mean-field pass
// computed from the previous layer's point.
//
// The op turns the gradient that the mean-field pass sends back to mubar,
// dy = w f'(mubar) (f is the mean-field loss, weighted by the row weights
// w), into MuProp's two terms for the layer's own logits l, per row b:
//
//	J_mu^T dy_b  -  (dy_b . (z_b - mubar_b)) (z_b - mu_b),   mu = softmax(l),
//
// the expectation of the first-order Taylor expansion of f around mubar
// (added back analytically) and that expansion's linear term as part of
// the control variate of the score function (the score op subtracts
// f(mubar)). For a later layer it also passes dy on to mubar, so that the
// mean-field pass computes the derivative of f with respect to the earlier
// layers' points.
func meanField(mubar, logits, z *G.Node, k int) (*G.Node, error) {
	o := meanFieldOp{Base: op.Base{Name: fmt.Sprintf("MeanField{k=%d,first=%t}", k, mubar == nil)}, k: k, first: mubar == nil, buf: new(op.Buffer)}
	if mubar == nil {
		return G.ApplyOp(o, logits, z)
	}
	return G.ApplyOp(o, mubar, logits, z)
}

// meanFieldOp is the op of meanField: its inputs are (logits, z) for the
// first layer and (mubar, logits, z) for a later one; with grad set, its
// gradient for the logits, from the same inputs, then its output and
// dL/dout.
type meanFieldOp struct {
	op.Base
	k           int
	first, grad bool
	buf         *op.Buffer
}

func (o meanFieldOp) Arity() int {
	n := 3
	if o.first {
		n--
	}
	if o.grad {
		n += 2
	}
	return n
}

func (o meanFieldOp) Type() hm.Type {
	ts := make([]hm.Type, o.Arity()+1)
	for i := range ts {
		ts[i] = op.Mat
	}
	return hm.NewFnType(ts...)
}

func (o meanFieldOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }

func (o meanFieldOp) DiffWRT(n int) []bool {
	if o.first {
		return []bool{true, false}
	}
	return []bool{true, true, false}
}

// SymDiff returns the gradient op for the logits, and for a later layer
// dL/dout itself for mubar.
func (o meanFieldOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := meanFieldOp{Base: op.Base{Name: o.Name + "Grad"}, k: o.k, first: o.first, grad: true, buf: new(op.Buffer)}
	d, err := G.ApplyOp(g, append(append(G.Nodes{}, inputs...), output, grad)...)
	if err != nil {
		return nil, err
	}
	if o.first {
		return G.Nodes{d, nil}, nil
	}
	return G.Nodes{grad, d, nil}, nil
}

func (o meanFieldOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), meanFieldDo[float32](o), meanFieldDo[float64](o))
}

func meanFieldDo[T op.Float](o meanFieldOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		li := 1 // the index of the logits
		if o.first {
			li = 0
		}
		logits, err := op.Data[T](inputs[li])
		if err != nil {
			return nil, err
		}
		rows, cols, err := layerShape(o, inputs[li], o.k)
		if err != nil {
			return nil, err
		}
		out := o.buf.Get(inputs[li].Dtype(), rows, cols)
		res := op.Floats[T](out)
		if !o.grad {
			if o.first {
				gumbel.SoftmaxGroups(res, logits, o.k, 1)
				return out, nil
			}
			mubar, err := op.Data[T](inputs[0])
			if err != nil {
				return nil, err
			}
			copy(res, mubar)
			return out, nil
		}
		n := len(inputs)
		vs, err := op.Datas[T](inputs[li+1], inputs[n-2], inputs[n-1])
		if err != nil {
			return nil, err
		}
		z, mubar, dy := vs[0], vs[1], vs[2]
		if len(z) != len(logits) || len(mubar) != len(logits) || len(dy) != len(logits) {
			return nil, fmt.Errorf("%v: %d logits, %d codes, %d points, %d gradients", o, len(logits), len(z), len(mubar), len(dy))
		}
		mu := make([]T, cols)
		for b := range rows {
			i, j := b*cols, (b+1)*cols
			gumbel.SoftmaxGroups(mu, logits[i:j], o.k, 1)
			gumbel.SoftmaxGroupsGrad(res[i:j], mu, dy[i:j], o.k, 1) // J_mu^T dy
			var taylor float64                                      // dy . (z - mubar)
			for c := i; c < j; c++ {
				taylor += float64(dy[c]) * (float64(z[c]) - float64(mubar[c]))
			}
			addScore(res[i:j], z[i:j], mu, -taylor)
		}
		return out, nil
	}
}

// baselineFit returns the scalar node of NVIL's baseline regression,
//
//	1/2 sum_b w_b (f_b - c - b_b)^2,
//
// whose gradient for the baseline's output b (B, 1) moves b(x) towards the
// centred learning signal f - c (Mnih & Gregor 2014, Sec. 3.3). f (B), c
// and the row weights w (B) get no gradient.
func baselineFit(b, f, c, w *G.Node) (*G.Node, error) {
	return G.ApplyOp(baselineFitOp{Base: op.Base{Name: "BaselineFit"}}, b, f, c, w)
}

// baselineFitOp is the op of baselineFit; with grad set it computes dL/db
// from the same inputs and dL/dout.
type baselineFitOp struct {
	op.Base
	grad bool
	buf  *op.Buffer
}

func (o baselineFitOp) Arity() int {
	if o.grad {
		return 5
	}
	return 4
}

func (o baselineFitOp) Type() hm.Type {
	if o.grad {
		return hm.NewFnType(op.Mat, op.Vec, op.Elem, op.Vec, op.Elem, op.Mat)
	}
	return hm.NewFnType(op.Mat, op.Vec, op.Elem, op.Vec, op.Elem)
}

func (o baselineFitOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if o.grad {
		return op.SameShape(in)
	}
	return tensor.ScalarShape(), nil
}

func (o baselineFitOp) DiffWRT(int) []bool { return []bool{true, false, false, false} }

// SymDiff returns the gradient op for b.
func (o baselineFitOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(baselineFitOp{Base: op.Base{Name: "BaselineFitGrad"}, grad: true, buf: new(op.Buffer)}, append(append(G.Nodes{}, inputs...), grad)...)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil, nil, nil}, nil
}

func (o baselineFitOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), baselineFitDo[float32](o), baselineFitDo[float64](o))
}

func baselineFitDo[T op.Float](o baselineFitOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		vs, err := op.Datas[T](inputs[0], inputs[1], inputs[3])
		if err != nil {
			return nil, err
		}
		b, f, w := vs[0], vs[1], vs[2]
		c, err := op.Scalar(inputs[2])
		if err != nil {
			return nil, err
		}
		if len(b) != len(f) || len(w) != len(f) {
			return nil, fmt.Errorf("%v: %d predictions, %d targets, %d weights", o, len(b), len(f), len(w))
		}
		if !o.grad {
			var s float64
			for i := range b {
				e := float64(f[i]) - c - float64(b[i])
				s += 0.5 * float64(w[i]) * e * e
			}
			return op.NewScalar(inputs[0].Dtype(), s), nil
		}
		dOut, err := op.Scalar(inputs[4])
		if err != nil {
			return nil, err
		}
		out := o.buf.Get(inputs[0].Dtype(), inputs[0].Shape()...)
		res := op.Floats[T](out)
		for i := range b {
			res[i] = T(-dOut * float64(w[i]) * (float64(f[i]) - c - float64(b[i])))
		}
		return out, nil
	}
}
