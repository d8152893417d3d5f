//go:build openblas

package backend

// #cgo LDFLAGS: -lopenblas
// int openblas_get_num_threads(void);
// char* openblas_get_config(void);
import "C"

import (
	"fmt"

	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// Name is the BLAS this binary was built with.
const Name = "openblas"

func init() { G.Use(netlib.Implementation{}) }

func describe() string {
	return fmt.Sprintf("BLAS: OpenBLAS (%s), %d threads", C.GoString(C.openblas_get_config()), int(C.openblas_get_num_threads()))
}
