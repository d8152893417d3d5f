package gumbel

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/op"
	"gsvae/internal/parallel"
)

// RelaxedKL returns the (B) node of the single-sample relaxed KL of the
// N variables of each row,
//
//	sum_n log q_tau(x_n | logits_n) - log p_priorTau(x_n),
//	x_n = log softmax((logits_n + g_n) / tau),
//
// with logits and Gumbel noise g of shape (B, N*k), the temperature tau a
// scalar node and a uniform ExpConcrete prior at temperature priorTau > 0
// (see RelaxedKLGroup). Unlike the analytic KL of the discrete variables, this
// keeps the relaxed objective a lower bound on the relaxed model's
// likelihood (Maddison et al. 2017). The gradient, to the logits only,
// includes the path through the sample.
func RelaxedKL(logits, noise, tau *G.Node, k int, priorTau float64) (*G.Node, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	if !(priorTau > 0) {
		return nil, fmt.Errorf("gumbel: prior temperature %v is not positive", priorTau)
	}
	return G.ApplyOp(newRelaxedKLOp(k, priorTau, false), logits, noise, tau)
}

func newRelaxedKLOp(k int, priorTau float64, grad bool) relaxedKLOp {
	name := "RelaxedKL"
	if grad {
		name += "Grad"
	}
	return relaxedKLOp{Base: op.Base{Name: fmt.Sprintf("%s{k=%d,priorTau=%v}", name, k, priorTau)}, k: k, priorTau: priorTau, grad: grad, buf: new(op.Buffer)}
}

// relaxedKLOp computes the relaxed KL of every row from (logits, noise,
// tau), or, with grad set, the gradient of sum_b dL/dKL_b KL_b with
// respect to the logits from those inputs and dL/dKL (B).
type relaxedKLOp struct {
	op.Base
	k        int
	priorTau float64
	grad     bool
	buf      *op.Buffer
}

func (o relaxedKLOp) Arity() int {
	if o.grad {
		return 4
	}
	return 3
}

func (o relaxedKLOp) Type() hm.Type {
	if o.grad {
		return hm.NewFnType(op.Mat, op.Mat, op.Elem, op.Vec, op.Mat)
	}
	return hm.NewFnType(op.Mat, op.Mat, op.Elem, op.Vec)
}

func (o relaxedKLOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if o.grad {
		return op.SameShape(in)
	}
	return op.RowsOf(in)
}

func (o relaxedKLOp) DiffWRT(n int) []bool {
	if o.grad {
		return gradientInputs(n)
	}
	return []bool{true, false, false}
}

// SymDiff returns the gradient op for the logits (and fails for the
// gradient op: see gradientInputs).
func (o relaxedKLOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if o.grad {
		return nil, errSecondOrder(o)
	}
	d, err := G.ApplyOp(newRelaxedKLOp(o.k, o.priorTau, true), inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil, nil}, nil
}

func (o relaxedKLOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), relaxedKLDo[float32](o), relaxedKLDo[float64](o))
}

func relaxedKLDo[T op.Float](o relaxedKLOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		in, out, err := readConcrete[T](o, inputs, o.k, o.grad, o.buf)
		if err != nil {
			return nil, err
		}
		logits, noise, tau, dout, rows, cols, k := in.a, in.b, in.tau, in.dout, in.rows, in.cols, o.k
		res := op.Floats[T](out)
		parallel.Rows(rows, 16, func(lo, hi int) {
			l, g, d := make([]float64, k), make([]float64, k), make([]float64, k)
			for r := lo; r < hi; r++ {
				var kl float64
				for c := r * cols; c < (r+1)*cols; c += k {
					for j := range k {
						l[j], g[j] = float64(logits[c+j]), float64(noise[c+j])
					}
					if !o.grad {
						kl += RelaxedKLGroup(l, g, tau, o.priorTau, nil)
						continue
					}
					RelaxedKLGroup(l, g, tau, o.priorTau, d)
					for j := range k {
						res[c+j] = T(float64(dout[r]) * d[j])
					}
				}
				if !o.grad {
					res[r] = T(kl)
				}
			}
		})
		return out, nil
	}
}

// LogExpConcrete returns the (B) node of the log density of the
// log-samples x (B, N*k) under N ExpConcrete distributions per row with
// location logits (B, N*k) and the temperature lambda (a scalar node),
// summed over the N variables (see LogExpConcreteGroup, also for the
// density's base measure): the density of x = log GumbelSoftmax(logits,
// g, lambda). Compute such an x as LogSoftmax((logits + g) / lambda)
// rather than as the logarithm of GumbelSoftmax, whose small entries
// underflow to 0. Its gradient flows to x and to the logits, so that
//
//	LogExpConcrete(x, logits, tau) - LogExpConcrete(x, priorLogits, priorTau)
//
// differentiates like RelaxedKL, here with any prior logits.
func LogExpConcrete(x, logits, lambda *G.Node, k int) (*G.Node, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	return G.ApplyOp(newLogExpConcreteOp(k, 0), x, logits, lambda)
}

func newLogExpConcreteOp(k, wrt int) logExpConcreteOp {
	return logExpConcreteOp{Base: op.Base{Name: fmt.Sprintf("LogExpConcrete{k=%d,wrt=%d}", k, wrt)}, k: k, wrt: wrt, buf: new(op.Buffer)}
}

// logExpConcreteOp computes the log density of LogExpConcrete (wrt 0), or
// its gradient with respect to x (wrt 1) or the logits (wrt 2) from the
// same inputs and dL/dlogp (B).
type logExpConcreteOp struct {
	op.Base
	k, wrt int
	buf    *op.Buffer
}

func (o logExpConcreteOp) Arity() int {
	if o.wrt != 0 {
		return 4
	}
	return 3
}

func (o logExpConcreteOp) Type() hm.Type {
	if o.wrt != 0 {
		return hm.NewFnType(op.Mat, op.Mat, op.Elem, op.Vec, op.Mat)
	}
	return hm.NewFnType(op.Mat, op.Mat, op.Elem, op.Vec)
}

func (o logExpConcreteOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if o.wrt != 0 {
		return op.SameShape(in)
	}
	return op.RowsOf(in)
}

func (o logExpConcreteOp) DiffWRT(n int) []bool {
	if o.wrt != 0 {
		return gradientInputs(n)
	}
	return []bool{true, true, false}
}

// SymDiff returns the gradient ops for x and the logits (and fails for
// the gradient ops: see gradientInputs).
func (o logExpConcreteOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if o.wrt != 0 {
		return nil, errSecondOrder(o)
	}
	grads := make(G.Nodes, 3)
	for wrt := 1; wrt <= 2; wrt++ {
		var err error
		if grads[wrt-1], err = G.ApplyOp(newLogExpConcreteOp(o.k, wrt), inputs[0], inputs[1], inputs[2], grad); err != nil {
			return nil, err
		}
	}
	return grads, nil
}

func (o logExpConcreteOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), logExpConcreteDo[float32](o), logExpConcreteDo[float64](o))
}

func logExpConcreteDo[T op.Float](o logExpConcreteOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		in, out, err := readConcrete[T](o, inputs, o.k, o.wrt != 0, o.buf)
		if err != nil {
			return nil, err
		}
		x, a, lambda, dout, rows, cols, k := in.a, in.b, in.tau, in.dout, in.rows, in.cols, o.k
		res := op.Floats[T](out)
		xg, ag, dx, da := make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
		for r := range rows {
			var lp float64
			for c := r * cols; c < (r+1)*cols; c += k {
				for j := range k {
					xg[j], ag[j] = float64(x[c+j]), float64(a[c+j])
				}
				lp += LogExpConcreteGroup(xg, ag, lambda, da, dx)
				switch o.wrt {
				case 1:
					for j := range k {
						res[c+j] = T(float64(dout[r]) * dx[j])
					}
				case 2:
					for j := range k {
						res[c+j] = T(float64(dout[r]) * da[j])
					}
				}
			}
			if o.wrt == 0 {
				res[r] = T(lp)
			}
		}
		return out, nil
	}
}

// concreteInputs are the inputs of the Concrete ops: two (B, N*k)
// matrices, a temperature and, for a gradient op, dL/dout (B).
type concreteInputs[T op.Float] struct {
	a, b       []T
	tau        float64
	dout       []T // nil for a forward op
	rows, cols int
}

// readConcrete reads and checks the inputs of op o (a forward op unless
// grad) and returns them with its output tensor: (B) values for a forward
// op, (B, N*k) gradients for a gradient op.
func readConcrete[T op.Float](o fmt.Stringer, inputs []G.Value, k int, grad bool, buf *op.Buffer) (concreteInputs[T], *tensor.Dense, error) {
	var in concreteInputs[T]
	ab, err := op.Datas[T](inputs[0], inputs[1])
	if err != nil {
		return in, nil, err
	}
	in.a, in.b = ab[0], ab[1]
	if in.tau, err = op.Scalar(inputs[2]); err != nil {
		return in, nil, err
	}
	shape := inputs[0].Shape()
	if len(shape) != 2 || shape[1]%k != 0 || len(in.b) != len(in.a) {
		return in, nil, fmt.Errorf("%v: inputs %v and %d values do not fit (B, N*%d)", o, shape, len(in.b), k)
	}
	if !(in.tau > 0) {
		return in, nil, fmt.Errorf("%v: temperature %v is not positive", o, in.tau)
	}
	in.rows, in.cols = shape[0], shape[1]
	if !grad {
		return in, buf.Get(inputs[0].Dtype(), in.rows), nil
	}
	if in.dout, err = op.Data[T](inputs[3]); err != nil {
		return in, nil, err
	}
	if len(in.dout) != in.rows {
		return in, nil, fmt.Errorf("%v: %d gradients for %d rows", o, len(in.dout), in.rows)
	}
	return in, buf.Get(inputs[0].Dtype(), in.rows, in.cols), nil
}
