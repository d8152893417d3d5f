package model

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// relaxOp is the Gumbel-Softmax relaxation (Jang et al. 2017, eq. 2) of
// each group of k consecutive logits:
//
//	y = softmax((logits + g) / tau)
//
// with inputs logits (B, N*K), Gumbel noise g (B, N*K) and the temperature
// tau (a scalar). When hard is set the output is the one-hot vector of
// argmax y (the straight-through estimator of Sec. 2.2) while the
// gradient stays that of the relaxed y. The gradient flows to logits only.
type relaxOp struct {
	pureOp
	k    int
	hard bool
	buf  *outBuf
}

func (op relaxOp) Arity() int                                        { return 3 }
func (op relaxOp) Type() hm.Type                                     { return hm.NewFnType(matT, matT, elemT, matT) }
func (op relaxOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op relaxOp) String() string                                    { return fmt.Sprintf("GumbelSoftmax{k=%d,hard=%t}", op.k, op.hard) }
func (op relaxOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op relaxOp) Hashcode() uint32                                  { return hashOp(op) }
func (op relaxOp) DiffWRT(int) []bool                                { return []bool{true, false, false} }

func (op relaxOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 3); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return relaxDo[float32](op, inputs)
	}
	return relaxDo[float64](op, inputs)
}

func relaxDo[T Float](op relaxOp, inputs []G.Value) (G.Value, error) {
	out := op.buf.get(inputs[0].Dtype(), inputs[0].Shape()...)
	y := floats[T](out)
	if err := relaxSoft(y, op.k, inputs); err != nil {
		return nil, err
	}
	if op.hard {
		OneHotGroups(y, op.k)
	}
	return out, nil
}

// relaxSoft writes softmax((logits + noise)/tau) of the inputs into y.
func relaxSoft[T Float](y []T, k int, inputs []G.Value) error {
	logits, err := tensorData[T](inputs[0])
	if err != nil {
		return err
	}
	noise, err := tensorData[T](inputs[1])
	if err != nil {
		return err
	}
	tau, err := scalarValue(inputs[2])
	if err != nil {
		return err
	}
	if len(noise) != len(logits) || len(y) != len(logits) || len(logits)%k != 0 {
		return fmt.Errorf("model: gumbel-softmax: %d logits, %d noise values, k=%d", len(logits), len(noise), k)
	}
	if !(tau > 0) {
		return fmt.Errorf("model: gumbel-softmax: temperature %v is not positive", tau)
	}
	for i := range y {
		y[i] = logits[i] + noise[i]
	}
	SoftmaxGroups(y, y, k, tau)
	return nil
}

func (op relaxOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dlogits, err := G.ApplyOp(relaxGradOp{k: op.k, buf: new(outBuf), soft: new(outBuf)}, inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dlogits, nil, nil}, nil
}

// relaxGradOp computes dL/dlogits of the soft relaxation from the inputs of
// relaxOp and dL/dy. It recomputes y rather than reading relaxOp's output
// because in hard mode that output is the one-hot vector.
type relaxGradOp struct {
	pureOp
	k         int
	buf, soft *outBuf // the gradient, and the soft sample y
}

func (op relaxGradOp) Arity() int { return 4 }
func (op relaxGradOp) Type() hm.Type {
	return hm.NewFnType(matT, matT, elemT, matT, matT)
}
func (op relaxGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op relaxGradOp) String() string                                    { return fmt.Sprintf("GumbelSoftmaxGrad{k=%d}", op.k) }
func (op relaxGradOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op relaxGradOp) Hashcode() uint32                                  { return hashOp(op) }

func (op relaxGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 4); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return relaxGradDo[float32](op, inputs)
	}
	return relaxGradDo[float64](op, inputs)
}

func relaxGradDo[T Float](op relaxGradOp, inputs []G.Value) (G.Value, error) {
	dt, shape := inputs[0].Dtype(), inputs[0].Shape()
	y := floats[T](op.soft.get(dt, shape...))
	if err := relaxSoft(y, op.k, inputs[:3]); err != nil {
		return nil, err
	}
	dy, err := tensorData[T](inputs[3])
	if err != nil {
		return nil, err
	}
	if len(dy) != len(y) {
		return nil, fmt.Errorf("model: gumbel-softmax gradient: %d values for %d outputs", len(dy), len(y))
	}
	tau, err := scalarValue(inputs[2])
	if err != nil {
		return nil, err
	}
	out := op.buf.get(dt, shape...)
	SoftmaxGroupsGrad(floats[T](out), y, dy, op.k, tau)
	return out, nil
}
