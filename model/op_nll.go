package model

import (
	"fmt"
	"hash"
	"math"

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
type bernoulliNLLOp struct {
	pureOp
	buf *outBuf
	// residual holds sigmoid(l) - x from the last forward run, which is
	// all the gradient needs: the forward pass computes exp(-|l|) anyway.
	residual *outBuf
}

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
		return nllDo[float32](op, inputs)
	}
	return nllDo[float64](op, inputs)
}

func (op bernoulliNLLOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	// The logits give the gradient its shape and the forward output orders
	// the two ops: the gradient reads the residual the forward run left.
	d, err := G.ApplyOp(bernoulliNLLGradOp{buf: new(outBuf), residual: op.residual}, inputs[0], output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// bernoulliNLLGradOp computes dL/dl = grad_b (sigmoid(l_i) - x_i) from the
// logits (B, D), for the shape, the forward op's output (B), for ordering,
// and dL/dNLL (B), reading sigmoid(l) - x from the forward op's residual.
type bernoulliNLLGradOp struct {
	pureOp
	buf, residual *outBuf
}

func (op bernoulliNLLGradOp) Arity() int { return 3 }
func (op bernoulliNLLGradOp) Type() hm.Type {
	return hm.NewFnType(matT, vecT, vecT, matT)
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
		return nllGradDo[float32](op, inputs[2])
	}
	return nllGradDo[float64](op, inputs[2])
}

// nllDo computes the NLL of every row and keeps the residual
// sigmoid(l) - x for the gradient. Rows are split across CPUs: this is the
// widest elementwise work of a step.
func nllDo[T Float](op bernoulliNLLOp, inputs []G.Value) (G.Value, error) {
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
	out := op.buf.get(inputs[0].Dtype(), rows)
	res := floats[T](out)
	resid := floats[T](op.residual.get(inputs[0].Dtype(), rows, cols))
	// Float32 runs use nllRow32 (an AVX2 kernel, or the polynomial exp and
	// log1p of fastmath.go); float64 runs, which check gradients against
	// finite differences, use the math package's functions.
	row := func(l, x, resid []T) float64 {
		return nllRowGo(l, x, resid, func(a float64) float64 { return math.Exp(-a) }, math.Log1p)
	}
	if _, ok := any(l).([]float32); ok {
		row = func(l, x, resid []T) float64 {
			return nllRow32(any(l).([]float32), any(x).([]float32), any(resid).([]float32))
		}
	}
	parallelRows(rows, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i, j := r*cols, (r+1)*cols
			res[r] = T(row(l[i:j], x[i:j], resid[i:j]))
		}
	})
	return out, nil
}

// nllRowGo returns the negative log-likelihood sum_i softplus(l_i) - x_i l_i
// of one row and writes sigmoid(l_i) - x_i into resid, with the given
// exp(-a) (a >= 0) and log1p(e) (0 <= e <= 1).
func nllRowGo[T Float](l, x, resid []T, expNeg, log1p func(float64) float64) float64 {
	x, resid = x[:len(l)], resid[:len(l)]
	var s float64
	for i := range l {
		li, xi := float64(l[i]), float64(x[i])
		// softplus(l) = max(l,0) + log1p(e) and sigmoid(l) from the one
		// exponential e = exp(-|l|).
		e := expNeg(math.Abs(li))
		s += math.Max(li, 0) + log1p(e) - xi*li
		sig := 1 / (1 + e)
		if li < 0 {
			sig = e / (1 + e)
		}
		resid[i] = T(sig - xi)
	}
	return s
}

// nllGradDo scales the residual of every row by dL/dNLL of that row.
func nllGradDo[T Float](op bernoulliNLLGradOp, grad G.Value) (G.Value, error) {
	dout, err := tensorData[T](grad)
	if err != nil {
		return nil, err
	}
	if op.residual.t == nil {
		return nil, fmt.Errorf("model: %v ran before its forward op", op)
	}
	shape := op.residual.t.Shape()
	rows, cols := shape[0], shape[1]
	if len(dout) != rows {
		return nil, fmt.Errorf("model: bernoulli NLL gradient: %d values for %d rows", len(dout), rows)
	}
	resid := floats[T](op.residual.t)
	out := op.buf.get(op.residual.t.Dtype(), rows, cols)
	res := floats[T](out)
	for r := 0; r < rows; r++ {
		d := dout[r]
		for i := r * cols; i < (r+1)*cols; i++ {
			res[i] = d * resid[i]
		}
	}
	return out, nil
}
