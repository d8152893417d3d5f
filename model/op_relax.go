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
	buf  *outBuf // the one-hot output in hard mode
	// soft holds the relaxed sample y of the last forward run (the output
	// in soft mode), which is all the gradient needs besides tau.
	soft *outBuf
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
	soft := op.soft.get(inputs[0].Dtype(), inputs[0].Shape()...)
	if err := relaxSoft(floats[T](soft), op.k, inputs); err != nil {
		return nil, err
	}
	if !op.hard {
		return soft, nil
	}
	out := op.buf.get(inputs[0].Dtype(), inputs[0].Shape()...)
	y := floats[T](out)
	copy(y, floats[T](soft))
	OneHotGroups(y, op.k)
	return out, nil
}

// relaxSoft writes softmax((logits + noise)/tau) of the inputs into y,
// rows split across CPUs.
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
	shape := inputs[0].Shape()
	rows, cols := shape[0], len(logits)/shape[0]
	parallelRows(rows, 16, func(lo, hi int) {
		i, j := lo*cols, hi*cols
		for n := i; n < j; n++ {
			y[n] = logits[n] + noise[n]
		}
		SoftmaxGroups(y[i:j], y[i:j], k, tau)
	})
	return nil
}

func (op relaxOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	// The output orders the gradient after the forward run whose soft
	// sample it reads.
	dlogits, err := G.ApplyOp(relaxGradOp{k: op.k, buf: new(outBuf), soft: op.soft}, inputs[0], inputs[1], inputs[2], output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dlogits, nil, nil}, nil
}

// relaxGradOp computes dL/dlogits of the soft relaxation from the inputs of
// relaxOp, its output (for ordering) and dL/dy, reading the soft sample y
// of relaxOp's last forward run (in hard mode the output is the one-hot
// vector, not y).
type relaxGradOp struct {
	pureOp
	k         int
	buf, soft *outBuf // the gradient, and relaxOp's soft sample y
}

func (op relaxGradOp) Arity() int { return 5 }
func (op relaxGradOp) Type() hm.Type {
	return hm.NewFnType(matT, matT, elemT, matT, matT, matT)
}
func (op relaxGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op relaxGradOp) String() string                                    { return fmt.Sprintf("GumbelSoftmaxGrad{k=%d}", op.k) }
func (op relaxGradOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op relaxGradOp) Hashcode() uint32                                  { return hashOp(op) }

func (op relaxGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 5); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return relaxGradDo[float32](op, inputs)
	}
	return relaxGradDo[float64](op, inputs)
}

func relaxGradDo[T Float](op relaxGradOp, inputs []G.Value) (G.Value, error) {
	dt, shape := inputs[0].Dtype(), inputs[0].Shape()
	soft, ok := op.soft.filled(dt, shape)
	if !ok {
		return nil, fmt.Errorf("model: gumbel-softmax gradient before its forward run")
	}
	y := floats[T](soft)
	dy, err := tensorData[T](inputs[4])
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
	dz := floats[T](out)
	cols := len(y) / shape[0]
	parallelRows(shape[0], 16, func(lo, hi int) {
		i, j := lo*cols, hi*cols
		SoftmaxGroupsGrad(dz[i:j], y[i:j], dy[i:j], op.k, tau)
	})
	return out, nil
}
