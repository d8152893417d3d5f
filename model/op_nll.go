package model

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bernoulliNLLOp computes, for each row of pixel logits l (B, D) and binary
// pixels x (B, D), the negative log-likelihood of x under independent
// Bernoulli(sigmoid(l)) pixels:
//
//	-log p(x|l) = sum_i softplus(l_i) - x_i l_i
//
// with softplus evaluated stably, so the result is finite for any finite l
// (gorgonia's BinaryXent clamps with a constant that rounds to 1 in float32).
// The output has shape (B); the gradient flows to l only.
type bernoulliNLLOp struct{ pureOp }

func (op bernoulliNLLOp) Arity() int                                        { return 2 }
func (op bernoulliNLLOp) Type() hm.Type                                     { return hm.NewFnType(matT, matT, vecT) }
func (op bernoulliNLLOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return rowsOf(in[0]) }
func (op bernoulliNLLOp) String() string                                    { return "BernoulliNLL" }
func (op bernoulliNLLOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op bernoulliNLLOp) Hashcode() uint32                                  { return hashOp(op) }
func (op bernoulliNLLOp) DiffWRT(int) []bool                                { return []bool{true, false} }

func (op bernoulliNLLOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 2); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return nllDo[float32](inputs, nil)
	}
	return nllDo[float64](inputs, nil)
}

func (op bernoulliNLLOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(bernoulliNLLGradOp{}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// bernoulliNLLGradOp computes dL/dl = grad_b (sigmoid(l_i) - x_i) given
// dL/dNLL (B).
type bernoulliNLLGradOp struct{ pureOp }

func (op bernoulliNLLGradOp) Arity() int { return 3 }
func (op bernoulliNLLGradOp) Type() hm.Type {
	return hm.NewFnType(matT, matT, vecT, matT)
}
func (op bernoulliNLLGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[0])
}
func (op bernoulliNLLGradOp) String() string        { return "BernoulliNLLGrad" }
func (op bernoulliNLLGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op bernoulliNLLGradOp) Hashcode() uint32      { return hashOp(op) }

func (op bernoulliNLLGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 3); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return nllDo[float32](inputs[:2], inputs[2])
	}
	return nllDo[float64](inputs[:2], inputs[2])
}

// nllDo computes the NLL per row when grad is nil, and otherwise the
// gradient of sum_b grad_b NLL_b with respect to the logits.
func nllDo[T Float](inputs []G.Value, grad G.Value) (G.Value, error) {
	l, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	x, err := tensorData[T](inputs[1])
	if err != nil {
		return nil, err
	}
	shape := inputs[0].Shape()
	if len(shape) != 2 || len(x) != len(l) {
		return nil, fmt.Errorf("model: bernoulli NLL: logits shape %v, %d pixels", shape, len(x))
	}
	rows, cols := shape[0], shape[1]
	if grad == nil {
		out := newLike(inputs[0].Dtype(), rows)
		res := out.Data().([]T)
		for r := 0; r < rows; r++ {
			var s float64
			for i := r * cols; i < (r+1)*cols; i++ {
				li := float64(l[i])
				s += softplus(li) - float64(x[i])*li
			}
			res[r] = T(s)
		}
		return out, nil
	}
	dout, err := tensorData[T](grad)
	if err != nil {
		return nil, err
	}
	if len(dout) != rows {
		return nil, fmt.Errorf("model: bernoulli NLL gradient: %d values for %d rows", len(dout), rows)
	}
	out := newLike(inputs[0].Dtype(), rows, cols)
	res := out.Data().([]T)
	for r := 0; r < rows; r++ {
		for i := r * cols; i < (r+1)*cols; i++ {
			res[i] = T(float64(dout[r]) * (sigmoid(float64(l[i])) - float64(x[i])))
		}
	}
	return out, nil
}
