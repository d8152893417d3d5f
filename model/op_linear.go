package model

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearOp is one fused layer of the MLPs,
//
//	y = act(x W^T + b),   x (B, in), W (out, in), b (1, out),
//
// with act the ReLU or the identity. W is stored (out, in), as in PyTorch,
// because then all three products of a training step (y = x W^T,
// dW = dy^T x, dx = dy W) take the fastest forms of gonum's pure-Go GEMM.
// One op replaces gorgonia's Mul, BroadcastAdd (which materialises the
// repeated bias) and Rectify, and writes into a buffer it reuses.
type linearOp struct {
	pureOp
	name      string // the layer, for messages and hashing
	relu      bool
	inputGrad bool // whether x needs a gradient (false for the data)
	buf       *outBuf
}

func newLinearOp(name string, relu, inputGrad bool) linearOp {
	return linearOp{name: name, relu: relu, inputGrad: inputGrad, buf: new(outBuf)}
}

func (op linearOp) Arity() int                                        { return 3 }
func (op linearOp) Type() hm.Type                                     { return hm.NewFnType(matT, matT, matT, matT) }
func (op linearOp) String() string                                    { return fmt.Sprintf("Linear{%s,relu=%t}", op.name, op.relu) }
func (op linearOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op linearOp) Hashcode() uint32                                  { return hashOp(op) }
func (op linearOp) DiffWRT(int) []bool                                { return []bool{op.inputGrad, true, true} }
func (op linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return linearShape(in) }

// linearShape is (B, out) from x (B, in) and W (out, in).
func linearShape(in []G.DimSizer) (tensor.Shape, error) {
	x, ok1 := in[0].(tensor.Shape)
	w, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(x) != 2 || len(w) != 2 || x[1] != w[1] {
		return nil, fmt.Errorf("model: linear layer: input %v and weights %v do not fit (B,in) and (out,in)", in[0], in[1])
	}
	return tensor.Shape{x[0], w[0]}, nil
}

func (op linearOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 3); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return linearDo[float32](op, inputs)
	}
	return linearDo[float64](op, inputs)
}

func linearDo[T Float](op linearOp, inputs []G.Value) (G.Value, error) {
	x, w, b, err := three[T](inputs)
	if err != nil {
		return nil, err
	}
	rows, in := inputs[0].Shape()[0], inputs[0].Shape()[1]
	out := inputs[1].Shape()[0]
	if len(w) != out*in || len(b) != out {
		return nil, fmt.Errorf("model: %v: weights %v, bias %v for input %v", op, inputs[1].Shape(), inputs[2].Shape(), inputs[0].Shape())
	}
	res := op.buf.get(inputs[0].Dtype(), rows, out)
	y := floats[T](res)
	gemm(false, true, rows, out, in, x, in, w, in, 0, y, out) // y = x W^T
	addBiasRows(y, b, rows, op.relu)
	return res, nil
}

// addBiasRows applies biasActGo (or its float32 kernel) to each of the
// rows of y, rows split across CPUs.
func addBiasRows[T Float](y, b []T, rows int, relu bool) {
	act := biasActGo[T]
	if f, ok := any(biasAct32).(func(y, b []T, relu bool)); ok {
		act = f
	}
	out := len(y) / rows
	parallelRows(rows, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			act(y[r*out:(r+1)*out], b, relu)
		}
	})
}

// biasActGo adds b to the row y and, with relu, clamps it at 0 as the
// ReLU does: y = max(y + b, 0).
func biasActGo[T Float](y, b []T, relu bool) {
	for j, bj := range b[:len(y)] {
		y[j] += bj
	}
	if relu {
		for j, v := range y {
			y[j] = max(v, 0)
		}
	}
}

func (op linearOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d := grad
	var err error
	if op.relu {
		if d, err = G.ApplyOp(reluGradOp{buf: new(outBuf)}, output, grad); err != nil { // (B, out)
			return nil, err
		}
	}
	grads := make(G.Nodes, 3)
	if op.inputGrad { // dx = d W: (B, out)(out, in)
		if grads[0], err = G.ApplyOp(gemmOp{name: op.name + ".dx", buf: new(outBuf)}, d, inputs[1]); err != nil {
			return nil, err
		}
	}
	// dW = d^T x: (out, B)(B, in)
	if grads[1], err = G.ApplyOp(gemmOp{name: op.name + ".dW", transA: true, buf: new(outBuf)}, d, inputs[0]); err != nil {
		return nil, err
	}
	if grads[2], err = G.ApplyOp(colSumOp{name: op.name + ".db", buf: new(outBuf)}, d); err != nil { // (1, out)
		return nil, err
	}
	return grads, nil
}

// reluGradOp computes dL/dpre = dL/dy * [y > 0] from a ReLU layer's
// output y and dL/dy.
type reluGradOp struct {
	pureOp
	buf *outBuf
}

func (op reluGradOp) Arity() int                                        { return 2 }
func (op reluGradOp) Type() hm.Type                                     { return hm.NewFnType(matT, matT, matT) }
func (op reluGradOp) String() string                                    { return "ReLUGrad" }
func (op reluGradOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op reluGradOp) Hashcode() uint32                                  { return hashOp(op) }
func (op reluGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }

func (op reluGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 2); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return reluGradDo[float32](op, inputs)
	}
	return reluGradDo[float64](op, inputs)
}

func reluGradDo[T Float](op reluGradOp, inputs []G.Value) (G.Value, error) {
	y, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	dy, err := tensorData[T](inputs[1])
	if err != nil {
		return nil, err
	}
	if len(dy) != len(y) {
		return nil, fmt.Errorf("model: ReLU gradient: %d values for %d outputs", len(dy), len(y))
	}
	res := op.buf.get(inputs[0].Dtype(), inputs[0].Shape()...)
	d := floats[T](res)
	cols := len(y) / inputs[0].Shape()[0]
	parallelRows(inputs[0].Shape()[0], 16, func(lo, hi int) {
		reluMask(d[lo*cols:hi*cols], y[lo*cols:hi*cols], dy[lo*cols:hi*cols])
	})
	return res, nil
}

// reluMask sets d = dy where y > 0 and 0 elsewhere, for ReLU outputs y
// (never negative).
func reluMask[T Float](d, y, dy []T) {
	if f, ok := any(reluMask32).(func(d, y, dy []T)); ok {
		f(d, y, dy)
		return
	}
	y, dy = y[:len(d)], dy[:len(d)]
	for i, v := range y {
		if v > 0 {
			d[i] = dy[i]
		} else {
			d[i] = 0
		}
	}
}

// reluMaskGo is reluMask for float32, selecting by the bits of y without
// a branch: half the outputs of a layer are 0, in no order a branch
// predictor could learn. d = dy where the bits of y read as an int32 are
// positive (y > 0, or a NaN without its sign bit, which passes the NaN
// on), else +0.
func reluMaskGo(d, y, dy []float32) {
	y, dy = y[:len(d)], dy[:len(d)]
	for i := range d {
		m := uint32(-int64(int32(math.Float32bits(y[i]))) >> 63) // all ones or zero
		d[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
	}
}

// gemmOp computes C = op(A) B for matrices A and B, with op(A) = A^T when
// transA is set: the two products of a linear layer's backward pass.
type gemmOp struct {
	pureOp
	name   string
	transA bool
	buf    *outBuf
}

func (op gemmOp) Arity() int            { return 2 }
func (op gemmOp) Type() hm.Type         { return hm.NewFnType(matT, matT, matT) }
func (op gemmOp) String() string        { return fmt.Sprintf("GEMM{%s,transA=%t}", op.name, op.transA) }
func (op gemmOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op gemmOp) Hashcode() uint32      { return hashOp(op) }

func (op gemmOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, ok1 := in[0].(tensor.Shape)
	b, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(a) != 2 || len(b) != 2 {
		return nil, fmt.Errorf("model: %v: want matrices, got %v and %v", op, in[0], in[1])
	}
	m, k := a[0], a[1]
	if op.transA {
		m, k = k, m
	}
	if k != b[0] {
		return nil, fmt.Errorf("model: %v: shapes %v and %v do not fit", op, a, b)
	}
	return tensor.Shape{m, b[1]}, nil
}

func (op gemmOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 2); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return gemmDo[float32](op, inputs)
	}
	return gemmDo[float64](op, inputs)
}

func gemmDo[T Float](op gemmOp, inputs []G.Value) (G.Value, error) {
	shape, err := op.InferShape(inputs[0].Shape(), inputs[1].Shape())
	if err != nil {
		return nil, err
	}
	a, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	b, err := tensorData[T](inputs[1])
	if err != nil {
		return nil, err
	}
	m, n := shape[0], shape[1]
	k, lda := inputs[0].Shape()[1], inputs[0].Shape()[1]
	if op.transA {
		k = inputs[0].Shape()[0]
	}
	res := op.buf.get(inputs[0].Dtype(), m, n)
	gemm(op.transA, false, m, n, k, a, lda, b, n, 0, floats[T](res), n)
	return res, nil
}

// colSumOp sums a (B, n) matrix over its rows into (1, n): the bias
// gradient.
type colSumOp struct {
	pureOp
	name string
	buf  *outBuf
}

func (op colSumOp) Arity() int            { return 1 }
func (op colSumOp) Type() hm.Type         { return hm.NewFnType(matT, matT) }
func (op colSumOp) String() string        { return fmt.Sprintf("ColSum{%s}", op.name) }
func (op colSumOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op colSumOp) Hashcode() uint32      { return hashOp(op) }

func (op colSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("model: %v: want a matrix, got %v", op, in[0])
	}
	return tensor.Shape{1, s[1]}, nil
}

func (op colSumOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 1); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return colSumDo[float32](op, inputs)
	}
	return colSumDo[float64](op, inputs)
}

func colSumDo[T Float](op colSumOp, inputs []G.Value) (G.Value, error) {
	d, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	rows, n := inputs[0].Shape()[0], inputs[0].Shape()[1]
	res := op.buf.get(inputs[0].Dtype(), 1, n)
	s := floats[T](res)
	if f, ok := any(colSum32).(func(s, d []T, rows int)); ok {
		f(s, d, rows)
	} else {
		colSumGo(s, d, rows, n)
	}
	return res, nil
}

// colSumGo sets s to the sum of the rows of d, whose rows are stride
// apart, over the first len(s) columns, adding the rows in order.
func colSumGo[T Float](s, d []T, rows, stride int) {
	copy(s, d[:len(s)])
	for r := 1; r < rows; r++ {
		for j, v := range d[r*stride : r*stride+len(s)] {
			s[j] += v
		}
	}
}

// gemm computes C = op(A) op(B) + beta C with gorgonia's BLAS (OpenBLAS
// when the binary links gsvae/backend built with -tags openblas, else
// gonum's), dispatching on the element type.
func gemm[T Float](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		G.WhichBLAS().Sgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		G.WhichBLAS().Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// three returns the data of three inputs of element type T.
func three[T Float](inputs []G.Value) (a, b, c []T, err error) {
	if a, err = tensorData[T](inputs[0]); err != nil {
		return
	}
	if b, err = tensorData[T](inputs[1]); err != nil {
		return
	}
	c, err = tensorData[T](inputs[2])
	return
}
