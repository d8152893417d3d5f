package gumbel

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/op"
	"gsvae/internal/parallel"
)

// GumbelSoftmax returns the node of the Gumbel-Softmax relaxation of each
// group of k logits (Jang et al. 2017, eq. 2; the Concrete distribution of
// Maddison et al. 2017):
//
//	y = softmax((logits + g) / tau),
//
// with logits and Gumbel noise g of shape (B, N*k) (fill g with Sample)
// and the temperature tau > 0 a scalar node. As tau -> 0, y approaches
// the one-hot Gumbel-max sample (see OneHotSample); as tau grows, the
// uniform vector. Its gradient flows to the logits only (the noise and tau
// are inputs, not parameters):
//
//	dL/dlogits_j = y_j (dy_j - sum_i y_i dy_i) / tau.
func GumbelSoftmax(logits, noise, tau *G.Node, k int) (*G.Node, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	return G.ApplyOp(newSoftmaxOp(k, true, true), logits, noise, tau)
}

// Softmax returns the node of the softmax of each group of k values of x
// (B, N*k), computed with a max-shift so that it is finite for any finite
// x (gorgonia's built-in SoftMax returns NaN once a row's entries differ by
// more than about 88 in float32). With a scalar node tau it is
// softmax(x / tau), the "slope-annealed" softmax of Chung et al. (2016);
// a nil tau means 1.
func Softmax(x *G.Node, k int, tau *G.Node) (*G.Node, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	if tau == nil {
		return G.ApplyOp(newSoftmaxOp(k, false, false), x)
	}
	return G.ApplyOp(newSoftmaxOp(k, false, true), x, tau)
}

// checkK returns an error unless k, the number of classes of each
// variable, is positive. (With k = 0 an op's Do would divide by zero in
// the tape machine's goroutine, a panic the caller cannot recover.)
func checkK(k int) error {
	if k < 1 {
		return fmt.Errorf("gumbel: %d classes per variable, want at least 1", k)
	}
	return nil
}

// The gradient ops of the package give first derivatives only. Each
// reports every input as differentiable (gradientInputs) and fails in
// SymDiff (errSecondOrder), so that G.Grad through a gradient returns an
// error: without DiffWRT gorgonia's analysis indexes past the end of an
// empty slice and panics, and with inputs reported non-differentiable it
// would treat the gradient as a constant without a word.
func gradientInputs(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

func errSecondOrder(o fmt.Stringer) error {
	return fmt.Errorf("gumbel: %v: second derivatives are not implemented", o)
}

// softmaxOp computes y = softmax((x + noise) / tau) per group of k, with
// the noise and the temperature inputs present only when asked for (tau
// is 1 without one).
type softmaxOp struct {
	op.Base
	k            int
	noise, tempd bool
	buf          *op.Buffer
}

func newSoftmaxOp(k int, noise, tempd bool) softmaxOp {
	return softmaxOp{Base: op.Base{Name: fmt.Sprintf("GroupSoftmax{k=%d,noise=%t,tau=%t}", k, noise, tempd)}, k: k, noise: noise, tempd: tempd, buf: new(op.Buffer)}
}

func (o softmaxOp) Arity() int {
	n := 1
	if o.noise {
		n++
	}
	if o.tempd {
		n++
	}
	return n
}

func (o softmaxOp) Type() hm.Type {
	ts := []hm.Type{op.Mat}
	if o.noise {
		ts = append(ts, op.Mat)
	}
	if o.tempd {
		ts = append(ts, op.Elem)
	}
	return hm.NewFnType(append(ts, op.Mat)...)
}

func (o softmaxOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }

func (o softmaxOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	return d
}

func (o softmaxOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), softmaxDo[float32](o), softmaxDo[float64](o))
}

// temperature returns the value of the op's tau input, or 1.
func (o softmaxOp) temperature(inputs []G.Value) (float64, error) {
	if !o.tempd {
		return 1, nil
	}
	tau, err := op.Scalar(inputs[len(inputs)-1])
	if err != nil {
		return 0, err
	}
	if !(tau > 0) {
		return 0, fmt.Errorf("%v: temperature %v is not positive", o, tau)
	}
	return tau, nil
}

func softmaxDo[T op.Float](o softmaxOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		x, err := op.Data[T](inputs[0])
		if err != nil {
			return nil, err
		}
		var noise []T
		if o.noise {
			if noise, err = op.Data[T](inputs[1]); err != nil {
				return nil, err
			}
			if len(noise) != len(x) {
				return nil, fmt.Errorf("%v: %d values, %d noise values", o, len(x), len(noise))
			}
		}
		tau, err := o.temperature(inputs)
		if err != nil {
			return nil, err
		}
		shape := inputs[0].Shape()
		if len(shape) != 2 || shape[1]%o.k != 0 {
			return nil, fmt.Errorf("%v: shape %v is not (B, N*%d)", o, shape, o.k)
		}
		out := o.buf.Get(inputs[0].Dtype(), shape...)
		y := op.Floats[T](out)
		cols := shape[1]
		parallel.Rows(shape[0], 16, func(lo, hi int) {
			// One row at a time: the float32 kernel takes the
			// exponentials of a slice eight at a time and the last
			// len%8 with Go code, which can differ in the last bit, so a
			// range of rows at once would make a row's values depend on
			// where the CPUs' ranges split the batch (on GOMAXPROCS).
			for r := lo; r < hi; r++ {
				i, j := r*cols, (r+1)*cols
				src := x[i:j]
				if noise != nil {
					for n := i; n < j; n++ {
						y[n] = x[n] + noise[n]
					}
					src = y[i:j]
				}
				SoftmaxGroups(y[i:j], src, o.k, tau)
			}
		})
		return out, nil
	}
}

// SymDiff returns the gradient with respect to x: a softmaxGradOp of the
// op's output y, dL/dy and tau.
func (o softmaxOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	args := G.Nodes{output, grad}
	if o.tempd {
		args = append(args, inputs[len(inputs)-1])
	}
	dx, err := G.ApplyOp(softmaxGradOp{Base: op.Base{Name: fmt.Sprintf("GroupSoftmaxGrad{k=%d,tau=%t}", o.k, o.tempd)}, k: o.k, tempd: o.tempd, buf: new(op.Buffer)}, args...)
	if err != nil {
		return nil, err
	}
	out := make(G.Nodes, len(inputs))
	out[0] = dx
	return out, nil
}

// softmaxGradOp computes dL/dx = y (dy - <y, dy>) / tau per group of k from
// the output y of a softmaxOp, dL/dy and (when tempd) tau.
type softmaxGradOp struct {
	op.Base
	k     int
	tempd bool
	buf   *op.Buffer
}

func (o softmaxGradOp) Arity() int {
	if o.tempd {
		return 3
	}
	return 2
}

func (o softmaxGradOp) Type() hm.Type {
	if o.tempd {
		return hm.NewFnType(op.Mat, op.Mat, op.Elem, op.Mat)
	}
	return hm.NewFnType(op.Mat, op.Mat, op.Mat)
}

func (o softmaxGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }

func (o softmaxGradOp) DiffWRT(n int) []bool { return gradientInputs(n) }

// SymDiff fails: see gradientInputs.
func (o softmaxGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errSecondOrder(o)
}

func (o softmaxGradOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), softmaxGradDo[float32](o), softmaxGradDo[float64](o))
}

func softmaxGradDo[T op.Float](o softmaxGradOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		yd, err := op.Datas[T](inputs[0], inputs[1])
		if err != nil {
			return nil, err
		}
		y, dy := yd[0], yd[1]
		if len(dy) != len(y) {
			return nil, fmt.Errorf("%v: %d gradients for %d outputs", o, len(dy), len(y))
		}
		tau := 1.0
		if o.tempd {
			if tau, err = op.Scalar(inputs[2]); err != nil {
				return nil, err
			}
		}
		shape := inputs[0].Shape()
		out := o.buf.Get(inputs[0].Dtype(), shape...)
		dx := op.Floats[T](out)
		cols := len(y) / shape[0]
		parallel.Rows(shape[0], 16, func(lo, hi int) {
			i, j := lo*cols, hi*cols
			SoftmaxGroupsGrad(dx[i:j], y[i:j], dy[i:j], o.k, tau)
		})
		return out, nil
	}
}
