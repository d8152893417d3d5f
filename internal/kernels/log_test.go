package kernels

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// ulp64 returns the spacing of float64 values just above |x|.
func ulp64(x float64) float64 {
	x = math.Abs(x)
	return math.Nextafter(x, math.Inf(1)) - x
}

// ulp32 returns the spacing of float32 values just above |x|.
func ulp32(x float32) float64 {
	a := float32(math.Abs(float64(x)))
	return float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
}

// gumbelLogUlps bounds the error of each log of the kernel, in float64
// ulps of its result, as TestNegLogKernel checks; math.Log's error is
// below 1 ulp.
const gumbelLogUlps = 4

// gumbelTol returns how far a float32 Gumbel value may lie from want =
// float32(g), g = -math.Log(-math.Log(u)) in float64. The kernel's inner
// log, -log u = y (1 + e1), and its outer log, -log y (1 + e2), each have
// |e| <= gumbelLogUlps float64 ulps (2^-52 each, relative), and math.Log's
// are below 1 ulp; as g = -log y, the inner error becomes an absolute one
// in g, so the two float64 values differ by at most
// D = (gumbelLogUlps + 1) 2^-52 (1 + |g|). Rounding each to float32 adds
// at most 1 float32 ulp between them. For |g| above about 1e-8, D is a
// small fraction of that ulp, so the tolerance allows exactly one ulp
// (both results lie on the float32 grid): they can differ only when g
// lies near a float32 rounding boundary. Below, where g crosses 0 at
// u = exp(-1), the float32 ulp of g shrinks with g while D does not, and
// D decides.
func gumbelTol(g float64, want float32) float64 {
	return ulp32(want) + (gumbelLogUlps+1)*math.Exp2(-52)*(1+math.Abs(g))
}

// gumbelGrid returns the uniforms of uniformFromBits's grid whose cell
// index is within n of the cell that holds x.
func gumbelGrid(x float64, n int) []float64 {
	j := uint64(x * (1 << 52))
	var u []float64
	for d := -n; d <= n; d++ {
		u = append(u, uniformFromBits((j+uint64(d))<<12))
	}
	return u
}

// randomUniforms returns n uniforms from uniformFromBits of random bits.
func randomUniforms(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	u := make([]float64, n)
	for i := range u {
		u[i] = uniformFromBits(rng.Uint64())
	}
	return u
}

// TestNegLogKernel measures the error of negLog64 (the kernel's log where
// the CPU has AVX2 and FMA, else math.Log) against -math.Log in float64
// ulps of the result, on the two ranges the kernel sees: the inner log of
// u in [2^-53, 1 - 2^-53] (the ends, 0.5, u next to 1 where log u is
// about u - 1 and must keep its relative accuracy, x next to the
// reduction boundaries sqrt(1/2) 2^k, and random uniforms), and the outer
// log of -log u in [1.1e-16, 36.8]. Allowed: gumbelLogUlps (fdlibm's
// algorithm is below 1 ulp; the reference adds up to 1 more, and the
// kernel's FMAs round differently).
func TestNegLogKernel(t *testing.T) {
	t.Logf("AVX2 kernel in use: %t", HasAVX2FMA)
	nearOne := make([]float64, 0, 256)
	for j := 1; j <= 64; j++ {
		nearOne = append(nearOne, 1-float64(j)*math.Exp2(-53), 1+float64(j)*math.Exp2(-52))
		nearOne = append(nearOne, 1-float64(j)*1e-9, 1+float64(j)*1e-9)
	}
	var boundary []float64
	for k := -53; k <= 6; k++ {
		b := math.Float64frombits(0x3fe6a09e00000000)
		for d := -3; d <= 3; d++ {
			boundary = append(boundary, math.Ldexp(math.Float64frombits(math.Float64bits(b)+uint64(int64(d))), k))
		}
		boundary = append(boundary, math.Ldexp(math.Sqrt2/2, k), math.Ldexp(1, k), math.Ldexp(1.999, k))
	}
	inner := randomUniforms(300000, 1)
	outer := make([]float64, len(inner))
	for i, u := range inner {
		outer[i] = -math.Log(u)
	}
	cases := []struct {
		name string
		x    []float64
	}{
		{"ends of u and 0.5", []float64{math.Exp2(-53), 1 - math.Exp2(-53), 0.5, uniformFromBits(0), uniformFromBits(math.MaxUint64)}},
		{"near 1", nearOne},
		{"near sqrt(1/2) 2^k", boundary},
		{"ends of -log u", []float64{-math.Log(1 - math.Exp2(-53)), 53 * math.Ln2, 36.8, 1.1e-16, 1}},
		{"random u (inner)", inner},
		{"-log of random u (outer)", outer},
	}
	for _, c := range cases {
		got := make([]float64, len(c.x))
		NegLog64(got, c.x)
		worst, at := 0.0, c.x[0]
		for i, x := range c.x {
			want := -math.Log(x)
			if e := math.Abs(got[i]-want) / ulp64(want); e > worst {
				worst, at = e, x
			}
		}
		t.Logf("%s: max error %.2f float64 ulps (at x = %v)", c.name, worst, at)
		if worst > gumbelLogUlps {
			t.Errorf("%s: -log(%v) off by %.2f float64 ulps, more than %d", c.name, at, worst, gumbelLogUlps)
		}
	}
}

// TestGumbelKernel compares gumbel32 (the AVX2 kernel where the CPU has it,
// math.Log for tails and elsewhere) with float32(-math.Log(-math.Log(u)))
// within gumbelTol: at the ends of the uniforms' range and 0.5; where g
// crosses 0, on uniformFromBits's grid around exp(-1) and on the float64
// next to it; at u = exp(-exp(-+g)) for |g| from 1e-2 to 1e-14; on 300,000
// random uniforms; and on every length 0 to 17 (groups of four and the
// math.Log tail) and around 64 and 128 (the kernel's blocks). Where
// |g| > 1e-6 it also requires at most 1 float32 ulp outright.
func TestGumbelKernel(t *testing.T) {
	t.Logf("AVX2 kernel in use: %t", HasAVX2FMA)
	u := math.Exp(-1)
	for range 100 {
		u = math.Nextafter(u, 0)
	}
	nextToE := make([]float64, 201) // exp(-1) and 100 float64 on either side
	for i := range nextToE {
		nextToE[i] = u
		u = math.Nextafter(u, 1)
	}
	var smallG []float64
	for _, g := range []float64{1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-14} {
		smallG = append(smallG, math.Exp(-math.Exp(-g)), math.Exp(-math.Exp(g)))
	}
	cases := []struct {
		name string
		u    []float64
	}{
		{"ends and 0.5", []float64{math.Exp2(-53), 1 - math.Exp2(-53), 0.5, uniformFromBits(0), uniformFromBits(math.MaxUint64)}},
		{"grid around exp(-1)", gumbelGrid(math.Exp(-1), 40)},
		{"float64 neighbours of exp(-1)", nextToE},
		{"small |g|", smallG},
		{"random", randomUniforms(300000, 2)},
	}
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 63, 64, 65, 68, 127, 128, 131, 132} {
		cases = append(cases, struct {
			name string
			u    []float64
		}{"length " + strconv.Itoa(n), randomUniforms(n, uint64(100+n))})
	}
	for _, c := range cases {
		got := make([]float32, len(c.u))
		Gumbel32(got, c.u)
		worst, worstFar, diffs, minG := 0.0, 0.0, 0, math.Inf(1)
		for i, u := range c.u {
			g := -math.Log(-math.Log(u))
			minG = math.Min(minG, math.Abs(g))
			want := float32(g)
			d := math.Abs(float64(got[i]) - float64(want))
			if d != 0 {
				diffs++
			}
			worst = math.Max(worst, d/ulp32(want))
			if math.Abs(g) > 1e-6 {
				worstFar = math.Max(worstFar, d/ulp32(want))
			}
			if d > gumbelTol(g, want) {
				t.Errorf("%s: u = %v: g = %v, want %v (tolerance %.3g)", c.name, u, got[i], want, gumbelTol(g, want))
			}
		}
		if worstFar > 1 {
			t.Errorf("%s: %.2f float32 ulps off where |g| > 1e-6", c.name, worstFar)
		}
		if len(c.u) > 4 {
			t.Logf("%s: %d of %d differ; max %.3g float32 ulps (%.3g where |g| > 1e-6); min |g| %.3g", c.name, diffs, len(c.u), worst, worstFar, minG)
		}
	}
}

// uniformFromBits maps the top 52 bits of r to the midpoints of a grid of
// 2^52 cells of (0,1), as the Gumbel noise of package gumbel draws its
// uniforms: from 2^-53 to 1 - 2^-53.
func uniformFromBits(r uint64) float64 {
	return (float64(r>>12) + 0.5) / (1 << 52)
}
