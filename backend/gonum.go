//go:build !openblas

package backend

import (
	"fmt"
	"runtime"

	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
)

// Name is the BLAS this binary was built with.
const Name = "gonum"

// base is gorgonia's default BLAS, gonum's.
func base() G.BLAS { return gonum.Implementation{} }

func describe() string {
	return fmt.Sprintf("BLAS: gonum (pure Go), products split across %d goroutines", runtime.GOMAXPROCS(0))
}
