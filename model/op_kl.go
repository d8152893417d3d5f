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
	// dkl holds dKL/dlogits and q the posterior probabilities from the
	// last forward run, all the gradients need: the forward pass computes
	// both anyway.
	dkl, q *outBuf
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
		return klDo[float32](op, inputs)
	}
	return klDo[float64](op, inputs)
}

func (op klOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	// The forward output orders the gradient ops after the forward run
	// whose dKL/dlogits and q they read.
	args := append(append(G.Nodes{}, inputs...), output, grad)
	dl, err := G.ApplyOp(klGradOp{k: op.k, learned: op.learned, wrt: klLogits, buf: new(outBuf), dkl: op.dkl, q: op.q}, args...)
	if err != nil {
		return nil, err
	}
	if !op.learned {
		return G.Nodes{dl}, nil
	}
	dp, err := G.ApplyOp(klGradOp{k: op.k, learned: true, wrt: klPrior, buf: new(outBuf), dkl: op.dkl, q: op.q}, args...)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dl, dp}, nil
}

// What a klGradOp computes.
const (
	klLogits = iota + 1 // dL/dlogits, (B, N*K)
	klPrior             // dL/dprior summed over rows, (1, N*K)
)

// klGradOp computes the gradient of sum_b grad_b KL_b, given dL/dKL (B),
// with respect to the logits or (wrt = klPrior) the prior's logits:
//
//	dKL/dlogits_nj = q_n(j) (log q_n(j) - log p_n(j) - KL_n)
//	dKL/dprior_nj  = p_n(j) - q_n(j)
//
// Its inputs are klOp's and then klOp's output and dL/dKL; it reads
// dKL/dlogits and q from klOp's last forward run.
type klGradOp struct {
	pureOp
	k       int
	learned bool
	wrt     int
	buf     *outBuf
	dkl, q  *outBuf
}

func (op klGradOp) Arity() int {
	if op.learned {
		return 4
	}
	return 3
}

func (op klGradOp) Type() hm.Type {
	if op.learned {
		return hm.NewFnType(matT, matT, vecT, vecT, matT)
	}
	return hm.NewFnType(matT, vecT, vecT, matT)
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
	if inputs[0].Dtype() == tensor.Float32 {
		return klGradDo[float32](op, inputs)
	}
	return klGradDo[float64](op, inputs)
}

// klDo computes the KL of every row from the inputs (logits and, for a
// learned prior, its logits), and keeps dKL/dlogits and q for the
// gradient ops. Per variable, with m the largest logit and
// S = sum_j exp(l_j - m): q_j = exp(l_j - m) / S and
// log q_j = l_j - m - log S, one exponential per logit (groupExp).
func klDo[T Float](op klOp, inputs []G.Value) (G.Value, error) {
	k := op.k
	logits, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	shape := inputs[0].Shape()
	if len(shape) != 2 || shape[1]%k != 0 {
		return nil, fmt.Errorf("model: categorical KL: logits shape %v is not (B, N*%d)", shape, k)
	}
	rows, cols := shape[0], shape[1]
	logp, err := priorLogProbs[T](inputs[1:], cols, k)
	if err != nil {
		return nil, err
	}
	dt := inputs[0].Dtype()
	out := op.buf.get(dt, rows)
	res := floats[T](out)
	dkl, q := floats[T](op.dkl.get(dt, rows, cols)), floats[T](op.q.get(dt, rows, cols))
	parallelRows(rows, 16, func(lo, hi int) {
		e, m, s := make([]float64, cols), make([]float64, cols/k), make([]float32, cols)
		lratio, sums, negLogSums := make([]float64, cols), make([]float64, cols/k), make([]float64, cols/k)
		for r := lo; r < hi; r++ {
			row := r * cols
			groupExp(e, m, logits[row:row+cols], k, s)
			for g := 0; g < cols; g += k {
				var sum float64
				for _, v := range e[g : g+k] {
					sum += v
				}
				sums[g/k] = sum
			}
			negLog64(negLogSums, sums) // the row's logarithms at once: 4 at a time with AVX2
			var kl float64
			for g := 0; g < cols; g += k {
				lse, inv := m[g/k]-negLogSums[g/k], 1/sums[g/k]
				var kln float64 // KL of this variable
				for j := g; j < g+k; j++ {
					qj, lr := e[j]*inv, float64(logits[row+j])-lse-logp[j] // q_j, log(q_j/p_j)
					e[j], lratio[j] = qj, lr
					q[row+j] = T(qj)
					kln += qj * lr
				}
				for j := g; j < g+k; j++ {
					dkl[row+j] = T(e[j] * (lratio[j] - kln))
				}
				kl += kln
			}
			res[r] = T(kl)
		}
	})
	return out, nil
}

// priorLogProbs returns log p_n(j) for the cols columns: log softmax of the
// prior's logits when given, else -log K.
func priorLogProbs[T Float](prior []G.Value, cols, k int) ([]float64, error) {
	logp := make([]float64, cols)
	if len(prior) == 0 {
		for i := range logp {
			logp[i] = -math.Log(float64(k))
		}
		return logp, nil
	}
	p, err := tensorData[T](prior[0])
	if err != nil {
		return nil, err
	}
	if len(p) != cols {
		return nil, fmt.Errorf("model: categorical KL: %d prior logits for %d columns", len(p), cols)
	}
	for g := 0; g < cols; g += k {
		logSoftmax(logp[g:g+k], p[g:g+k])
	}
	return logp, nil
}

// klGradDo computes the gradient op.wrt asks for from dL/dKL (the last
// input) and the forward run's dKL/dlogits and q.
func klGradDo[T Float](op klGradOp, inputs []G.Value) (G.Value, error) {
	dout, err := tensorData[T](inputs[len(inputs)-1])
	if err != nil {
		return nil, err
	}
	shape := inputs[0].Shape()
	rows, cols := shape[0], shape[1]
	if len(dout) != rows {
		return nil, fmt.Errorf("model: categorical KL gradient: %d values for %d rows", len(dout), rows)
	}
	dt := inputs[0].Dtype()
	dklT, ok1 := op.dkl.filled(dt, shape)
	qT, ok2 := op.q.filled(dt, shape)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("model: categorical KL gradient before its forward run")
	}
	dkl, q := floats[T](dklT), floats[T](qT)
	if op.wrt == klLogits {
		out := op.buf.get(dt, rows, cols)
		res := floats[T](out)
		for r := range rows {
			d := dout[r]
			for i := r * cols; i < (r+1)*cols; i++ {
				res[i] = d * dkl[i]
			}
		}
		return out, nil
	}
	// dL/dprior_c = sum_r dout_r (p_c - q_rc): one goroutine, in row order.
	logp, err := priorLogProbs[T](inputs[1:2], cols, op.k)
	if err != nil {
		return nil, err
	}
	dp := make([]float64, cols)
	for r := range rows {
		d := float64(dout[r])
		for c := range dp {
			dp[c] += d * (math.Exp(logp[c]) - float64(q[r*cols+c]))
		}
	}
	out := op.buf.get(dt, 1, cols)
	res := floats[T](out)
	for c, v := range dp {
		res[c] = T(v)
	}
	return out, nil
}
