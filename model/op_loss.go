package model

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// lossOp combines the per-row terms into the batch loss
//
//	loss = sum_b w_b (rec_b + kl_b)
//
// from inputs rec (B), kl (B) and row weights w (B) (1/rows for real rows, 0
// for padding). It is one op, not Add/HadamardProd/Sum, because gorgonia's
// built-in elementwise ops may reuse an input's memory for their result, and
// rec and kl must stay readable after a run.
type lossOp struct{ pureOp }

func (op lossOp) Arity() int                                        { return 3 }
func (op lossOp) Type() hm.Type                                     { return hm.NewFnType(vecT, vecT, vecT, elemT) }
func (op lossOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op lossOp) String() string                                    { return "WeightedLoss" }
func (op lossOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op lossOp) Hashcode() uint32                                  { return hashOp(op) }
func (op lossOp) DiffWRT(int) []bool                                { return []bool{true, true, false} }

func (op lossOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 3); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return lossDo[float32](inputs)
	}
	return lossDo[float64](inputs)
}

func lossDo[T Float](inputs []G.Value) (G.Value, error) {
	var rows [3][]T
	for i := range rows {
		var err error
		if rows[i], err = tensorData[T](inputs[i]); err != nil {
			return nil, err
		}
	}
	rec, kl, w := rows[0], rows[1], rows[2]
	if len(kl) != len(rec) || len(w) != len(rec) {
		return nil, fmt.Errorf("model: loss: %d, %d and %d rows", len(rec), len(kl), len(w))
	}
	var s float64
	for b := range rec {
		s += float64(w[b]) * (float64(rec[b]) + float64(kl[b]))
	}
	return newScalar(inputs[0].Dtype(), s), nil
}

func (op lossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(scaleOp{dims: 1, buf: new(outBuf)}, inputs[2], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, d, nil}, nil
}

// scaleOp multiplies a vector (dims 1) or a matrix (dims 2) by a scalar:
// the gradient of lossOp for rec and kl is w * dL/dloss, and that of
// injectOp is g * dL/dS.
type scaleOp struct {
	pureOp
	dims int
	buf  *outBuf
}

func (op scaleOp) Arity() int { return 2 }
func (op scaleOp) Type() hm.Type {
	t := G.TensorType{Dims: op.dims, Of: elemT}
	return hm.NewFnType(t, elemT, t)
}
func (op scaleOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op scaleOp) String() string                                    { return fmt.Sprintf("Scale{dims=%d}", op.dims) }
func (op scaleOp) WriteHash(h hash.Hash)                             { writeHash(h, op) }
func (op scaleOp) Hashcode() uint32                                  { return hashOp(op) }

func (op scaleOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 2); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return scaleDo[float32](op.buf, inputs)
	}
	return scaleDo[float64](op.buf, inputs)
}

func scaleDo[T Float](buf *outBuf, inputs []G.Value) (G.Value, error) {
	w, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	c, err := scalarValue(inputs[1])
	if err != nil {
		return nil, err
	}
	out := buf.get(inputs[0].Dtype(), inputs[0].Shape()...)
	res := floats[T](out)
	for i, v := range w {
		res[i] = T(float64(v) * c)
	}
	return out, nil
}

// injectOp is the surrogate through which a gradient computed outside the
// graph enters it: from a (B, D) node a and a (B, D) constant g it computes
//
//	S = sum_bd a_bd g_bd
//
// whose gradient with respect to a is g. Differentiating S therefore
// back-propagates g through whatever computed a; gradient estimators use it
// to push their estimate of dL/dlogits through the encoder.
type injectOp struct{ pureOp }

func (op injectOp) Arity() int    { return 2 }
func (op injectOp) Type() hm.Type { return hm.NewFnType(matT, matT, elemT) }
func (op injectOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op injectOp) String() string        { return "Inject" }
func (op injectOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op injectOp) Hashcode() uint32      { return hashOp(op) }
func (op injectOp) DiffWRT(int) []bool    { return []bool{true, false} }

func (op injectOp) Do(inputs ...G.Value) (G.Value, error) {
	if err := checkArity(op, inputs, 2); err != nil {
		return nil, err
	}
	if inputs[0].Dtype() == tensor.Float32 {
		return injectDo[float32](inputs)
	}
	return injectDo[float64](inputs)
}

func injectDo[T Float](inputs []G.Value) (G.Value, error) {
	a, err := tensorData[T](inputs[0])
	if err != nil {
		return nil, err
	}
	g, err := tensorData[T](inputs[1])
	if err != nil {
		return nil, err
	}
	if len(a) != len(g) {
		return nil, fmt.Errorf("model: inject: %d values and %d gradients", len(a), len(g))
	}
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(g[i])
	}
	return newScalar(inputs[0].Dtype(), s), nil
}

func (op injectOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(scaleOp{dims: 2, buf: new(outBuf)}, inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// newScalar returns s as a scalar value of dtype dt (float32 or float64).
func newScalar(dt tensor.Dtype, s float64) G.Value {
	if dt == tensor.Float32 {
		v := G.F32(s)
		return &v
	}
	v := G.F64(s)
	return &v
}
