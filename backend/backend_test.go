package backend

import (
	"math"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
)

// TestBackendIsInUse checks that the BLAS this package reports is the one
// gorgonia uses, that Describe names it, and that its Sgemm agrees with
// gonum's reference on a small product (to float32 rounding, 1e-5).
func TestBackendIsInUse(t *testing.T) {
	if BLAS() != blas.Float32(G.WhichBLAS()) {
		t.Error("BLAS() is not gorgonia's BLAS")
	}
	want := map[string]string{"gonum": "gonum", "openblas": "OpenBLAS"}[Name]
	if d := Describe(); !strings.Contains(d, want) {
		t.Errorf("Describe() = %q, want it to name %s", d, want)
	}
	a := []float32{1, 2, 3, 4, 5, 6}    // 2x3
	b := []float32{1, 0, -1, 2, 0.5, 3} // 3x2
	got, ref := make([]float32, 4), make([]float32, 4)
	BLAS().Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, got, 2)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, ref, 2)
	for i := range got {
		if math.Abs(float64(got[i]-ref[i])) > 1e-5 {
			t.Errorf("product[%d] = %v, gonum gives %v", i, got[i], ref[i])
		}
	}
}

// TestProductTime checks that every product through the installed BLAS,
// under either strategy, adds its wall-clock time to ProductTime: a floor
// of 2 products of 256^3 multiply-adds, timed from outside, must add
// between 90% of its time minus 1 ms (the clock readings around the loop)
// and all of it.
func TestProductTime(t *testing.T) {
	chosen := CurrentStrategy()
	defer SetStrategy(chosen)
	f := NewFloor([]Product{{M: 256, N: 256, K: 256}, {M: 256, N: 256, K: 256, TransB: true}}, 1)
	for _, s := range []Strategy{Split, Threads} {
		SetStrategy(s)
		before := ProductTime()
		start := time.Now()
		for range 5 {
			f.Run()
		}
		outside := time.Since(start)
		inside := ProductTime() - before
		if inside > outside || inside < outside*9/10-time.Millisecond {
			t.Errorf("%v: ProductTime grew by %v over products that took %v", s, inside, outside)
		}
	}
}
