package model

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/op"
)

// dot returns the scalar node sum_i c_i y_i of a vector or matrix node y
// with fixed weights c: a test-only linear functional, so that a finite
// difference check of an op sees every entry of its output with its own
// weight (a plain sum would hide, for instance, swapped entries). Its
// gradient is c times dL/dsum. It is an op of its own rather than
// Reshape + WeightedSum because gorgonia's Reshape may reshape its
// input's value in place, which is another op's output buffer.
func dot(y *G.Node, c []float64, name string) (*G.Node, error) {
	return G.ApplyOp(dotOp{Base: op.Base{Name: "TestDot{" + name + "}"}, c: c, shape: y.Shape().Clone()}, y)
}

// dotOp computes dot's sum, or, with grad set, c times a scalar.
type dotOp struct {
	op.Base
	c     []float64
	shape tensor.Shape
	grad  bool
}

func (o dotOp) Arity() int { return 1 }

func (o dotOp) Type() hm.Type {
	t := G.TensorType{Dims: len(o.shape), Of: op.Elem}
	if o.grad {
		return hm.NewFnType(op.Elem, t)
	}
	return hm.NewFnType(t, op.Elem)
}

func (o dotOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if o.grad {
		return o.shape.Clone(), nil
	}
	return tensor.ScalarShape(), nil
}

func (o dotOp) DiffWRT(int) []bool { return []bool{true} }

func (o dotOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := o
	g.grad, g.Name = true, o.Name+".grad"
	d, err := G.ApplyOp(g, grad)
	return G.Nodes{d}, err
}

func (o dotOp) Do(inputs ...G.Value) (G.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%v: %d inputs", o, len(inputs))
	}
	dt := inputs[0].Dtype()
	if o.grad {
		s, err := op.Scalar(inputs[0])
		if err != nil {
			return nil, err
		}
		out := tensor.New(tensor.WithShape(o.shape...), tensor.Of(dt))
		for i, c := range o.c {
			switch d := out.Data().(type) {
			case []float32:
				d[i] = float32(c * s)
			case []float64:
				d[i] = c * s
			}
		}
		return out, nil
	}
	var s float64
	switch d := inputs[0].Data().(type) {
	case []float32:
		for i, v := range d {
			s += o.c[i] * float64(v)
		}
	case []float64:
		for i, v := range d {
			s += o.c[i] * v
		}
	default:
		return nil, fmt.Errorf("%v: data %T", o, d)
	}
	if len(o.c) != inputs[0].Shape().TotalSize() {
		return nil, fmt.Errorf("%v: %d weights for shape %v", o, len(o.c), inputs[0].Shape())
	}
	return op.NewScalar(dt, s), nil
}
