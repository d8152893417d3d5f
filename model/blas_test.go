package model

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/backend" // the tests run on the project's BLAS: gonum split across CPUs, or OpenBLAS with -tags openblas
)

// TestLinearOnBackend checks the linear layer at a size where the
// backend splits each float32 product across CPUs (64 x 128 x 96 = 786432
// multiply-adds, above backend's threshold of 2^18), forward and backward:
// the float32 output and the gradients of L = sum c_ij y_ij for x, W and b
// against float64 on the same (float32-representable) inputs. Each value
// is a sum of at most 128 products of magnitude <= ~1 (x ~ N(0, 1), W ~
// N(0, 1/128), c ~ N(0, 1)); float32 rounding of such a sum is below
// 128 * 2^-24 * sum |terms| ~ 1e-4 times the values' scale at worst and
// ~1e-6 typically, so 1e-4 of the largest magnitude compared holds.
func TestLinearOnBackend(t *testing.T) {
	t.Log(backend.Describe())
	const rows, in, out, tol = 64, 128, 96, 1e-4
	rng := rand.New(rand.NewPCG(31, 1))
	round := func(x []float64) []float64 {
		for i, v := range x {
			x[i] = float64(float32(v))
		}
		return x
	}
	c := opCase{
		inputs: []opInput{
			{name: "x", shape: []int{rows, in}, data: round(normals(rng, rows*in, 1)), grad: true},
			{name: "w", shape: []int{out, in}, data: round(normals(rng, out*in, 1/math.Sqrt(in))), grad: true},
			{name: "b", shape: []int{1, out}, data: round(normals(rng, out, 0.1)), grad: true},
		},
		build: func(n G.Nodes) (*G.Node, error) { return linear("big", n[0], n[1], n[2], true, true, false) },
	}
	o64 := buildOp(t, c, tensor.Float64, true)
	o32 := buildOp(t, c, tensor.Float32, true)
	o64.m.run(t)
	o32.m.run(t)
	compare := func(what string, got, want []float64) {
		t.Helper()
		scale := 1.0
		for _, v := range want {
			scale = math.Max(scale, math.Abs(v))
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > tol*scale {
				t.Errorf("%s[%d]: float32 %.9g, float64 %.9g", what, i, got[i], want[i])
				return
			}
		}
	}
	compare("y", values(t, o32.out.Value()), values(t, o64.out.Value()))
	for i, name := range o64.gradNames {
		compare("d"+name, values(t, o32.grads[i].Value()), values(t, o64.grads[i].Value()))
	}
}
