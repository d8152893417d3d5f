package gumbel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSoftmaxGroupsFloat32MatchesFloat64 checks the float32 path of
// SoftmaxGroups (exponentials by kernels.ExpNeg32, relative error about
// 2e-7, then one rounding to float32, 6e-8) against the float64 path on
// the same float32-rounded values, within 1e-6 absolute, for group sizes
// that do and do not fill the kernel's blocks of eight, temperatures from
// 0.1 to 10, with y in place of z and in a separate slice.
func TestSoftmaxGroupsFloat32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 1))
	for _, k := range []int{1, 2, 3, 8, 10} {
		for _, tau := range []float64{0.1, 1, 10} {
			t.Run(fmt.Sprintf("k=%d tau=%v", k, tau), func(t *testing.T) {
				z32 := to32(randomSlice(rng, 7*k, 3))
				z64 := make([]float64, len(z32))
				for i, v := range z32 {
					z64[i] = float64(v)
				}
				y64, y32 := make([]float64, len(z64)), make([]float32, len(z32))
				SoftmaxGroups(y64, z64, k, tau)
				SoftmaxGroups(y32, z32, k, tau)
				SoftmaxGroups(z32, z32, k, tau) // in place
				for i := range y64 {
					if math.Abs(float64(y32[i])-y64[i]) > 1e-6 {
						t.Errorf("y[%d]: float32 %v, float64 %v", i, y32[i], y64[i])
					}
					if z32[i] != y32[i] {
						t.Errorf("y[%d]: in place %v, separate %v", i, z32[i], y32[i])
					}
				}
			})
		}
	}
}

// TestSoftmaxGroupsGradFiniteDifferences checks SoftmaxGroupsGrad, the
// backward pass of SoftmaxGroups at temperature tau, against central
// differences of L = sum(c * SoftmaxGroups(z, k, tau)) in float64 (step and
// tolerance as fdStep), with dz written in place of dy as its doc allows.
func TestSoftmaxGroupsGradFiniteDifferences(t *testing.T) {
	const k = 4
	rng := rand.New(rand.NewPCG(29, 2))
	for _, tau := range []float64{0.1, 0.7, 5} {
		z, c := randomSlice(rng, 3*k, 2), randomSlice(rng, 3*k, 1)
		y := make([]float64, len(z))
		loss := func() float64 {
			SoftmaxGroups(y, z, k, tau)
			var l float64
			for i := range y {
				l += c[i] * y[i]
			}
			return l
		}
		loss()
		dz := append([]float64(nil), c...)
		SoftmaxGroupsGrad(dz, y, dz, k, tau)
		for i := range z {
			orig := z[i]
			z[i] = orig + fdStep
			up := loss()
			z[i] = orig - fdStep
			down := loss()
			z[i] = orig
			fd := (up - down) / (2 * fdStep)
			if math.Abs(dz[i]-fd) > fdTol*math.Max(1, math.Abs(fd)) {
				t.Errorf("tau=%v z[%d]: gradient %.10g, finite difference %.10g", tau, i, dz[i], fd)
			}
		}
	}
}

// TestLogSumExp checks LogSumExp on values from its definition: the empty
// sum and sums of zeros (exp(-Inf)) give -Inf; log(e^1000 + e^1000) =
// 1000 + log 2, where the unshifted sum overflows; log(e^-1000 + 1) = 0,
// where e^-1000 underflows; log(e + e^2 + e^3) = 3.40760596444438 (by
// Python's math). Tolerance 1 float64 ulp of 1000 for the large ones,
// 1e-15 otherwise. +Inf and NaN give NaN, as its doc says.
func TestLogSumExp(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		x    []float64
		want float64
	}{
		{nil, -inf},
		{[]float64{-inf, -inf}, -inf},
		{[]float64{0}, 0},
		{[]float64{1000, 1000}, 1000 + math.Ln2},
		{[]float64{-1000, 0}, 0},
		{[]float64{-1e4, 1e4}, 1e4},
		{[]float64{1, 2, 3}, 3.40760596444438},
		{[]float64{inf, 0}, math.NaN()},
		{[]float64{0, math.NaN()}, math.NaN()},
	} {
		got := LogSumExp(tc.x)
		if math.IsNaN(tc.want) {
			if !math.IsNaN(got) {
				t.Errorf("LogSumExp(%v) = %v, want NaN", tc.x, got)
			}
			continue
		}
		tol := 1e-15
		if math.Abs(tc.want) > 100 && !math.IsInf(tc.want, 0) {
			tol = math.Nextafter(math.Abs(tc.want), inf) - math.Abs(tc.want)
		}
		if got != tc.want && !(math.Abs(got-tc.want) <= tol) {
			t.Errorf("LogSumExp(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

// TestLogSoftmaxGroups checks LogSoftmaxGroups against the logarithm of
// SoftmaxGroups where the latter is accurate (moderate values, within
// 1e-14), against exact values at extremes where the softmax underflows
// (groups [1e4, -1e4, 0] and [-1e4, 1e4], whose log-probabilities are
// x_j - max exactly, the others' exponentials vanishing), and in place.
func TestLogSoftmaxGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 3))
	x := randomSlice(rng, 12, 2)
	p := make([]float64, len(x))
	SoftmaxGroups(p, x, 3, 1)
	got := make([]float64, len(x))
	LogSoftmaxGroups(got, x, 3)
	for i := range x {
		if want := math.Log(p[i]); math.Abs(got[i]-want) > 1e-14 {
			t.Errorf("log softmax[%d] = %.17g, log of softmax %.17g", i, got[i], want)
		}
	}
	ext := []float64{1e4, -1e4, 0, -1e4, 1e4, 7}
	LogSoftmaxGroups(ext, ext, 3) // in place: groups [1e4 -1e4 0] and [-1e4 1e4 7]
	want := []float64{0, -2e4, -1e4, -2e4, 0, 7 - 1e4}
	for i := range want {
		if ext[i] != want[i] {
			t.Errorf("extreme groups: %v, want %v", ext, want)
			break
		}
	}
}
