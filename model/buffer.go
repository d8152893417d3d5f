package model

import "gorgonia.org/tensor"

// outBuf is the output tensor an op instance reuses from run to run, so
// that a training step allocates nothing once warmed up. Each op in a graph
// owns its own outBuf; kernels writing into it must overwrite every
// element.
type outBuf struct{ t *tensor.Dense }

// get returns the buffer, (re)allocating it when the dtype or shape
// changes.
func (b *outBuf) get(dt tensor.Dtype, shape ...int) *tensor.Dense {
	if b.t == nil || b.t.Dtype() != dt || !b.t.Shape().Eq(tensor.Shape(shape)) {
		b.t = tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	}
	return b.t
}

// floats returns the backing slice of a tensor whose dtype matches T,
// without the reflection (and allocation) of Dense.Data.
func floats[T Float](d *tensor.Dense) []T {
	var zero T
	if _, ok := any(zero).(float32); ok {
		return any(d.Float32s()).([]T)
	}
	return any(d.Float64s()).([]T)
}

// filled returns the tensor a forward run left in the buffer when it has
// the given dtype and shape: what a gradient op reads from its forward op.
func (b *outBuf) filled(dt tensor.Dtype, shape tensor.Shape) (*tensor.Dense, bool) {
	if b.t == nil || b.t.Dtype() != dt || !b.t.Shape().Eq(shape) {
		return nil, false
	}
	return b.t, true
}
