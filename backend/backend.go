// Package backend selects the BLAS behind every matrix product of the
// project: gonum's pure Go implementation by default (no cgo, works
// everywhere), or OpenBLAS when built with `-tags openblas` (cgo, Debian's
// libopenblas-dev), which is several times faster. Importing the package
// makes the choice for gorgonia, the tensor package and this project's own
// ops.
//
// Either way each float32 product is split into one band per CPU, each
// computed by its own call (splitBLAS; OpenBLAS is set single-threaded,
// gonum's calls are kept to tiles it runs serially). At this model's sizes
// that beats both libraries' own threading. Measured on 2 cores
// (BenchmarkGEMMFloor, the 17 products of a training step): OpenBLAS
// 6.2 ms with its 2 threads, 5.1 ms split; gonum 71 ms with its
// goroutines, 31 ms split, 26 ms split into tiles. OpenBLAS's idle workers
// also spin between calls, which slowed the Go code running in between.
package backend

import (
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
)

func init() { G.Use(splitBLAS{base(), tile}) }

// BLAS returns the float32 BLAS in use, the one gorgonia also uses.
func BLAS() blas.Float32 { return G.WhichBLAS() }

// Describe returns one line naming the BLAS and its thread count, for the
// start of a run and for benchmarks.
func Describe() string { return describe() }
