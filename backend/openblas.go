//go:build openblas

package backend

// #cgo LDFLAGS: -lopenblas
// char* openblas_get_config(void);
// char* openblas_get_corename(void);
// void openblas_set_num_threads(int);
import "C"

import (
	"slices"
	"strings"

	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// Name is the BLAS this binary was built with.
const Name = "openblas"

// base is OpenBLAS through gonum's netlib binding.
func base() G.BLAS { return netlib.Implementation{} }

// tile is unset: OpenBLAS computes each band in one call.
var tile [2]int

// setThreads sets the number of OpenBLAS's threads.
func setThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// avx512Cores are the OpenBLAS kernel families with AVX-512, whose own
// threads beat the split bands (see the package documentation).
var avx512Cores = []string{"skylakex", "cooperlake", "sapphirerapids"}

// rule picks Threads for OpenBLAS's AVX-512 kernels and Split otherwise.
func rule() (Strategy, string, error) {
	core := strings.ToLower(C.GoString(C.openblas_get_corename()))
	if slices.Contains(avx512Cores, core) {
		return Threads, "OpenBLAS core " + core + " has AVX-512", nil
	}
	return Split, "OpenBLAS core " + core + " has no AVX-512", nil
}

func describe() string { return "OpenBLAS (" + C.GoString(C.openblas_get_config()) + ")" }
