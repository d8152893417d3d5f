package model

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// relaxedKLOp computes, for each row of logits (B, N*K) with the Gumbel
// noise (B, N*K) of the relaxed sample and the temperature tau (a scalar),
// the single-sample relaxed KL of the N variables (see relaxedKLGroup),
//
//	sum_n log q_tau(x_n | logits_n) - log p_priorTau(x_n),
//	x_n = log softmax((logits_n + g_n) / tau),
//
// with a uniform ExpConcrete prior at temperature priorTau. Unlike the
// analytic KL of the discrete variables, this keeps the relaxed objective a
// lower bound on the relaxed model's likelihood. The output has shape (B);
// the gradient, to the logits only, includes the path through the sample.
type relaxedKLOp struct {
	pureOp
	k        int
	priorTau float64
	buf      *outBuf
}

func newRelaxedKLOp(k int, priorTau float64) relaxedKLOp {
	return relaxedKLOp{k: k, priorTau: priorTau, buf: new(outBuf)}
}

func (op relaxedKLOp) Arity() int                                        { return 3 }
func (op relaxedKLOp) Type() hm.Type                                     { return hm.NewFnType(matT, matT, elemT, vecT) }
func (op relaxedKLOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return rowsOf(in[0]) }
func (op relaxedKLOp) String() string {
	return fmt.Sprintf("RelaxedKL{k=%d,priorTau=%v}", op.k, op.priorTau)
}
func (op relaxedKLOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op relaxedKLOp) Hashcode() uint32      { return hashOp(op) }
func (op relaxedKLOp) DiffWRT(int) []bool    { return []bool{true, false, false} }

func (op relaxedKLOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 3); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return relaxedKLDo[float32](op.k, op.priorTau, op.buf, inputs, nil)
	}
	return relaxedKLDo[float64](op.k, op.priorTau, op.buf, inputs, nil)
}

func (op relaxedKLOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(relaxedKLGradOp{k: op.k, priorTau: op.priorTau, buf: new(outBuf)}, inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil, nil}, nil
}

// relaxedKLGradOp computes dL/dlogits of relaxedKLOp given dL/dKL (B).
type relaxedKLGradOp struct {
	pureOp
	k        int
	priorTau float64
	buf      *outBuf
}

func (op relaxedKLGradOp) Arity() int { return 4 }
func (op relaxedKLGradOp) Type() hm.Type {
	return hm.NewFnType(matT, matT, elemT, vecT, matT)
}
func (op relaxedKLGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op relaxedKLGradOp) String() string {
	return fmt.Sprintf("RelaxedKLGrad{k=%d,priorTau=%v}", op.k, op.priorTau)
}
func (op relaxedKLGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op relaxedKLGradOp) Hashcode() uint32      { return hashOp(op) }

func (op relaxedKLGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 4); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return relaxedKLDo[float32](op.k, op.priorTau, op.buf, inputs[:3], inputs[3])
	}
	return relaxedKLDo[float64](op.k, op.priorTau, op.buf, inputs[:3], inputs[3])
}

// relaxedKLDo computes the relaxed KL of every row when grad is nil, and
// otherwise the gradient of sum_b grad_b KL_b with respect to the logits.
func relaxedKLDo[T Float](k int, priorTau float64, buf *outBuf, inputs []G.Value, grad G.Value) (G.Value, error) {
	logits, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	noise, err := tensorData[T](inputs[1])
	if err != nil {
		return nil, err
	}
	tau, err := scalarValue(inputs[2])
	if err != nil {
		return nil, err
	}
	shape := inputs[0].Shape()
	if len(shape) != 2 || shape[1]%k != 0 || len(noise) != len(logits) {
		return nil, fmt.Errorf("model: relaxed KL: logits %v and %d noise values do not fit (B, N*%d)", shape, len(noise), k)
	}
	if !(tau > 0) || !(priorTau > 0) {
		return nil, fmt.Errorf("model: relaxed KL: temperatures %v and %v must be positive", tau, priorTau)
	}
	rows, cols := shape[0], shape[1]
	var dout []T
	var out *tensor.Dense
	if grad == nil {
		out = buf.get(inputs[0].Dtype(), rows)
	} else {
		if dout, err = tensorData[T](grad); err != nil {
			return nil, err
		}
		if len(dout) != rows {
			return nil, fmt.Errorf("model: relaxed KL gradient: %d values for %d rows", len(dout), rows)
		}
		out = buf.get(inputs[0].Dtype(), rows, cols)
	}
	res := floats[T](out)
	parallelRows(rows, 16, func(lo, hi int) {
		l, g, d := make([]float64, k), make([]float64, k), make([]float64, k)
		for r := lo; r < hi; r++ {
			var kl float64
			for c := r * cols; c < (r+1)*cols; c += k {
				for j := range k {
					l[j], g[j] = float64(logits[c+j]), float64(noise[c+j])
				}
				if grad == nil {
					kl += relaxedKLGroup(l, g, tau, priorTau, nil)
					continue
				}
				relaxedKLGroup(l, g, tau, priorTau, d)
				for j := range k {
					res[c+j] = T(float64(dout[r]) * d[j])
				}
			}
			if grad == nil {
				res[r] = T(kl)
			}
		}
	})
	return out, nil
}
