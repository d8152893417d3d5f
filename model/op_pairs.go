package model

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pairsOp moves Bernoulli latents between their own width and the
// categorical view of Config.Bernoulli. Widening maps each row (l_1..l_N)
// to (l_1, 0, l_2, 0, ..., l_N, 0): logits of K = 2 categoricals whose
// first class is "on". Narrowing keeps the first entry of each pair. The two
// linear maps are each other's transpose, so each one's gradient is the
// other applied to dL/dout.
type pairsOp struct {
	pureOp
	widen bool
	buf   *outBuf
}

func newPairsOp(widen bool) pairsOp { return pairsOp{widen: widen, buf: new(outBuf)} }

func (op pairsOp) Arity() int            { return 1 }
func (op pairsOp) Type() hm.Type         { return hm.NewFnType(matT, matT) }
func (op pairsOp) String() string        { return fmt.Sprintf("BernoulliPairs{widen=%t}", op.widen) }
func (op pairsOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op pairsOp) Hashcode() uint32      { return hashOp(op) }
func (op pairsOp) DiffWRT(int) []bool    { return []bool{true} }

func (op pairsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("model: %v: want a (B, D) shape, got %v", op, in[0])
	}
	if op.widen {
		return tensor.Shape{s[0], 2 * s[1]}, nil
	}
	if s[1]%2 != 0 {
		return nil, fmt.Errorf("model: %v: odd width %d", op, s[1])
	}
	return tensor.Shape{s[0], s[1] / 2}, nil
}

func (op pairsOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 1); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return pairsDo[float32](op, inputs[0])
	}
	return pairsDo[float64](op, inputs[0])
}

func pairsDo[T Float](op pairsOp, in G.Value) (G.Value, error) {
	shape, err := op.InferShape(in.Shape())
	if err != nil {
		return nil, err
	}
	x, err := tensorData[T](in)
	if err != nil {
		return nil, err
	}
	out := op.buf.get(in.Dtype(), shape...)
	y := floats[T](out)
	if op.widen {
		widen(y, x)
	} else {
		narrow(y, x)
	}
	return out, nil
}

func (op pairsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(newPairsOp(!op.widen), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// widen writes x (length n) into wide (length 2n) as the pairs (x_i, 0):
// Bernoulli logits into the logits of the categorical view, or a gradient
// with respect to Bernoulli codes into one with respect to the view.
func widen[T Float](wide, x []T) {
	for i, v := range x {
		wide[2*i], wide[2*i+1] = v, 0
	}
}

// narrow writes the first entry of each pair of wide into x: the codes the
// decoder reads from samples of the categorical view.
func narrow[T Float](x, wide []T) {
	for i := range x {
		x[i] = wide[2*i]
	}
}
