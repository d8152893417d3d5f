//go:build !amd64 || noasm

package train

// hasAVX is false: this build has no assembly kernels.
const hasAVX = false

// adam applies the rule to every element and reports whether every
// gradient was finite; if one is not, it changes nothing.
func adam(r adamRule, w, g, m, v []float32) bool { return adamChecked(r, w, g, m, v) }

// allFinite reports whether no element of x is NaN or infinite.
func allFinite(x []float32) bool { return allFiniteGo(x) }
