package model

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pureOp holds the methods every custom op of this package shares: each
// writes into a buffer it owns and reuses (see outBuf), never overwrites
// its inputs, and is not marked as calling C code (a BLAS call may, but
// gorgonia only uses the flag for scheduling hints).
type pureOp struct{}

func (pureOp) ReturnsPtr() bool     { return false }
func (pureOp) CallsExtern() bool    { return false }
func (pureOp) OverwritesInput() int { return -1 }

// hashOp hashes an op by its String form, which must therefore name every
// field that changes what the op computes: gorgonia merges nodes whose ops
// hash equal and whose inputs are the same.
func hashOp(op fmt.Stringer) uint32 {
	h := fnv.New32a()
	writeHash(h, op)
	return h.Sum32()
}

func writeHash(h hash.Hash, op fmt.Stringer) { fmt.Fprint(h, op.String()) }

// Types of the op signatures: a is the element type (float32 or float64).
var (
	elemT = hm.TypeVariable('a')
	vecT  = G.TensorType{Dims: 1, Of: elemT}
	matT  = G.TensorType{Dims: 2, Of: elemT}
)

// tensorData returns the backing slice of a dense tensor value of element
// type T, without the reflection (and allocation) of Dense.Data.
func tensorData[T Float](v G.Value) ([]T, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("model: want a dense tensor, got %T", v)
	}
	var zero T
	switch any(zero).(type) {
	case float32:
		if d.Dtype() == tensor.Float32 {
			return any(d.Float32s()).([]T), nil
		}
	case float64:
		if d.Dtype() == tensor.Float64 {
			return any(d.Float64s()).([]T), nil
		}
	}
	return nil, fmt.Errorf("model: want %T data, got %v", zero, d.Dtype())
}

// scalarValue returns the value of a float32 or float64 scalar.
func scalarValue(v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F32:
		return float64(*s), nil
	case *G.F64:
		return float64(*s), nil
	}
	return 0, fmt.Errorf("model: want a float scalar, got %T", v)
}

// newLike allocates a zeroed dense tensor of the given shape and dtype.
func newLike(dt tensor.Dtype, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
}

// checkArity returns an error unless exactly n inputs were given.
func checkArity(op fmt.Stringer, inputs []G.Value, n int) error {
	if len(inputs) != n {
		return fmt.Errorf("model: %v takes %d inputs, got %d", op, n, len(inputs))
	}
	return nil
}

// shapeOf returns a copy of an input's shape.
func shapeOf(d G.DimSizer) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("model: want a shape, got %T", d)
	}
	return s.Clone(), nil
}

// rowsOf returns the shape (B) of a per-row reduction of a (B, D) input.
func rowsOf(d G.DimSizer) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("model: want a (B, D) shape, got %v", d)
	}
	return tensor.Shape{s[0]}, nil
}

// Constructors of the ops that own an output buffer.
func newRelaxOp(k int, hard bool) relaxOp {
	return relaxOp{k: k, hard: hard, buf: new(outBuf), soft: new(outBuf)}
}
func newKLOp(k int, learned bool) klOp {
	return klOp{k: k, learned: learned, buf: new(outBuf), dkl: new(outBuf), q: new(outBuf)}
}
func newNLLOp() bernoulliNLLOp { return bernoulliNLLOp{buf: new(outBuf), residual: new(outBuf)} }
