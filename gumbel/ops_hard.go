package gumbel

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/op"
	"gsvae/internal/parallel"
)

// GumbelMax returns the node of the one-hot Gumbel-max sample of each
// group of k logits with its noise g (both (B, N*k)):
//
//	z = onehot(argmax_j logits_j + g_j),
//
// an exact draw from softmax(logits) (see OneHotSample). Sampling is not
// differentiable: no gradient flows through z, and G.Grad with respect to
// logits that reach the loss only through z fails (gorgonia reports them
// as non-differentiable). Combine it with StraightThrough to give z the
// relaxed sample's gradient.
func GumbelMax(logits, noise *G.Node, k int) (*G.Node, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	return G.ApplyOp(gumbelMaxOp{Base: op.Base{Name: fmt.Sprintf("GumbelMax{k=%d}", k)}, k: k, buf: new(op.Buffer)}, logits, noise)
}

// gumbelMaxOp computes the one-hot Gumbel-max sample of its inputs.
type gumbelMaxOp struct {
	op.Base
	k   int
	buf *op.Buffer
}

func (o gumbelMaxOp) Arity() int                                        { return 2 }
func (o gumbelMaxOp) Type() hm.Type                                     { return hm.NewFnType(op.Mat, op.Mat, op.Mat) }
func (o gumbelMaxOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }

// DiffWRT reports that no gradient flows to either input.
func (o gumbelMaxOp) DiffWRT(n int) []bool { return make([]bool, n) }

// SymDiff returns no gradients: sampling is not differentiable.
func (o gumbelMaxOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return make(G.Nodes, len(inputs)), nil
}

func (o gumbelMaxOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 2, gumbelMaxDo[float32](o), gumbelMaxDo[float64](o))
}

func gumbelMaxDo[T op.Float](o gumbelMaxOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		ln, err := op.Datas[T](inputs[0], inputs[1])
		if err != nil {
			return nil, err
		}
		shape := inputs[0].Shape()
		if len(shape) != 2 || shape[1]%o.k != 0 || len(ln[1]) != len(ln[0]) {
			return nil, fmt.Errorf("%v: logits %v and %d noise values do not fit (B, N*%d)", o, shape, len(ln[1]), o.k)
		}
		out := o.buf.Get(inputs[0].Dtype(), shape...)
		z := op.Floats[T](out)
		cols := shape[1]
		parallel.Rows(shape[0], 64, func(lo, hi int) {
			i, j := lo*cols, hi*cols
			OneHotSample(z[i:j], ln[0][i:j], ln[1][i:j], o.k)
		})
		return out, nil
	}
}

// StraightThrough returns a node whose value is hard and whose gradient
// goes to soft unchanged: the straight-through estimator (Bengio et al.
// 2013). With soft = GumbelSoftmax(logits, g, tau) and hard =
// GumbelMax(logits, g) it is the straight-through Gumbel-Softmax of Jang
// et al. (2017, Sec. 2.2): the decoder sees a one-hot sample, the logits
// get the relaxed sample's gradient. With soft = Softmax(logits) it is
// Bengio et al.'s straight-through estimator, and with a tempered
// Softmax Chung et al.'s slope-annealed one. soft and hard must have one
// shape; the node's value is a copy of hard's.
func StraightThrough(soft, hard *G.Node) (*G.Node, error) {
	return G.ApplyOp(straightThroughOp{Base: op.Base{Name: "StraightThrough"}, buf: new(op.Buffer)}, soft, hard)
}

// straightThroughOp copies its second input and passes its gradient to its
// first.
type straightThroughOp struct {
	op.Base
	buf *op.Buffer
}

func (o straightThroughOp) Arity() int    { return 2 }
func (o straightThroughOp) Type() hm.Type { return hm.NewFnType(op.Mat, op.Mat, op.Mat) }
func (o straightThroughOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, ok1 := in[0].(tensor.Shape)
	b, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || !a.Eq(b) {
		return nil, fmt.Errorf("%v: shapes %v and %v differ", o, in[0], in[1])
	}
	return a.Clone(), nil
}
func (o straightThroughOp) DiffWRT(int) []bool { return []bool{true, false} }

// SymDiff passes dL/dout to soft as it is.
func (o straightThroughOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad, nil}, nil
}

func (o straightThroughOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, 2, copyDo[float32](o.buf, 1), copyDo[float64](o.buf, 1))
}

// copyDo returns the Do of an op whose output is a copy of input i.
func copyDo[T op.Float](buf *op.Buffer, i int) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		src, err := op.Data[T](inputs[i])
		if err != nil {
			return nil, err
		}
		out := buf.Get(inputs[i].Dtype(), inputs[i].Shape()...)
		copy(op.Floats[T](out), src)
		return out, nil
	}
}

// LogSoftmax returns the node of log softmax of each group of k values of
// x (B, N*k): the log-probabilities of N categorical variables, computed
// as x_j - m - log sum_i exp(x_i - m) with m the group's maximum, finite
// for finite x. Its gradient is dL/dx_j = dy_j - softmax(x)_j sum_i dy_i.
func LogSoftmax(x *G.Node, k int) (*G.Node, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	return G.ApplyOp(logSoftmaxOp{Base: op.Base{Name: fmt.Sprintf("GroupLogSoftmax{k=%d}", k)}, k: k, buf: new(op.Buffer)}, x)
}

// logSoftmaxOp computes log softmax per group of k; with grad set it is its
// own gradient op, computing dL/dx from the output y = log softmax(x) and
// dL/dy.
type logSoftmaxOp struct {
	op.Base
	k    int
	grad bool
	buf  *op.Buffer
}

func (o logSoftmaxOp) Arity() int {
	if o.grad {
		return 2
	}
	return 1
}

func (o logSoftmaxOp) Type() hm.Type {
	if o.grad {
		return hm.NewFnType(op.Mat, op.Mat, op.Mat)
	}
	return hm.NewFnType(op.Mat, op.Mat)
}

func (o logSoftmaxOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }

func (o logSoftmaxOp) DiffWRT(n int) []bool {
	if o.grad {
		return gradientInputs(n)
	}
	return []bool{true}
}

// SymDiff returns the gradient op of the output and dL/dy (and fails for
// the gradient op: see gradientInputs).
func (o logSoftmaxOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if o.grad {
		return nil, errSecondOrder(o)
	}
	g := logSoftmaxOp{Base: op.Base{Name: fmt.Sprintf("GroupLogSoftmaxGrad{k=%d}", o.k)}, k: o.k, grad: true, buf: new(op.Buffer)}
	dx, err := G.ApplyOp(g, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

func (o logSoftmaxOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), logSoftmaxDo[float32](o), logSoftmaxDo[float64](o))
}

func logSoftmaxDo[T op.Float](o logSoftmaxOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		x, err := op.Data[T](inputs[0])
		if err != nil {
			return nil, err
		}
		shape := inputs[0].Shape()
		if len(shape) != 2 || shape[1]%o.k != 0 {
			return nil, fmt.Errorf("%v: shape %v is not (B, N*%d)", o, shape, o.k)
		}
		out := o.buf.Get(inputs[0].Dtype(), shape...)
		res := op.Floats[T](out)
		if o.grad {
			dy, err := op.Data[T](inputs[1])
			if err != nil {
				return nil, err
			}
			if len(dy) != len(x) {
				return nil, fmt.Errorf("%v: %d gradients for %d outputs", o, len(dy), len(x))
			}
			logSoftmaxGrad(res, x, dy, o.k)
			return out, nil
		}
		logSoftmaxRows(res, x, o.k)
		return out, nil
	}
}

// logSoftmaxRows writes log softmax of every group of k values of x into
// dst, in float64 arithmetic.
func logSoftmaxRows[T op.Float](dst, x []T, k int) {
	g64 := make([]float64, k)
	for g := 0; g < len(x); g += k {
		for j, v := range x[g : g+k] {
			g64[j] = float64(v)
		}
		LogSoftmaxGroups(g64, g64, k)
		for j, v := range g64 {
			dst[g+j] = T(v)
		}
	}
}

// logSoftmaxGrad writes dL/dx_j = dy_j - exp(y_j) sum_i dy_i per group,
// from the output y = log softmax(x) and dy = dL/dy.
func logSoftmaxGrad[T op.Float](dx, y, dy []T, k int) {
	for g := 0; g < len(y); g += k {
		var s float64
		for _, v := range dy[g : g+k] {
			s += float64(v)
		}
		for j := g; j < g+k; j++ {
			dx[j] = T(float64(dy[j]) - math.Exp(float64(y[j]))*s)
		}
	}
}
