package model

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/op"
)

// WeightedSum returns the scalar node
//
//	sum_b w_b (t1_b + t2_b + ...)
//
// of per-row terms (each (B)) and row weights w (B): 1/n for the n real
// rows of a batch and 0 for padding gives the batch mean. It is one op,
// not Add/HadamardProd/Sum, because gorgonia's built-in elementwise ops
// may reuse an input's memory for their result, and the terms must stay
// readable after a run. The gradient of every term is w dL/dsum.
func WeightedSum(w *G.Node, terms ...*G.Node) (*G.Node, error) {
	o := weightedSumOp{Base: op.Base{Name: fmt.Sprintf("WeightedSum{%d}", len(terms))}, n: len(terms)}
	return G.ApplyOp(o, append(append(G.Nodes{}, terms...), w)...)
}

// weightedSumOp is the op of WeightedSum: its inputs are the n terms,
// then the weights.
type weightedSumOp struct {
	op.Base
	n int
}

func (o weightedSumOp) Arity() int { return o.n + 1 }
func (o weightedSumOp) Type() hm.Type {
	ts := make([]hm.Type, o.n+1, o.n+2)
	for i := range ts {
		ts[i] = op.Vec
	}
	return hm.NewFnType(append(ts, op.Elem)...)
}
func (o weightedSumOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (o weightedSumOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range o.n {
		d[i] = true
	}
	return d
}

func (o weightedSumOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.n+1, weightedSumDo[float32](o), weightedSumDo[float64](o))
}

func weightedSumDo[T op.Float](o weightedSumOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		vs, err := op.Datas[T](inputs...)
		if err != nil {
			return nil, err
		}
		w := vs[o.n]
		for _, t := range vs[:o.n] {
			if len(t) != len(w) {
				return nil, fmt.Errorf("%v: %d terms for %d weights", o, len(t), len(w))
			}
		}
		var s float64
		for b := range w {
			var row float64
			for _, t := range vs[:o.n] {
				row += float64(t[b])
			}
			s += float64(w[b]) * row
		}
		return op.NewScalar(inputs[0].Dtype(), s), nil
	}
}

// SymDiff gives every term the gradient w dL/dsum.
func (o weightedSumOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(scaleOp{Base: op.Base{Name: "Scale"}, buf: new(op.Buffer)}, inputs[o.n], grad)
	if err != nil {
		return nil, err
	}
	grads := make(G.Nodes, len(inputs))
	for i := range o.n {
		grads[i] = d
	}
	return grads, nil
}

// scaleOp multiplies a vector by a scalar: the gradient w dL/dsum of
// WeightedSum.
type scaleOp struct {
	op.Base
	buf *op.Buffer
}

func (o scaleOp) Arity() int                                        { return 2 }
func (o scaleOp) Type() hm.Type                                     { return hm.NewFnType(op.Vec, op.Elem, op.Vec) }
func (o scaleOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }

func (o scaleOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 2, scaleDo[float32](o), scaleDo[float64](o))
}

func scaleDo[T op.Float](o scaleOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		w, err := op.Data[T](inputs[0])
		if err != nil {
			return nil, err
		}
		c, err := op.Scalar(inputs[1])
		if err != nil {
			return nil, err
		}
		out := o.buf.Get(inputs[0].Dtype(), inputs[0].Shape()...)
		res := op.Floats[T](out)
		for i, v := range w {
			res[i] = T(float64(v) * c)
		}
		return out, nil
	}
}

// ScaleGrad returns a node with the value of x whose gradient is that of
// the node times the scalar node s: x passes forward unchanged, and
// dL/dx = s dL/dout. It is how variance normalisation divides every
// gradient that reaches a layer's logits.
func ScaleGrad(x, s *G.Node) (*G.Node, error) {
	return G.ApplyOp(scaleGradOp{Base: op.Base{Name: "ScaleGrad"}, buf: new(op.Buffer)}, x, s)
}

// scaleGradOp copies its first input (a matrix) forward, or, with grad
// set, multiplies it by its second (a scalar): the backward pass of
// ScaleGrad.
type scaleGradOp struct {
	op.Base
	grad bool
	buf  *op.Buffer
}

func (o scaleGradOp) Arity() int                                        { return 2 }
func (o scaleGradOp) Type() hm.Type                                     { return hm.NewFnType(op.Mat, op.Elem, op.Mat) }
func (o scaleGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }
func (o scaleGradOp) DiffWRT(int) []bool                                { return []bool{true, false} }

// SymDiff returns dL/dout times the scale.
func (o scaleGradOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(scaleGradOp{Base: op.Base{Name: "ScaleGradGrad"}, grad: true, buf: new(op.Buffer)}, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

func (o scaleGradOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 2, scaleGradDo[float32](o), scaleGradDo[float64](o))
}

func scaleGradDo[T op.Float](o scaleGradOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		x, err := op.Data[T](inputs[0])
		if err != nil {
			return nil, err
		}
		s := 1.0
		if o.grad {
			if s, err = op.Scalar(inputs[1]); err != nil {
				return nil, err
			}
		}
		out := o.buf.Get(inputs[0].Dtype(), inputs[0].Shape()...)
		res := op.Floats[T](out)
		if s == 1 {
			copy(res, x)
			return out, nil
		}
		for i, v := range x {
			res[i] = T(float64(v) * s)
		}
		return out, nil
	}
}
