// Package backend selects the BLAS behind every matrix product of the
// project: gonum's pure Go implementation by default (no cgo, works
// everywhere, bit-reproducible at any thread count), or OpenBLAS when built
// with `-tags openblas` (cgo, Debian's libopenblas-dev), which is several
// times faster. Importing the package makes the choice for gorgonia, the
// tensor package and this project's own ops.
package backend

import (
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
)

// BLAS returns the float32 BLAS in use, the one gorgonia also uses.
func BLAS() blas.Float32 { return G.WhichBLAS() }

// Describe returns one line naming the BLAS and its thread count, for the
// start of a run and for benchmarks.
func Describe() string { return describe() }
