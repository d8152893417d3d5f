//go:build !noasm

package train

import "golang.org/x/sys/cpu"

// hasAVX reports whether the AVX kernels of kernels_amd64.s can run: they
// need AVX and an OS that saves the YMM registers, which cpu.X86.HasAVX
// checks both.
var hasAVX = cpu.X86.HasAVX

// adamAVX applies r to the first len(w) elements, len(w) a multiple of 8,
// eight at a time, checking each eight gradients before it applies them:
// it returns len(w), or the index of the first eight that hold a NaN or an
// infinity, which it leaves unwritten with all after them.
//
//go:noescape
func adamAVX(r *adamRule, w, g, m, v []float32) int

// diffSumAVX adds x[i] - x[i] into acc[i%8] for every i < len(x), len(x)
// a multiple of 8.
//
//go:noescape
func diffSumAVX(x []float32, acc *[8]float32)

// adam applies the rule to every element and reports whether every
// gradient was finite: eight at a time in AVX registers where the CPU has
// them, the rest in Go. It checks the gradients as it goes, so a NaN or an
// infinity stops it part way, leaving the elements from there on (at
// least from the eight that hold it) unchanged. Square root and division
// are correctly rounded in both, and neither fuses a multiply-add, so both
// give the same bits (TestAdamKernelMatchesGo).
func adam(r adamRule, w, g, m, v []float32) bool {
	n := 0
	if hasAVX {
		n = len(w) &^ 7
		if adamAVX(&r, w[:n], g[:n], m[:n], v[:n]) < n {
			return false
		}
	}
	return adamChecked(r, w[n:], g[n:], m[n:], v[n:])
}

// allFinite reports whether no element of x is NaN or infinite: x - x is
// 0 for every finite x and NaN otherwise, and NaN survives any sum.
func allFinite(x []float32) bool {
	n := 0
	var acc [8]float32
	if hasAVX {
		n = len(x) &^ 7
		diffSumAVX(x[:n], &acc)
	}
	for _, a := range acc {
		if a != 0 {
			return false
		}
	}
	return allFiniteGo(x[n:])
}
