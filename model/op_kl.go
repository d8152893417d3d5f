package model

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// klOp computes, for each row of logits (B, N*K), the analytic KL
// divergence of the N categorical posteriors q_n = softmax(logits_n) from
// the prior p_n, summed over the N variables:
//
//	KL = sum_n sum_k q_n(k) (log q_n(k) - log p_n(k))
//
// The prior is uniform (log p_n(k) = -log K) or, when learned is set,
// p_n = softmax(prior_n) for a second input prior (1, N*K) shared by all
// rows. The output has shape (B). Log-probabilities come from max-shifted
// log-softmaxes, so the value is finite for any finite logits.
type klOp struct {
	pureOp
	k       int
	learned bool
	buf     *outBuf
}

func (op klOp) Arity() int {
	if op.learned {
		return 2
	}
	return 1
}

func (op klOp) Type() hm.Type {
	if op.learned {
		return hm.NewFnType(matT, matT, vecT)
	}
	return hm.NewFnType(matT, vecT)
}

func (op klOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return rowsOf(in[0]) }
func (op klOp) String() string {
	return fmt.Sprintf("CategoricalKL{k=%d,learned=%t}", op.k, op.learned)
}
func (op klOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op klOp) Hashcode() uint32      { return hashOp(op) }
func (op klOp) DiffWRT(n int) []bool  { return []bool{true, true}[:n] }

func (op klOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, op.Arity()); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return klDo[float32](op.k, klValue, op.buf, inputs, nil)
	}
	return klDo[float64](op.k, klValue, op.buf, inputs, nil)
}

func (op klOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	args := append(append(G.Nodes{}, inputs...), grad)
	dl, err := G.ApplyOp(klGradOp{k: op.k, learned: op.learned, wrt: klLogits, buf: new(outBuf)}, args...)
	if err != nil {
		return nil, err
	}
	if !op.learned {
		return G.Nodes{dl}, nil
	}
	dp, err := G.ApplyOp(klGradOp{k: op.k, learned: true, wrt: klPrior, buf: new(outBuf)}, args...)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dl, dp}, nil
}

// What klDo computes.
const (
	klValue  = iota // KL per row, (B)
	klLogits        // dL/dlogits, (B, N*K)
	klPrior         // dL/dprior summed over rows, (1, N*K)
)

// klGradOp computes the gradient of sum_b grad_b KL_b, given dL/dKL (B),
// with respect to the logits or (wrt = klPrior) the prior's logits:
//
//	dKL/dlogits_nj = q_n(j) (log q_n(j) - log p_n(j) - KL_n)
//	dKL/dprior_nj  = p_n(j) - q_n(j)
type klGradOp struct {
	pureOp
	k       int
	learned bool
	wrt     int
	buf     *outBuf
}

func (op klGradOp) Arity() int {
	if op.learned {
		return 3
	}
	return 2
}

func (op klGradOp) Type() hm.Type {
	if op.learned {
		return hm.NewFnType(matT, matT, vecT, matT)
	}
	return hm.NewFnType(matT, vecT, matT)
}

func (op klGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil || op.wrt != klPrior {
		return s, err
	}
	return tensor.Shape{1, s[1]}, nil
}

func (op klGradOp) String() string {
	return fmt.Sprintf("CategoricalKLGrad{k=%d,learned=%t,wrt=%d}", op.k, op.learned, op.wrt)
}
func (op klGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op klGradOp) Hashcode() uint32      { return hashOp(op) }

func (op klGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, op.Arity()); err != nil {
		return nil, err
	}
	n := len(inputs) - 1
	if inputs[0].Dtype() == tensor.Float32 {
		return klDo[float32](op.k, op.wrt, op.buf, inputs[:n], inputs[n])
	}
	return klDo[float64](op.k, op.wrt, op.buf, inputs[:n], inputs[n])
}

// klDo computes what `what` says (klValue, klLogits or klPrior) into buf
// from inputs (logits and, for a learned prior, its logits) and, for the
// gradients, dL/dKL per row.
func klDo[T Float](k, what int, buf *outBuf, inputs []G.Value, grad G.Value) (G.Value, error) {
	logits, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	shape := inputs[0].Shape()
	if len(shape) != 2 || shape[1]%k != 0 {
		return nil, fmt.Errorf("model: categorical KL: logits shape %v is not (B, N*%d)", shape, k)
	}
	rows, cols := shape[0], shape[1]
	logp := make([]float64, cols) // log p_n(k), the same for every row
	if len(inputs) > 1 {
		prior, err := tensorData[T](inputs[1])
		if err != nil {
			return nil, err
		}
		if len(prior) != cols {
			return nil, fmt.Errorf("model: categorical KL: %d prior logits for %d columns", len(prior), cols)
		}
		for g := 0; g < cols; g += k {
			logSoftmax(logp[g:g+k], prior[g:g+k])
		}
	} else {
		for i := range logp {
			logp[i] = -math.Log(float64(k))
		}
	}
	var dout []T
	if what != klValue {
		if dout, err = tensorData[T](grad); err != nil {
			return nil, err
		}
		if len(dout) != rows {
			return nil, fmt.Errorf("model: categorical KL gradient: %d values for %d rows", len(dout), rows)
		}
	}
	var out *tensor.Dense
	switch what {
	case klValue:
		out = buf.get(inputs[0].Dtype(), rows)
	case klLogits:
		out = buf.get(inputs[0].Dtype(), rows, cols)
	default:
		out = buf.get(inputs[0].Dtype(), 1, cols)
	}
	res := floats[T](out)
	if what == klPrior { // sum over rows: one goroutine, in row order
		dp := make([]float64, cols)
		logq := make([]float64, k)
		for r := 0; r < rows; r++ {
			for g := r * cols; g < (r+1)*cols; g += k {
				logSoftmax(logq, logits[g:g+k])
				for j, lq := range logq {
					c := g - r*cols + j
					dp[c] += float64(dout[r]) * (expNonPos[T](logp[c]) - expNonPos[T](lq))
				}
			}
		}
		for c, v := range dp {
			res[c] = T(v)
		}
		return out, nil
	}
	parallelRows(rows, 16, func(lo, hi int) {
		logq := make([]float64, k)
		for r := lo; r < hi; r++ {
			var kl float64
			for g := r * cols; g < (r+1)*cols; g += k {
				logSoftmax(logq, logits[g:g+k])
				lp := logp[g-r*cols : g-r*cols+k]
				var kln float64 // KL of this variable
				for j, lq := range logq {
					kln += expNonPos[T](lq) * (lq - lp[j])
				}
				if what == klValue {
					kl += kln
					continue
				}
				for j, lq := range logq {
					res[g+j] = T(float64(dout[r]) * expNonPos[T](lq) * (lq - lp[j] - kln))
				}
			}
			if what == klValue {
				res[r] = T(kl)
			}
		}
	})
	return out, nil
}
