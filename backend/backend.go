// Package backend selects the BLAS behind every matrix product of the
// project: gonum's pure Go implementation by default (no cgo, works
// everywhere), or OpenBLAS when built with `-tags openblas` (cgo, Debian's
// libopenblas-dev), which is several times faster. Importing the package
// makes the choice for gorgonia, the tensor package and this project's own
// ops.
//
// A product uses the CPUs in one of two ways (Strategy): Split cuts it
// into one band of C per CPU, each computed by its own call of a
// single-threaded BLAS on helper goroutines (splitBLAS), or Threads leaves
// it to the BLAS's own threads. Which is faster depends on the BLAS and
// the CPU, and is fixed at start-up by a rule (see Choose) so that a run
// is reproducible: Split for gonum (its goroutine per 64 x 64 block costs
// more than it saves at this model's sizes: the 17 products of a training
// step took 71 ms with its goroutines, 26 ms split into tiles on 2 cores)
// and for OpenBLAS with AVX2 kernels (5.1 ms split, 6.2 ms threaded: its
// idle threads spin between calls and slow the Go code in between);
// Threads for OpenBLAS with AVX-512 kernels (SkylakeX, Cooperlake,
// SapphireRapids), whose threaded products measured 3.9 ms against 4.9 ms
// split on the project's AVX-512 machines. The environment variable
// GSVAE_GEMM=split or threads overrides the rule.
package backend

import (
	"fmt"
	"os"
	"runtime"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
)

// Strategy is how a float32 product uses the CPUs.
type Strategy int

// The strategies.
const (
	// Split computes one band of C per CPU, each with its own call of a
	// single-threaded BLAS, at once.
	Split Strategy = iota
	// Threads leaves the product to the BLAS's own threads.
	Threads
)

// String returns "split" or "threads".
func (s Strategy) String() string {
	if s == Threads {
		return "threads"
	}
	return "split"
}

// ParseStrategy returns the strategy called s.
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "split":
		return Split, nil
	case "threads":
		return Threads, nil
	}
	return 0, fmt.Errorf("backend: strategy %q: want split or threads", s)
}

var (
	strategy Strategy
	reason   string // why the strategy was chosen
)

func init() {
	s, why, err := Choose(os.Getenv("GSVAE_GEMM"))
	if err != nil {
		s, why = Split, err.Error()+"; using split"
	}
	SetStrategy(s)
	reason = why
}

// Choose returns the strategy of this machine and BLAS, and why: the one
// named by override ("split" or "threads") if it is not empty, else the
// rule of the package documentation.
func Choose(override string) (Strategy, string, error) {
	if override != "" {
		s, err := ParseStrategy(override)
		if err != nil {
			return Split, "", fmt.Errorf("GSVAE_GEMM=%s: %w", override, err)
		}
		return s, "GSVAE_GEMM=" + override, nil
	}
	return rule()
}

// SetStrategy makes s the strategy of every float32 product from now on,
// gorgonia's included. It is not safe to call while products run.
func SetStrategy(s Strategy) {
	strategy = s
	if s == Threads {
		setThreads(runtime.GOMAXPROCS(0))
		G.Use(timed{base()})
		return
	}
	setThreads(1)
	G.Use(timed{splitBLAS{base(), tile}})
}

// CurrentStrategy returns the strategy in use.
func CurrentStrategy() Strategy { return strategy }

// BLAS returns the float32 BLAS in use, the one gorgonia also uses.
func BLAS() blas.Float32 { return G.WhichBLAS() }

// Describe returns one line naming the BLAS, the strategy and why, for
// the start of a run and for benchmarks.
func Describe() string {
	how := fmt.Sprintf("products split across %d goroutines", runtime.GOMAXPROCS(0))
	if strategy == Threads {
		how = fmt.Sprintf("the BLAS's own threads (%d)", runtime.GOMAXPROCS(0))
	}
	return fmt.Sprintf("BLAS: %s, %s (%s)", describe(), how, reason)
}
