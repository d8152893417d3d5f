//go:build openblas

package backend

// #cgo LDFLAGS: -lopenblas
// char* openblas_get_config(void);
// void openblas_set_num_threads(int);
import "C"

import (
	"fmt"
	"runtime"

	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// Name is the BLAS this binary was built with.
const Name = "openblas"

// OpenBLAS runs single-threaded: splitBLAS spreads each product across the
// CPUs instead (see backend.go).
func init() { C.openblas_set_num_threads(1) }

// base is the BLAS that splitBLAS calls.
func base() G.BLAS { return netlib.Implementation{} }

// tile is unset: OpenBLAS computes each band in one call.
var tile [2]int

func describe() string {
	return fmt.Sprintf("BLAS: OpenBLAS (%s), single-threaded calls split across %d goroutines", C.GoString(C.openblas_get_config()), runtime.GOMAXPROCS(0))
}
