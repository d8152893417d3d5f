package model

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// klOp computes, for each row of logits (B, N*K), the analytic KL divergence
// of the N categorical posteriors q_n = softmax(logits_n) from the uniform
// prior over k classes, summed over the N variables:
//
//	KL = sum_n sum_k q_n(k) (log q_n(k) + log K)
//
// The output has shape (B). Log-probabilities come from a max-shifted
// log-softmax, so the value is finite for any finite logits.
type klOp struct {
	pureOp
	k   int
	buf *outBuf
}

func (op klOp) Arity() int                                        { return 1 }
func (op klOp) Type() hm.Type                                     { return hm.NewFnType(matT, vecT) }
func (op klOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return rowsOf(in[0]) }
func (op klOp) String() string                                    { return fmt.Sprintf("CategoricalKL{k=%d}", op.k) }
func (op klOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op klOp) Hashcode() uint32                                  { return hashOp(op) }
func (op klOp) DiffWRT(int) []bool                                { return []bool{true} }

func (op klOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 1); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return klDo[float32](op.k, op.buf, inputs, nil)
	}
	return klDo[float64](op.k, op.buf, inputs, nil)
}

func (op klOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(klGradOp{k: op.k, buf: new(outBuf)}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// klGradOp computes dL/dlogits of klOp given dL/dKL (B):
//
//	dKL/dlogits_nj = q_n(j) (log q_n(j) - sum_k q_n(k) log q_n(k))
type klGradOp struct {
	pureOp
	k   int
	buf *outBuf
}

func (op klGradOp) Arity() int                                        { return 2 }
func (op klGradOp) Type() hm.Type                                     { return hm.NewFnType(matT, vecT, matT) }
func (op klGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op klGradOp) String() string                                    { return fmt.Sprintf("CategoricalKLGrad{k=%d}", op.k) }
func (op klGradOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op klGradOp) Hashcode() uint32                                  { return hashOp(op) }

func (op klGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 2); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return klDo[float32](op.k, op.buf, inputs[:1], inputs[1])
	}
	return klDo[float64](op.k, op.buf, inputs[:1], inputs[1])
}

// klDo computes the KL per row when grad is nil, and otherwise the
// gradient of sum_b grad_b KL_b with respect to the logits, into buf.
func klDo[T Float](k int, buf *outBuf, inputs []G.Value, grad G.Value) (G.Value, error) {
	logits, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	shape := inputs[0].Shape()
	if len(shape) != 2 || shape[1]%k != 0 {
		return nil, fmt.Errorf("model: categorical KL: logits shape %v is not (B, N*%d)", shape, k)
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
			return nil, fmt.Errorf("model: categorical KL gradient: %d values for %d rows", len(dout), rows)
		}
		out = buf.get(inputs[0].Dtype(), rows, cols)
	}
	res := floats[T](out)
	logK := math.Log(float64(k))
	parallelRows(rows, 16, func(lo, hi int) {
		logq := make([]float64, k)
		for r := lo; r < hi; r++ {
			var kl float64
			for g := r * cols; g < (r+1)*cols; g += k {
				logSoftmax(logq, logits[g:g+k])
				var negH float64 // sum_k q log q
				for _, lq := range logq {
					negH += math.Exp(lq) * lq
				}
				if grad == nil {
					kl += negH + logK
					continue
				}
				for j, lq := range logq {
					res[g+j] = T(float64(dout[r]) * math.Exp(lq) * (lq - negH))
				}
			}
			if grad == nil {
				res[r] = T(kl)
			}
		}
	})
	return out, nil
}
