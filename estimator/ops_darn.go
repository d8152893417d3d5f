package estimator

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
	"gsvae/internal/op"
)

// darn returns the node of a stochastic layer trained by DARN (Gregor et
// al. 2014): its value is the one-hot Gumbel-max sample z of the logits l
// with noise g, and its gradient for the logits l_n of variable n is, per
// row b,
//
//	(d_bn . (z_bn - zbar) - w_b c / N) (z_bn - mu_bn),   d = dL/dz = w f'(z),
//
// the score function of variable n times its own learning signal: the
// first-order expansion d_n.(z_n - zbar) of f(z) - f(z with variable n at
// zbar) around the sample, minus the moving average c shared out over the
// N variables. zbar = 1/K in every coordinate (1/2 for Bernoulli
// variables, Gregor et al.'s choice; 1/K is our reading of the categorical
// extension of Jang et al.). Each variable's signal holds only its own
// terms: the row's whole expansion d.(z - zbar) in every variable's
// signal adds the other N - 1 variables' terms, which depend on z_n
// through f'(z) and bias the estimate far more (see the package
// documentation). When stLogits is not nil (the logits of the
// same layer from a frozen copy of the network that computed l), the op
// also passes d to them through softmax(stLogits), straight through: that
// is how the derivative f'(z_1) of the layer below reaches its own
// expansion in a network of two stochastic layers.
func darn(logits, noise, w, c, stLogits *G.Node, k int) (*G.Node, error) {
	o := darnOp{Base: op.Base{Name: fmt.Sprintf("DARN{k=%d,st=%t}", k, stLogits != nil)}, k: k, st: stLogits != nil, buf: new(op.Buffer)}
	in := G.Nodes{logits, noise, w, c}
	if stLogits != nil {
		in = append(in, stLogits)
	}
	return G.ApplyOp(o, in...)
}

// What a darnOp computes.
const (
	darnSample = iota // the one-hot sample
	darnLogits        // dL/dlogits from the inputs, the sample and dL/dz
	darnST            // dL/dstLogits from the inputs, the sample and dL/dz
)

// darnOp is the op of darn and, by what, of its gradients.
type darnOp struct {
	op.Base
	k    int
	st   bool
	what int
	buf  *op.Buffer
}

func (o darnOp) Arity() int {
	n := 4
	if o.st {
		n++
	}
	if o.what != darnSample {
		n += 2
	}
	return n
}

func (o darnOp) Type() hm.Type {
	ts := []hm.Type{op.Mat, op.Mat, op.Vec, op.Elem}
	if o.st {
		ts = append(ts, op.Mat)
	}
	if o.what != darnSample {
		ts = append(ts, op.Mat, op.Mat)
	}
	return hm.NewFnType(append(ts, op.Mat)...)
}

func (o darnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return op.SameShape(in) }

func (o darnOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	if o.st {
		d[4] = true
	}
	return d
}

// SymDiff returns the gradient ops for the logits and the straight-through
// logits.
func (o darnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	args := append(append(G.Nodes{}, inputs...), output, grad)
	grads := make(G.Nodes, len(inputs))
	for _, what := range []int{darnLogits, darnST} {
		if what == darnST && !o.st {
			continue
		}
		g := darnOp{Base: op.Base{Name: fmt.Sprintf("%sGrad%d", o.Name, what)}, k: o.k, st: o.st, what: what, buf: new(op.Buffer)}
		d, err := G.ApplyOp(g, args...)
		if err != nil {
			return nil, err
		}
		if what == darnLogits {
			grads[0] = d
		} else {
			grads[4] = d
		}
	}
	return grads, nil
}

func (o darnOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), darnDo[float32](o), darnDo[float64](o))
}

func darnDo[T op.Float](o darnOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		vs, err := op.Datas[T](inputs[0], inputs[1], inputs[2])
		if err != nil {
			return nil, err
		}
		logits, noise, w := vs[0], vs[1], vs[2]
		rows, cols, err := layerShape(o, inputs[0], o.k)
		if err != nil {
			return nil, err
		}
		if len(noise) != len(logits) || len(w) != rows {
			return nil, fmt.Errorf("%v: %d logits, %d noise values, %d weights", o, len(logits), len(noise), len(w))
		}
		out := o.buf.Get(inputs[0].Dtype(), rows, cols)
		res := op.Floats[T](out)
		if o.what == darnSample {
			gumbel.OneHotSample(res, logits, noise, o.k)
			return out, nil
		}
		c, err := op.Scalar(inputs[3])
		if err != nil {
			return nil, err
		}
		n := len(inputs)
		zd, err := op.Datas[T](inputs[n-2], inputs[n-1])
		if err != nil {
			return nil, err
		}
		z, d := zd[0], zd[1]
		if o.what == darnST {
			st, err := op.Data[T](inputs[4])
			if err != nil {
				return nil, err
			}
			gumbel.SoftmaxGroups(res, st, o.k, 1)
			gumbel.SoftmaxGroupsGrad(res, res, d, o.k, 1)
			return out, nil
		}
		mu := make([]T, cols)
		zbar := 1 / float64(o.k)
		share := c / float64(cols/o.k) // c shared out over the N variables
		for b := range rows {
			i := b * cols
			gumbel.SoftmaxGroups(mu, logits[i:i+cols], o.k, 1)
			for g := 0; g < cols; g += o.k { // variable g/k of the row
				v := i + g
				setScore(res[v:v+o.k], z[v:v+o.k], mu[g:g+o.k], darnSignal(d[v:v+o.k], z[v:v+o.k], zbar)-float64(w[b])*share)
			}
		}
		return out, nil
	}
}

// darnSignal returns d . (z - zbar) over the coordinates given: one
// variable's DARN learning signal times the row's weight, when d is the
// weighted gradient w f'(z) of that variable's coordinates.
func darnSignal[T op.Float](d, z []T, zbar float64) float64 {
	var s float64
	for i := range d {
		s += float64(d[i]) * (float64(z[i]) - zbar)
	}
	return s
}
