package model

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/kernels"
	"gsvae/internal/op"
	"gsvae/internal/parallel"
)

// negLogLik returns the (B) node of the negative log-likelihood of binary
// pixels x (B, D) under independent Bernoulli(sigmoid(l)) pixels with
// logits l (B, D):
//
//	-log p(x|l) = sum_i softplus(l_i) - x_i l_i,
//
// with softplus evaluated stably, so the result is finite for any finite l
// (gorgonia's BinaryXent clamps with a constant that rounds to 1 in
// float32). The gradient flows to l only: dL/dl_i = dL/dNLL (sigmoid(l_i)
// - x_i), which the backward op recomputes from l and x (one more
// exponential per pixel, rather than state shared with the forward op).
func negLogLik(l, x *G.Node) (*G.Node, error) {
	return G.ApplyOp(nllOp{Base: op.Base{Name: "BernoulliNLL"}, buf: new(op.Buffer)}, l, x)
}

// nllOp computes the NLL of every row from (l, x), or, with grad set, the
// gradient dL/dl from (l, x, dL/dNLL).
type nllOp struct {
	op.Base
	grad bool
	buf  *op.Buffer
}

func (o nllOp) Arity() int {
	if o.grad {
		return 3
	}
	return 2
}

func (o nllOp) Type() hm.Type {
	if o.grad {
		return hm.NewFnType(op.Mat, op.Mat, op.Vec, op.Mat)
	}
	return hm.NewFnType(op.Mat, op.Mat, op.Vec)
}

func (o nllOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if o.grad {
		return op.SameShape(in)
	}
	return op.RowsOf(in)
}

func (o nllOp) DiffWRT(int) []bool { return []bool{true, false} }

// SymDiff returns the gradient op for the logits.
func (o nllOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(nllOp{Base: op.Base{Name: "BernoulliNLLGrad"}, grad: true, buf: new(op.Buffer)}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

func (o nllOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), nllDo[float32](o), nllDo[float64](o))
}

// nllDo computes every row with kernels.NLLRow (an AVX2 kernel for
// float32 where the CPU has one, math.Exp and math.Log1p for float64),
// rows split across CPUs: this is the widest elementwise work of a step.
func nllDo[T op.Float](o nllOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		lx, err := op.Datas[T](inputs[0], inputs[1])
		if err != nil {
			return nil, err
		}
		l, x := lx[0], lx[1]
		shape := inputs[0].Shape()
		if len(shape) != 2 || len(x) != len(l) {
			return nil, fmt.Errorf("%v: logits shape %v, %d pixels", o, shape, len(x))
		}
		rows, cols := shape[0], shape[1]
		dt := inputs[0].Dtype()
		if !o.grad {
			out := o.buf.Get(dt, rows)
			res := op.Floats[T](out)
			parallel.Rows(rows, 16, func(lo, hi int) {
				resid := make([]T, cols)
				for r := lo; r < hi; r++ {
					res[r] = T(kernels.NLLRow(l[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols], resid))
				}
			})
			return out, nil
		}
		dout, err := op.Data[T](inputs[2])
		if err != nil {
			return nil, err
		}
		if len(dout) != rows {
			return nil, fmt.Errorf("%v: %d gradients for %d rows", o, len(dout), rows)
		}
		out := o.buf.Get(dt, rows, cols)
		res := op.Floats[T](out)
		parallel.Rows(rows, 16, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := res[r*cols : (r+1)*cols]
				kernels.NLLRow(l[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols], row)
				d := dout[r]
				for i := range row {
					row[i] *= d
				}
			}
		})
		return out, nil
	}
}
