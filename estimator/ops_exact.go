package estimator

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
	"gsvae/internal/op"
)

// enumLogProb returns the (R, m) node of the log-probabilities of m joint
// codes (one-hot per variable, one code per row of codes (m, N*k)) under
// the categorical distributions softmax(logits_r) of each row of logits
// (R, N*k):
//
//	logq[r, c] = sum_n log softmax(logits_r,n)[code_c,n],
//
// with the gradient for the logits sum_c dL/dlogq[r, c] (code_c - mu_r),
// mu_r = softmax(logits_r) per variable.
func enumLogProb(logits, codes *G.Node, k int) (*G.Node, error) {
	return G.ApplyOp(enumLogProbOp{Base: op.Base{Name: fmt.Sprintf("EnumLogProb{k=%d}", k)}, k: k, buf: new(op.Buffer)}, logits, codes)
}

// enumLogProbOp is the op of enumLogProb; with grad set it computes dL/dlogits
// from the same inputs and dL/dlogq.
type enumLogProbOp struct {
	op.Base
	k    int
	grad bool
	buf  *op.Buffer
}

func (o enumLogProbOp) Arity() int {
	if o.grad {
		return 3
	}
	return 2
}

func (o enumLogProbOp) Type() hm.Type {
	if o.grad {
		return hm.NewFnType(op.Mat, op.Mat, op.Mat, op.Mat)
	}
	return hm.NewFnType(op.Mat, op.Mat, op.Mat)
}

func (o enumLogProbOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if o.grad {
		return op.SameShape(in)
	}
	l, ok1 := in[0].(tensor.Shape)
	c, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(l) != 2 || len(c) != 2 || l[1] != c[1] {
		return nil, fmt.Errorf("%v: logits %v and codes %v do not fit (R, D) and (m, D)", o, in[0], in[1])
	}
	return tensor.Shape{l[0], c[0]}, nil
}

func (o enumLogProbOp) DiffWRT(int) []bool { return []bool{true, false} }

// SymDiff returns the gradient op for the logits.
func (o enumLogProbOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(enumLogProbOp{Base: op.Base{Name: o.Name + "Grad"}, k: o.k, grad: true, buf: new(op.Buffer)}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

func (o enumLogProbOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), enumLogProbDo[float32](o), enumLogProbDo[float64](o))
}

func enumLogProbDo[T op.Float](o enumLogProbOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		lc, err := op.Datas[T](inputs[0], inputs[1])
		if err != nil {
			return nil, err
		}
		logits, codes := lc[0], lc[1]
		rows, cols, err := layerShape(o, inputs[0], o.k)
		if err != nil {
			return nil, err
		}
		m := len(codes) / cols
		lq := make([]float64, cols)
		if !o.grad {
			out := o.buf.Get(inputs[0].Dtype(), rows, m)
			res := op.Floats[T](out)
			for r := range rows {
				for j, v := range logits[r*cols : (r+1)*cols] {
					lq[j] = float64(v)
				}
				gumbel.LogSoftmaxGroups(lq, lq, o.k)
				for c := range m {
					var s float64
					for j, z := range codes[c*cols : (c+1)*cols] {
						s += float64(z) * lq[j]
					}
					res[r*m+c] = T(s)
				}
			}
			return out, nil
		}
		dout, err := op.Data[T](inputs[2])
		if err != nil {
			return nil, err
		}
		out := o.buf.Get(inputs[0].Dtype(), rows, cols)
		res := op.Floats[T](out)
		for r := range rows {
			for j, v := range logits[r*cols : (r+1)*cols] {
				lq[j] = float64(v)
			}
			gumbel.SoftmaxGroups(lq, lq, o.k, 1)
			g := res[r*cols : (r+1)*cols]
			clear(g)
			for c := range m {
				d := float64(dout[r*m+c])
				for j, z := range codes[c*cols : (c+1)*cols] {
					g[j] += T(d * (float64(z) - lq[j]))
				}
			}
		}
		return out, nil
	}
}

// expectation returns the (B) node of the expected loss of every image
// under the enumerated distribution of its codes: with q1 = exp(logq[0])
// (B, m1) the probabilities of the first layer's codes and f (B*m) the
// loss of each image at each code of the last layer (image-major),
//
//	one layer:   E_b = sum_c q1[b, c] f[b, c]
//	two layers:  E_b = sum_c1 q1[b, c1] sum_c2 q2[c1, c2] f[b, c2],
//	             q2 = exp(logq[1]) (m1, m2), the second layer given the first.
//
// Its gradients for the log-probabilities and for f follow from the
// product rule.
func expectation(logq G.Nodes, f *G.Node) (*G.Node, error) {
	o := expectationOp{Base: op.Base{Name: fmt.Sprintf("Expectation{layers=%d}", len(logq))}, layers: len(logq), wrt: -1, buf: new(op.Buffer)}
	return G.ApplyOp(o, append(append(G.Nodes{}, logq...), f)...)
}

// expectationOp is the op of expectation; with wrt >= 0 it computes the
// gradient for its input wrt from the same inputs and dL/dE (B).
type expectationOp struct {
	op.Base
	layers, wrt int
	buf         *op.Buffer
}

func (o expectationOp) Arity() int {
	if o.wrt >= 0 {
		return o.layers + 2
	}
	return o.layers + 1
}

func (o expectationOp) Type() hm.Type {
	ts := make([]hm.Type, o.layers, o.layers+3)
	for i := range ts {
		ts[i] = op.Mat
	}
	ts = append(ts, op.Vec)
	if o.wrt >= 0 {
		out := hm.Type(op.Mat)
		if o.wrt == o.layers {
			out = op.Vec
		}
		return hm.NewFnType(append(ts, op.Vec, out)...)
	}
	return hm.NewFnType(append(ts, op.Vec)...)
}

func (o expectationOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if o.wrt >= 0 {
		s, ok := in[o.wrt].(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%v: want a shape, got %v", o, in[o.wrt])
		}
		return s.Clone(), nil
	}
	return op.RowsOf(in)
}

func (o expectationOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

// SymDiff returns one gradient op per input.
func (o expectationOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	grads := make(G.Nodes, len(inputs))
	for i := range inputs {
		g := expectationOp{Base: op.Base{Name: fmt.Sprintf("%sGrad%d", o.Name, i)}, layers: o.layers, wrt: i, buf: new(op.Buffer)}
		var err error
		if grads[i], err = G.ApplyOp(g, append(append(G.Nodes{}, inputs...), grad)...); err != nil {
			return nil, err
		}
	}
	return grads, nil
}

func (o expectationOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), expectationDo[float32](o), expectationDo[float64](o))
}

func expectationDo[T op.Float](o expectationOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		vs, err := op.Datas[T](inputs...)
		if err != nil {
			return nil, err
		}
		s1 := inputs[0].Shape()
		b, m1 := s1[0], s1[1]
		q1 := expOf(vs[0])
		f := vs[o.layers]
		var q2 []float64
		m2 := m1
		if o.layers == 2 {
			m2 = inputs[1].Shape()[1]
			q2 = expOf(vs[1])
		}
		if len(f) != b*m2 {
			return nil, fmt.Errorf("%v: %d losses for %d images and %d codes", o, len(f), b, m2)
		}
		// inner[b, c1] = the expected f given the first layer's code c1.
		inner := make([]float64, b*m1)
		for i := range b {
			for c1 := range m1 {
				if q2 == nil {
					inner[i*m1+c1] = float64(f[i*m1+c1])
					continue
				}
				var s float64
				for c2 := range m2 {
					s += q2[c1*m2+c2] * float64(f[i*m2+c2])
				}
				inner[i*m1+c1] = s
			}
		}
		dt := inputs[0].Dtype()
		if o.wrt < 0 {
			out := o.buf.Get(dt, b)
			res := op.Floats[T](out)
			for i := range b {
				var s float64
				for c1 := range m1 {
					s += q1[i*m1+c1] * inner[i*m1+c1]
				}
				res[i] = T(s)
			}
			return out, nil
		}
		dout := vs[len(vs)-1]
		out := o.buf.Get(dt, inputs[o.wrt].Shape()...)
		res := op.Floats[T](out)
		clear(res)
		switch {
		case o.wrt == 0: // dE_b/dlogq1[b, c1] = q1 inner
			for i := range b {
				for c1 := range m1 {
					res[i*m1+c1] = T(float64(dout[i]) * q1[i*m1+c1] * inner[i*m1+c1])
				}
			}
		case o.wrt == o.layers: // dE_b/df[b, c]
			for i := range b {
				for c2 := range m2 {
					var p float64 // the probability of the last layer's code c2
					if q2 == nil {
						p = q1[i*m1+c2]
					} else {
						for c1 := range m1 {
							p += q1[i*m1+c1] * q2[c1*m2+c2]
						}
					}
					res[i*m2+c2] = T(float64(dout[i]) * p)
				}
			}
		default: // dE/dlogq2[c1, c2] = sum_b dout_b q1[b, c1] q2[c1, c2] f[b, c2]
			for c1 := range m1 {
				for c2 := range m2 {
					var s float64
					for i := range b {
						s += float64(dout[i]) * q1[i*m1+c1] * float64(f[i*m2+c2])
					}
					res[c1*m2+c2] = T(s * q2[c1*m2+c2])
				}
			}
		}
		return out, nil
	}
}

// expOf returns exp of every element of v, in float64.
func expOf[T op.Float](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Exp(float64(x))
	}
	return out
}
