// Package op provides what every custom gorgonia op of this module shares:
// its identity (name, hash), its element-type dispatch, access to its
// inputs' data without reflection, and the output buffer it reuses from
// run to run.
//
// A gorgonia op (gorgonia.org/gorgonia's Op interface) is a value with a
// type signature, a shape rule and a Do method that computes its output
// from its inputs' values; an op with gradients also implements SDOp, whose
// SymDiff adds the nodes of its backward pass to the graph. gorgonia merges
// nodes whose ops hash equal and whose inputs are the same, so an op's
// name must carry every field that changes what it computes.
package op

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Float is the element type of an op's tensors: float32 for training,
// float64 for the finite-difference checks.
type Float interface{ ~float32 | ~float64 }

// Base gives an op its identity and the properties every op of this module
// shares: it writes into a buffer of its own (see Buffer) rather than into
// an input, returns a value rather than a pointer into an input, and does
// not ask gorgonia to treat it as a call into C.
type Base struct {
	// Name is the op's String: its kind and every field that changes what
	// it computes, as in "GumbelSoftmax{k=10}".
	Name string
}

// String returns the op's name.
func (b Base) String() string { return b.Name }

// WriteHash writes the op's name into h: ops with equal names hash equal.
func (b Base) WriteHash(h hash.Hash) { fmt.Fprint(h, b.Name) }

// Hashcode returns the FNV-1a hash of the op's name.
func (b Base) Hashcode() uint32 {
	h := fnv.New32a()
	b.WriteHash(h)
	return h.Sum32()
}

// ReturnsPtr reports false: the output is the op's own tensor.
func (Base) ReturnsPtr() bool { return false }

// CallsExtern reports false.
func (Base) CallsExtern() bool { return false }

// OverwritesInput reports -1: no input is written.
func (Base) OverwritesInput() int { return -1 }

// Types of op signatures: Elem is the element type (float32 or float64),
// Vec a vector and Mat a matrix of it.
var (
	Elem = hm.TypeVariable('a')
	Vec  = G.TensorType{Dims: 1, Of: Elem}
	Mat  = G.TensorType{Dims: 2, Of: Elem}
)

// Dispatch checks that op was given arity inputs and calls f32 or f64 by
// the element type of the first: the Do of a generic op.
func Dispatch(op fmt.Stringer, inputs []G.Value, arity int, f32, f64 func([]G.Value) (G.Value, error)) (G.Value, error) {
	if len(inputs) != arity {
		return nil, fmt.Errorf("%v takes %d inputs, got %d", op, arity, len(inputs))
	}
	switch inputs[0].Dtype() {
	case tensor.Float32:
		return f32(inputs)
	case tensor.Float64:
		return f64(inputs)
	}
	return nil, fmt.Errorf("%v: unsupported element type %v", op, inputs[0].Dtype())
}

// Data returns the backing slice of a dense tensor value of element type
// T, without the reflection (and allocation) of Dense.Data.
func Data[T Float](v G.Value) ([]T, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("want a dense tensor, got %T", v)
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
	return nil, fmt.Errorf("want %T data, got %v", zero, d.Dtype())
}

// Datas returns the backing slices of several inputs of element type T.
func Datas[T Float](vs ...G.Value) ([][]T, error) {
	out := make([][]T, len(vs))
	for i, v := range vs {
		var err error
		if out[i], err = Data[T](v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Scalar returns the value of a float32 or float64 scalar.
func Scalar(v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F32:
		return float64(*s), nil
	case *G.F64:
		return float64(*s), nil
	}
	return 0, fmt.Errorf("want a float scalar, got %T", v)
}

// NewScalar returns s as a scalar value of dtype dt (float32 or float64).
func NewScalar(dt tensor.Dtype, s float64) G.Value {
	if dt == tensor.Float32 {
		v := G.F32(s)
		return &v
	}
	v := G.F64(s)
	return &v
}

// Floats returns the backing slice of a tensor whose dtype matches T.
func Floats[T Float](d *tensor.Dense) []T {
	var zero T
	if _, ok := any(zero).(float32); ok {
		return any(d.Float32s()).([]T)
	}
	return any(d.Float64s()).([]T)
}

// Buffer is the output tensor an op reuses from run to run, so that a
// training step allocates nothing once warmed up. Every op node owns its
// own Buffer (the functions that build nodes make a new op, and with it a
// new Buffer, each time), and its Do overwrites every element.
type Buffer struct{ t *tensor.Dense }

// Get returns the buffer, (re)allocating it when the dtype or shape
// changes.
func (b *Buffer) Get(dt tensor.Dtype, shape ...int) *tensor.Dense {
	if b.t == nil || b.t.Dtype() != dt || !b.t.Shape().Eq(tensor.Shape(shape)) {
		b.t = tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	}
	return b.t
}

// SameShape is the shape rule of an op whose output has its first input's
// shape.
func SameShape(in []G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("want a shape, got %T", in[0])
	}
	return s.Clone(), nil
}

// RowsOf is the shape rule of a per-row reduction: (B) from a (B, D)
// first input.
func RowsOf(in []G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 2 {
		return nil, fmt.Errorf("want a (B, D) shape, got %v", in[0])
	}
	return tensor.Shape{s[0]}, nil
}

// Float64s copies a float32 or float64 tensor value into dst, growing it
// when it lacks the capacity, and returns it: nil for any other value.
func Float64s(dst []float64, v G.Value) []float64 {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil
	}
	switch d.Dtype() {
	case tensor.Float32:
		s := d.Float32s()
		if cap(dst) < len(s) {
			dst = make([]float64, len(s))
		}
		dst = dst[:len(s)]
		for i, x := range s {
			dst[i] = float64(x)
		}
		return dst
	case tensor.Float64:
		return append(dst[:0], d.Float64s()...)
	}
	return nil
}
