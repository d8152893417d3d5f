package gumbel

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/internal/kernels"
	"gsvae/internal/op"
	"gsvae/internal/parallel"
)

// CategoricalKL returns the (B) node of the analytic KL divergence of the
// N categorical posteriors q_n = softmax(logits_n) of each row of logits
// (B, N*k) from the prior p_n, summed over the N variables:
//
//	KL = sum_n sum_j q_n(j) (log q_n(j) - log p_n(j)).
//
// With a nil prior, p_n is uniform (log p_n(j) = -log k); otherwise prior
// is a (1, N*k) node of logits, p_n = softmax(prior_n), shared by all rows
// (a learned prior, as in v5 of Jang et al. 2017), whose gradient sums
// over the rows. Log-probabilities come
// from max-shifted log-softmaxes, so the value is finite for any finite
// logits. Gradients:
//
//	dKL/dlogits_nj = q_n(j) (log q_n(j) - log p_n(j) - KL_n)
//	dKL/dprior_nj  = p_n(j) - q_n(j)
func CategoricalKL(logits *G.Node, k int, prior *G.Node) (*G.Node, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	o := klOp{Base: op.Base{Name: fmt.Sprintf("CategoricalKL{k=%d,learned=%t}", k, prior != nil)}, k: k, learned: prior != nil, buf: new(op.Buffer), cache: new(klCache)}
	if prior == nil {
		return G.ApplyOp(o, logits)
	}
	return G.ApplyOp(o, logits, prior)
}

// What a klOp computes.
const (
	klValue  = iota // the KL of every row, (B)
	klLogits        // dL/dlogits from dL/dKL, (B, N*K)
	klPrior         // dL/dprior summed over rows, (1, N*K)
)

// klOp computes the KL of CategoricalKL (what = klValue) or one of its
// gradients, whose inputs are the forward op's and then dL/dKL (B).
type klOp struct {
	op.Base
	k       int
	learned bool
	what    int
	buf     *op.Buffer
	cache   *klCache // shared by the forward op and its klLogits gradient
}

// klCache carries dKL/dlogits from the forward pass, which computes it
// with the KL at little extra cost, to the gradient op for the logits,
// which would otherwise compute every exponential and logarithm again.
// The forward op fills it only once SymDiff has made that gradient op;
// the gradient op uses it only for the very logits it was computed from
// (the same backing array, not changed since: the forward pass and the
// backward pass of one run), and empties it.
type klCache struct {
	wanted bool
	buf    op.Buffer
	dkl    *tensor.Dense // dKL/dlogits of the logits at from, or nil
	from   any           // the forward pass's logits slice
}

// fresh returns the cached dKL/dlogits if it was computed from logits.
func fresh[T op.Float](c *klCache, logits []T) ([]T, bool) {
	if c == nil || c.dkl == nil {
		return nil, false
	}
	from, ok := c.from.([]T)
	if !ok || len(from) != len(logits) || len(logits) == 0 || &from[0] != &logits[0] {
		return nil, false
	}
	return op.Floats[T](c.dkl), true
}

func (o klOp) Arity() int {
	n := 1
	if o.learned {
		n++
	}
	if o.what != klValue {
		n++
	}
	return n
}

func (o klOp) Type() hm.Type {
	ts := []hm.Type{op.Mat}
	if o.learned {
		ts = append(ts, op.Mat)
	}
	if o.what != klValue {
		return hm.NewFnType(append(ts, op.Vec, op.Mat)...)
	}
	return hm.NewFnType(append(ts, op.Vec)...)
}

func (o klOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	switch o.what {
	case klValue:
		return op.RowsOf(in)
	case klLogits:
		return op.SameShape(in)
	}
	s, err := op.SameShape(in)
	if err != nil || len(s) != 2 {
		return nil, fmt.Errorf("%v: want a (B, D) shape, got %v", o, in[0])
	}
	return tensor.Shape{1, s[1]}, nil
}

func (o klOp) DiffWRT(n int) []bool {
	if o.what != klValue {
		return gradientInputs(n)
	}
	return []bool{true, true}[:n]
}

// SymDiff returns the gradient ops for the logits and a learned prior
// (and fails for the gradient ops: see gradientInputs).
func (o klOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if o.what != klValue {
		return nil, errSecondOrder(o)
	}
	args := append(append(G.Nodes{}, inputs...), grad)
	grads := make(G.Nodes, len(inputs))
	for i, what := range []int{klLogits, klPrior}[:len(inputs)] {
		g := klOp{Base: op.Base{Name: fmt.Sprintf("CategoricalKLGrad{k=%d,learned=%t,wrt=%d}", o.k, o.learned, what)}, k: o.k, learned: o.learned, what: what, buf: new(op.Buffer)}
		if what == klLogits && o.cache != nil {
			o.cache.wanted, g.cache = true, o.cache
		}
		var err error
		if grads[i], err = G.ApplyOp(g, args...); err != nil {
			return nil, err
		}
	}
	return grads, nil
}

func (o klOp) Do(inputs ...G.Value) (G.Value, error) {
	return op.Dispatch(o, inputs, o.Arity(), klDo[float32](o), klDo[float64](o))
}

func klDo[T op.Float](o klOp) func([]G.Value) (G.Value, error) {
	return func(inputs []G.Value) (G.Value, error) {
		logits, err := op.Data[T](inputs[0])
		if err != nil {
			return nil, err
		}
		shape := inputs[0].Shape()
		if len(shape) != 2 || shape[1]%o.k != 0 {
			return nil, fmt.Errorf("%v: logits shape %v is not (B, N*%d)", o, shape, o.k)
		}
		rows, cols := shape[0], shape[1]
		var prior []G.Value
		if o.learned {
			prior = inputs[1:2]
		}
		logp, err := priorLogProbs[T](prior, cols, o.k)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", o, err)
		}
		dt := inputs[0].Dtype()
		var dout []T
		if o.what != klValue {
			if dout, err = op.Data[T](inputs[len(inputs)-1]); err != nil {
				return nil, err
			}
			if len(dout) != rows {
				return nil, fmt.Errorf("%v: %d gradients for %d rows", o, len(dout), rows)
			}
		}
		switch o.what {
		case klValue:
			out := o.buf.Get(dt, rows)
			kl := op.Floats[T](out)
			var dkl []T // filled for the gradient op when it exists
			if c := o.cache; c != nil && c.wanted {
				c.dkl, c.from = c.buf.Get(dt, rows, cols), logits
				dkl = op.Floats[T](c.dkl)
			}
			parallel.Rows(rows, 16, func(lo, hi int) {
				s := newKLScratch(cols, o.k)
				for r := lo; r < hi; r++ {
					var d []T
					if dkl != nil {
						d = dkl[r*cols : (r+1)*cols]
					}
					kl[r] = T(klRow(logits[r*cols:(r+1)*cols], logp, o.k, s, d, nil))
				}
			})
			return out, nil
		case klLogits:
			out := o.buf.Get(dt, rows, cols)
			res := op.Floats[T](out)
			dkl, ok := fresh(o.cache, logits)
			if ok {
				o.cache.dkl, o.cache.from = nil, nil
			}
			parallel.Rows(rows, 16, func(lo, hi int) {
				s := newKLScratch(cols, o.k)
				for r := lo; r < hi; r++ {
					row := res[r*cols : (r+1)*cols]
					if ok {
						copy(row, dkl[r*cols:(r+1)*cols])
					} else {
						klRow(logits[r*cols:(r+1)*cols], logp, o.k, s, row, nil)
					}
					d := dout[r]
					for i := range row {
						row[i] *= d
					}
				}
			})
			return out, nil
		}
		// dL/dprior_c = sum_r dout_r (p_c - q_rc): one goroutine, in row order.
		s, q := newKLScratch(cols, o.k), make([]T, cols)
		dp := make([]float64, cols)
		for r := range rows {
			klRow(logits[r*cols:(r+1)*cols], logp, o.k, s, nil, q)
			d := float64(dout[r])
			for c := range dp {
				dp[c] += d * (math.Exp(logp[c]) - float64(q[c]))
			}
		}
		out := o.buf.Get(dt, 1, cols)
		res := op.Floats[T](out)
		for c, v := range dp {
			res[c] = T(v)
		}
		return out, nil
	}
}

// klScratch is the working space of klRow for one row of cols logits.
type klScratch struct {
	e, lratio         []float64 // per logit
	m, sums, negLogSm []float64 // per variable
	s                 []float32 // float32 exponentials
}

func newKLScratch(cols, k int) *klScratch {
	return &klScratch{
		e: make([]float64, cols), lratio: make([]float64, cols),
		m: make([]float64, cols/k), sums: make([]float64, cols/k), negLogSm: make([]float64, cols/k),
		s: make([]float32, cols),
	}
}

// klRow returns the KL of one row of logits against the prior
// log-probabilities logp, and writes dKL/dlogits into dkl and q into q
// when they are not nil. Per variable, with m the largest logit and
// S = sum_j exp(l_j - m): q_j = exp(l_j - m) / S and
// log q_j = l_j - m - log S, one exponential per logit (groupExp) and one
// logarithm per variable (kernels.NegLog64, four at a time).
func klRow[T op.Float](logits []T, logp []float64, k int, s *klScratch, dkl, q []T) float64 {
	cols := len(logits)
	groupExp(s.e, s.m, logits, k, s.s)
	for g := 0; g < cols; g += k {
		var sum float64
		for _, v := range s.e[g : g+k] {
			sum += v
		}
		s.sums[g/k] = sum
	}
	kernels.NegLog64(s.negLogSm, s.sums)
	var kl float64
	for g := 0; g < cols; g += k {
		lse, inv := s.m[g/k]-s.negLogSm[g/k], 1/s.sums[g/k]
		var kln float64 // KL of this variable
		for j := g; j < g+k; j++ {
			qj, lr := s.e[j]*inv, float64(logits[j])-lse-logp[j] // q_j, log(q_j/p_j)
			s.e[j], s.lratio[j] = qj, lr
			if q != nil {
				q[j] = T(qj)
			}
			kln += qj * lr
		}
		if dkl != nil {
			for j := g; j < g+k; j++ {
				dkl[j] = T(s.e[j] * (s.lratio[j] - kln))
			}
		}
		kl += kln
	}
	return kl
}

// priorLogProbs returns log p_n(j) for the cols columns: log softmax of the
// prior's logits when given, else -log K.
func priorLogProbs[T op.Float](prior []G.Value, cols, k int) ([]float64, error) {
	logp := make([]float64, cols)
	if len(prior) == 0 {
		for i := range logp {
			logp[i] = -math.Log(float64(k))
		}
		return logp, nil
	}
	p, err := op.Data[T](prior[0])
	if err != nil {
		return nil, err
	}
	if len(p) != cols {
		return nil, fmt.Errorf("%d prior logits for %d columns", len(p), cols)
	}
	for g := 0; g < cols; g += k {
		logSoftmaxT(logp[g:g+k], p[g:g+k])
	}
	return logp, nil
}

// logSoftmaxT returns log softmax(z)_j for one group, computed as
// z_j - m - log sum_i exp(z_i - m) with m = max z, the exponentials by
// kernels.ExpNeg for float32 groups and math.Exp for float64 ones.
func logSoftmaxT[T op.Float](dst []float64, z []T) {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var zero T
	_, f32 := any(zero).(float32)
	var sum float64
	for _, v := range z {
		if f32 {
			sum += kernels.ExpNeg(m - float64(v))
		} else {
			sum += math.Exp(float64(v) - m)
		}
	}
	lse := m + math.Log(sum)
	for j, v := range z {
		dst[j] = float64(v) - lse
	}
}
