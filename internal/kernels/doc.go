// Package kernels provides the numerical inner loops of a training step
// behind plain Go signatures: exponentials and logarithms, the Bernoulli
// likelihood, the Gumbel noise's two logarithms, the linear layers'
// elementwise passes and Adam.
//
// On amd64 CPUs with AVX2 and FMA (AVX for Adam) each function runs an
// assembly kernel over the bulk of its slice and Go code over the tail;
// elsewhere, or when built with -tags noasm, Go code does everything. The
// tests hold every kernel to its Go code: bit for bit where both do the
// same float32 operations in the same order (bias and ReLU, ReLU gradient,
// column sums, Adam), and within stated error bounds where the kernel uses
// its own polynomial (exp, log, the likelihood).
package kernels

// Float is the element type of the generic functions: float32 for
// training, float64 for the finite-difference checks, which need
// math.Exp's accuracy.
type Float interface{ ~float32 | ~float64 }
