package estimator

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
	"gsvae/internal/op"
)

// This file holds the ops through which the non-pathwise estimators give
// a stochastic layer its gradient: each takes the layer's logits l (B, N*K)
// and one-hot sample z and writes, per row b, a gradient for l of the form
// signal_b (z_b - mu_b), mu = softmax(l) per variable: the score function
// d log q(z_b)/d l_b times a learning signal (Williams 1992). They differ in
// where the signal comes from.

// score returns the scalar surrogate of the score-function estimators,
//
//	S = sum_b s_b (log q(z_b | l_b) - [log q(z_b | l_b)]),   s_b = w_b (f_b - c - base_b),
//
// with f (B) the loss of each row at its sample, w (B) the row weights, c
// the moving-average baseline (a scalar node), base (B or (B, 1), nil for
// none) a baseline per row (NVIL's b(x) or MuProp's f at the mean-field
// point), and [.] a value that passes no gradient. S is 0 by construction
// (the "magic box" of DiCE, Foerster et al. 2018), so the op computes no
// log-probability going forward; the learning signal s is a constant (no
// gradient flows to f, c or base), and dS/dl_b = s_b (z_b - mu_b):
// REINFORCE with baselines (Williams 1992; Mnih & Gregor 2014).
func score(logits, z, f, w, c, base *G.Node, k int) (*G.Node, error) {
	o := scoreOp{Base: op.Base{Name: fmt.Sprintf("Score{k=%d,base=%t}", k, base != nil)}, k: k, base: base != nil}
	in := G.Nodes{logits, z, f, w, c}
	if base != nil {
		in = append(in, base)
		o.baseDims = base.Dims()
	}
	return G.ApplyOp(o, in...)
}

// scoreOp is the op of score; with grad set it computes dL/dlogits from
// the same inputs followed by dL/dS.
type scoreOp struct {
	op.Base
	k          int
	base, grad bool
	baseDims   int // 1 for a vector (B), 2 for a (B, 1) matrix
	buf        *op.Buffer
}

func (o scoreOp) Arity() int {
	n := 5
	if o.base {
		n++
	}
	if o.grad {
		n++
	}
	return n
}

func (o scoreOp) Type() hm.Type {
	ts := []hm.Type{op.Mat, op.Mat, op.Vec, op.Vec, op.Elem}
	if o.base {
		ts = append(ts, G.TensorType{Dims: o.baseDims, Of: op.Elem})
	}
	if o.grad {
		return hm.NewFnType(append(ts, op.Elem, op.Mat)...)
	}
	return hm.NewFnType(append(ts, op.Elem)...)
}

func (o scoreOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if o.grad {
		return op.SameShape(in)
	}
	return tensor.ScalarShape(), nil
}

func (o scoreOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	return d
}

// SymDiff returns the gradient op for the logits.
func (o scoreOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := scoreOp{Base: op.Base{Name: o.Name + "Grad"}, k: o.k, base: o.base, baseDims: o.baseDims, grad: true, buf: new(op.Buffer)}
	d, err := G.ApplyOp(g, append(append(G.Nodes{}, inputs...), grad)...)
	if err != nil {
		return nil, err
	}
	out := make(G.Nodes, len(inputs))
	out[0] = d
	return out, nil
}

func (o scoreOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), scoreDo[float32](o), scoreDo[float64](o))
}

func scoreDo[T op.Float](o scoreOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		vs, err := op.Datas[T](inputs[0], inputs[1], inputs[2], inputs[3])
		if err != nil {
			return nil, err
		}
		logits, z, f, w := vs[0], vs[1], vs[2], vs[3]
		c, err := op.Scalar(inputs[4])
		if err != nil {
			return nil, err
		}
		var base []T
		if o.base {
			if base, err = op.Data[T](inputs[5]); err != nil {
				return nil, err
			}
		}
		rows, cols, err := layerShape(o, inputs[0], o.k)
		if err != nil {
			return nil, err
		}
		if len(z) != len(logits) || len(f) != rows || len(w) != rows || (base != nil && len(base) != rows) {
			return nil, fmt.Errorf("%v: %d logits, %d codes, %d losses, %d weights for %d rows", o, len(logits), len(z), len(f), len(w), rows)
		}
		signal := func(b int) float64 {
			s := float64(f[b]) - c
			if base != nil {
				s -= float64(base[b])
			}
			return float64(w[b]) * s
		}
		if !o.grad {
			return op.NewScalar(inputs[0].Dtype(), 0), nil
		}
		mu := make([]T, cols)
		dS, err := op.Scalar(inputs[len(inputs)-1])
		if err != nil {
			return nil, err
		}
		out := o.buf.Get(inputs[0].Dtype(), rows, cols)
		g := op.Floats[T](out)
		for b := range rows {
			i, j := b*cols, (b+1)*cols
			gumbel.SoftmaxGroups(mu, logits[i:j], o.k, 1)
			setScore(g[i:j], z[i:j], mu, dS*signal(b))
		}
		return out, nil
	}
}

// setScore sets g to coef (z - mu): coef times the gradient of log q(z)
// with respect to the logits of one row, for the one-hot z and
// mu = softmax(logits) per variable.
func setScore[T op.Float](g, z, mu []T, coef float64) {
	for i := range g {
		g[i] = T(coef * (float64(z[i]) - float64(mu[i])))
	}
}

// addScore adds coef (z - mu) to g (see setScore).
func addScore[T op.Float](g, z, mu []T, coef float64) {
	for i := range g {
		g[i] += T(coef * (float64(z[i]) - float64(mu[i])))
	}
}

// layerShape returns the rows and columns of a (B, N*k) input of o.
func layerShape(o fmt.Stringer, v G.Value, k int) (rows, cols int, err error) {
	s := v.Shape()
	if len(s) != 2 || s[1]%k != 0 {
		return 0, 0, fmt.Errorf("%v: shape %v is not (B, N*%d)", o, s, k)
	}
	return s[0], s[1], nil
}
