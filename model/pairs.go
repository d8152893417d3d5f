package model

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/op"
)

// pairs returns the node that moves Bernoulli latents between their own
// width and the categorical view of Config.Bernoulli. Widening maps each
// row (l_1..l_N) to (l_1, 0, l_2, 0, ..., l_N, 0): logits of K = 2
// categoricals whose first class is "on". Narrowing keeps the first entry
// of each pair. The two linear maps are each other's transpose, so each
// one's gradient is the other applied to dL/dout.
func pairs(x *G.Node, widen bool) (*G.Node, error) {
	return G.ApplyOp(pairsOp{Base: op.Base{Name: fmt.Sprintf("BernoulliPairs{widen=%t}", widen)}, widen: widen, buf: new(op.Buffer)}, x)
}

// pairsOp is the op of pairs.
type pairsOp struct {
	op.Base
	widen bool
	buf   *op.Buffer
}

func (o pairsOp) Arity() int         { return 1 }
func (o pairsOp) Type() hm.Type      { return hm.NewFnType(op.Mat, op.Mat) }
func (o pairsOp) DiffWRT(int) []bool { return []bool{true} }

func (o pairsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("%v: want a (B, D) shape, got %v", o, in[0])
	}
	if o.widen {
		return tensor.Shape{s[0], 2 * s[1]}, nil
	}
	if s[1]%2 != 0 {
		return nil, fmt.Errorf("%v: odd width %d", o, s[1])
	}
	return tensor.Shape{s[0], s[1] / 2}, nil
}

func (o pairsOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 1, pairsDo[float32](o), pairsDo[float64](o))
}

func pairsDo[T op.Float](o pairsOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		shape, err := o.InferShape(inputs[0].Shape())
		if err != nil {
			return nil, err
		}
		x, err := op.Data[T](inputs[0])
		if err != nil {
			return nil, err
		}
		out := o.buf.Get(inputs[0].Dtype(), shape...)
		y := op.Floats[T](out)
		if o.widen {
			for i, v := range x {
				y[2*i], y[2*i+1] = v, 0
			}
		} else {
			for i := range y {
				y[i] = x[2*i]
			}
		}
		return out, nil
	}
}

// SymDiff returns the other direction applied to dL/dout.
func (o pairsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := pairs(grad, !o.widen)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
