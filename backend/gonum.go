//go:build !openblas

package backend

import (
	"fmt"
	"runtime"
)

// Name is the BLAS this binary was built with.
const Name = "gonum"

func describe() string {
	return fmt.Sprintf("BLAS: gonum (pure Go), up to %d threads", runtime.GOMAXPROCS(0))
}
