package model

import (
	"fmt"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/kernels"
	"gsvae/internal/op"
	"gsvae/internal/parallel"
)

// linear returns the node of one layer of the networks,
//
//	y = act(x W^T + b),   x (B, in), W (out, in), b (1, out),
//
// with act the ReLU or the identity. W is stored (out, in), as in PyTorch,
// because then all three products of a training step (y = x W^T,
// dW = dy^T x, dx = dy W) take the fastest forms of gonum's pure-Go GEMM.
// One op replaces gorgonia's Mul, BroadcastAdd (which materialises the
// repeated bias) and Rectify, and writes into a buffer it reuses.
// inputGrad says whether x needs a gradient (not for the data), frozen
// that W and b get none (a copy of the network that only passes gradients
// through, as MuProp's mean-field pass).
func linear(name string, x, w, b *G.Node, relu, inputGrad, frozen bool) (*G.Node, error) {
	o := linearOp{
		// inputGrad is in the name: gorgonia merges nodes whose ops hash
		// equal on the same inputs, which would hand a caller asking for
		// the input's gradient a node built without it.
		Base:      op.Base{Name: fmt.Sprintf("Linear{%s,relu=%t,inputGrad=%t,frozen=%t}", name, relu, inputGrad, frozen)},
		relu:      relu,
		inputGrad: inputGrad,
		frozen:    frozen,
		buf:       new(op.Buffer),
	}
	return G.ApplyOp(o, x, w, b)
}

// linearOp is the op of linear.
type linearOp struct {
	op.Base
	relu, inputGrad, frozen bool
	buf                     *op.Buffer
}

func (o linearOp) Arity() int    { return 3 }
func (o linearOp) Type() hm.Type { return hm.NewFnType(op.Mat, op.Mat, op.Mat, op.Mat) }
func (o linearOp) DiffWRT(int) []bool {
	return []bool{o.inputGrad, !o.frozen, !o.frozen}
}

// InferShape is (B, out) from x (B, in) and W (out, in).
func (o linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, ok1 := in[0].(tensor.Shape)
	w, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(x) != 2 || len(w) != 2 || x[1] != w[1] {
		return nil, fmt.Errorf("%v: input %v and weights %v do not fit (B,in) and (out,in)", o, in[0], in[1])
	}
	return tensor.Shape{x[0], w[0]}, nil
}

func (o linearOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 3, linearDo[float32](o), linearDo[float64](o))
}

func linearDo[T op.Float](o linearOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		xwb, err := op.Datas[T](inputs...)
		if err != nil {
			return nil, err
		}
		x, w, b := xwb[0], xwb[1], xwb[2]
		rows, in := inputs[0].Shape()[0], inputs[0].Shape()[1]
		out := inputs[1].Shape()[0]
		if len(w) != out*in || len(b) != out {
			return nil, fmt.Errorf("%v: weights %v, bias %v for input %v", o, inputs[1].Shape(), inputs[2].Shape(), inputs[0].Shape())
		}
		res := o.buf.Get(inputs[0].Dtype(), rows, out)
		y := op.Floats[T](res)
		gemm(false, true, rows, out, in, x, in, w, in, y, out) // y = x W^T
		parallel.Rows(rows, 16, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				kernels.BiasAct(y[r*out:(r+1)*out], b, o.relu)
			}
		})
		return res, nil
	}
}

// SymDiff returns dx = d W, dW = d^T x and db = the column sums of d, with
// d = dL/dy masked by the ReLU's output when the layer has one.
func (o linearOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d := grad
	var err error
	if o.relu {
		if d, err = G.ApplyOp(reluGradOp{Base: op.Base{Name: "ReLUGrad"}, buf: new(op.Buffer)}, output, grad); err != nil { // (B, out)
			return nil, err
		}
	}
	grads := make(G.Nodes, 3)
	if o.inputGrad { // dx = d W: (B, out)(out, in)
		if grads[0], err = G.ApplyOp(newGEMMOp(o.Name+".dx", false), d, inputs[1]); err != nil {
			return nil, err
		}
	}
	if o.frozen {
		return grads, nil
	}
	// dW = d^T x: (out, B)(B, in)
	if grads[1], err = G.ApplyOp(newGEMMOp(o.Name+".dW", true), d, inputs[0]); err != nil {
		return nil, err
	}
	if grads[2], err = G.ApplyOp(colSumOp{Base: op.Base{Name: "ColSum{" + o.Name + "}"}, buf: new(op.Buffer)}, d); err != nil { // (1, out)
		return nil, err
	}
	return grads, nil
}

// reluGradOp computes dL/dpre = dL/dy * [y > 0] from a ReLU layer's
// output y and dL/dy.
type reluGradOp struct {
	op.Base
	buf *op.Buffer
}

func (o reluGradOp) Arity() int                                        { return 2 }
func (o reluGradOp) Type() hm.Type                                     { return hm.NewFnType(op.Mat, op.Mat, op.Mat) }
func (o reluGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }

func (o reluGradOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 2, reluGradDo[float32](o), reluGradDo[float64](o))
}

func reluGradDo[T op.Float](o reluGradOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		ydy, err := op.Datas[T](inputs...)
		if err != nil {
			return nil, err
		}
		y, dy := ydy[0], ydy[1]
		if len(dy) != len(y) {
			return nil, fmt.Errorf("%v: %d gradients for %d outputs", o, len(dy), len(y))
		}
		res := o.buf.Get(inputs[0].Dtype(), inputs[0].Shape()...)
		d := op.Floats[T](res)
		cols := len(y) / inputs[0].Shape()[0]
		parallel.Rows(inputs[0].Shape()[0], 16, func(lo, hi int) {
			kernels.ReLUMask(d[lo*cols:hi*cols], y[lo*cols:hi*cols], dy[lo*cols:hi*cols])
		})
		return res, nil
	}
}

// gemmOp computes C = op(A) B for matrices A and B, with op(A) = A^T when
// transA is set: the two products of a linear layer's backward pass.
type gemmOp struct {
	op.Base
	transA bool
	buf    *op.Buffer
}

func newGEMMOp(name string, transA bool) gemmOp {
	return gemmOp{Base: op.Base{Name: fmt.Sprintf("GEMM{%s,transA=%t}", name, transA)}, transA: transA, buf: new(op.Buffer)}
}

func (o gemmOp) Arity() int    { return 2 }
func (o gemmOp) Type() hm.Type { return hm.NewFnType(op.Mat, op.Mat, op.Mat) }

func (o gemmOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, ok1 := in[0].(tensor.Shape)
	b, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(a) != 2 || len(b) != 2 {
		return nil, fmt.Errorf("%v: want matrices, got %v and %v", o, in[0], in[1])
	}
	m, k := a[0], a[1]
	if o.transA {
		m, k = k, m
	}
	if k != b[0] {
		return nil, fmt.Errorf("%v: shapes %v and %v do not fit", o, a, b)
	}
	return tensor.Shape{m, b[1]}, nil
}

func (o gemmOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 2, gemmDo[float32](o), gemmDo[float64](o))
}

func gemmDo[T op.Float](o gemmOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		shape, err := o.InferShape(inputs[0].Shape(), inputs[1].Shape())
		if err != nil {
			return nil, err
		}
		ab, err := op.Datas[T](inputs...)
		if err != nil {
			return nil, err
		}
		m, n := shape[0], shape[1]
		k, lda := inputs[0].Shape()[1], inputs[0].Shape()[1]
		if o.transA {
			k = inputs[0].Shape()[0]
		}
		res := o.buf.Get(inputs[0].Dtype(), m, n)
		gemm(o.transA, false, m, n, k, ab[0], lda, ab[1], n, op.Floats[T](res), n)
		return res, nil
	}
}

// colSumOp sums a (B, n) matrix over its rows into (1, n): the bias
// gradient.
type colSumOp struct {
	op.Base
	buf *op.Buffer
}

func (o colSumOp) Arity() int    { return 1 }
func (o colSumOp) Type() hm.Type { return hm.NewFnType(op.Mat, op.Mat) }

func (o colSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("%v: want a matrix, got %v", o, in[0])
	}
	return tensor.Shape{1, s[1]}, nil
}

func (o colSumOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 1, colSumDo[float32](o), colSumDo[float64](o))
}

func colSumDo[T op.Float](o colSumOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		d, err := op.Data[T](inputs[0])
		if err != nil {
			return nil, err
		}
		rows, n := inputs[0].Shape()[0], inputs[0].Shape()[1]
		res := o.buf.Get(inputs[0].Dtype(), 1, n)
		kernels.ColSum(op.Floats[T](res), d, rows)
		return res, nil
	}
}

// gemm computes C = op(A) op(B) with gorgonia's BLAS (OpenBLAS when the
// binary links gsvae/backend built with -tags openblas, else gonum's),
// dispatching on the element type.
func gemm[T op.Float](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		G.WhichBLAS().Sgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float32), ldb, 0, any(c).([]float32), ldc)
	case []float64:
		G.WhichBLAS().Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, 0, any(c).([]float64), ldc)
	}
}

// mlp applies the layers given as (weight, bias) node pairs, with a ReLU
// after every layer but the last: h <- relu(h W^T + b). names name the
// layers; inputGrad says whether h itself needs a gradient.
func mlp(names []string, h *G.Node, wb G.Nodes, inputGrad, frozen bool) (*G.Node, error) {
	var err error
	for i := 0; i < len(wb); i += 2 {
		if h, err = linear(names[i/2], h, wb[i], wb[i+1], i+2 < len(wb), inputGrad || i > 0, frozen); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// sampledLinear returns the node of a linear layer y = act(z W^T + b) whose
// input z (B, in) holds samples of binary variables (one-hot groups or
// bits, every entry 0 or 1): each row of y is b plus the columns of W its
// ones select, added eight at a time, with no product. A categorical code
// of N variables of K classes selects N of N*K columns, so the layer costs
// 1/K of a product. It computes no gradient: it serves evaluations that
// decode many samples.
func sampledLinear(name string, z, w, b *G.Node, relu bool) (*G.Node, error) {
	o := sampledLinearOp{Base: op.Base{Name: fmt.Sprintf("SampledLinear{%s,relu=%t}", name, relu)}, relu: relu, buf: new(op.Buffer), wt: new(op.Buffer)}
	return G.ApplyOp(o, z, w, b)
}

// sampledLinearOp is the op of sampledLinear. wt holds W transposed, (in,
// out), so that the column of each one is contiguous.
type sampledLinearOp struct {
	op.Base
	relu    bool
	buf, wt *op.Buffer
}

func (o sampledLinearOp) Arity() int    { return 3 }
func (o sampledLinearOp) Type() hm.Type { return hm.NewFnType(op.Mat, op.Mat, op.Mat, op.Mat) }
func (o sampledLinearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return linearOp{}.InferShape(in...)
}

func (o sampledLinearOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 3, sampledLinearDo[float32](o), sampledLinearDo[float64](o))
}

func sampledLinearDo[T op.Float](o sampledLinearOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		zwb, err := op.Datas[T](inputs...)
		if err != nil {
			return nil, err
		}
		z, w, b := zwb[0], zwb[1], zwb[2]
		rows, in := inputs[0].Shape()[0], inputs[0].Shape()[1]
		out := inputs[1].Shape()[0]
		if len(w) != out*in || len(b) != out {
			return nil, fmt.Errorf("%v: weights %v, bias %v for input %v", o, inputs[1].Shape(), inputs[2].Shape(), inputs[0].Shape())
		}
		wt := op.Floats[T](o.wt.Get(inputs[1].Dtype(), in, out))
		for i := range out {
			for j := range in {
				wt[j*out+i] = w[i*in+j]
			}
		}
		res := o.buf.Get(inputs[0].Dtype(), rows, out)
		y := op.Floats[T](res)
		zero := make([]T, out)
		parallel.Rows(rows, 16, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				yr := y[r*out : (r+1)*out]
				copy(yr, b)
				for j, v := range z[r*in : (r+1)*in] {
					if v != 0 {
						kernels.BiasAct(yr, wt[j*out:(j+1)*out], false)
					}
				}
				if o.relu {
					kernels.BiasAct(yr, zero, true)
				}
			}
		})
		return res, nil
	}
}
