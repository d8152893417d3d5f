package kernels

import "math"

// Gumbel32 sets dst[i] = float32(-log(-log(u[i]))) for u[i] in
// [2^-53, 1 - 2^-53]: the standard Gumbel noise of uniform draws. Where
// the CPU has AVX2 and FMA, four at a time with fdlibm's logarithm in
// float64 (within 1 float64 ulp of math.Log), rounded once to float32;
// the rest, and every element on other CPUs, with math.Log. Each value is
// then within 1 float32 ulp of float32(-math.Log(-math.Log(u))), except
// for |g| below about 1e-8, where an absolute error of a few 1e-16 (the
// inner log's relative error) is larger than that ulp.
func Gumbel32(dst []float32, u []float64) {
	n := 0
	if HasAVX2FMA {
		n = len(dst) &^ 3
		gumbelAVX2(gumbelK, u[:n], dst[:n])
	}
	gumbel32Go(dst[n:], u[n:])
}

// gumbel32Go is Gumbel32 with math.Log.
func gumbel32Go(dst []float32, u []float64) {
	for i, v := range u[:len(dst)] {
		dst[i] = float32(-math.Log(-math.Log(v)))
	}
}

// NegLog64 sets dst[i] = -log(x[i]) for positive normal x[i]: four at a
// time with the logarithm of Gumbel32 where the CPU has AVX2 and FMA
// (within 1 float64 ulp of math.Log), math.Log for the tail and on other
// CPUs.
func NegLog64(dst, x []float64) {
	n := 0
	if HasAVX2FMA {
		n = len(x) &^ 3
		negLogAVX2(gumbelK, x[:n], dst[:n])
	}
	for i := n; i < len(x); i++ {
		dst[i] = -math.Log(x[i])
	}
}
