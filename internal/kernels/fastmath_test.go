package kernels

import (
	"math"
	"testing"
)

// TestFastMath compares ExpNeg and Log1pUnit with math.Exp and
// math.Log1p on a fine grid of their domains; the claimed relative error
// bound is 1e-8 (float32 rounding is 6e-8).
func TestFastMath(t *testing.T) {
	const tol = 1e-8
	var worstExp, worstLog float64
	for i := 0; i <= 200000; i++ {
		a := float64(i) * 1e-3 // 0 to 200
		if got, want := ExpNeg(a), math.Exp(-a); math.Abs(got-want) > tol*want {
			t.Fatalf("ExpNeg(%g) = %.17g, math.Exp %.17g", a, got, want)
		} else {
			worstExp = math.Max(worstExp, math.Abs(got-want)/want)
		}
		e := float64(i) / 200000
		if got, want := Log1pUnit(e), math.Log1p(e); math.Abs(got-want) > tol*want {
			t.Fatalf("Log1pUnit(%g) = %.17g, math.Log1p %.17g", e, got, want)
		} else if want > 0 {
			worstLog = math.Max(worstLog, math.Abs(got-want)/want)
		}
	}
	t.Logf("worst relative error: exp %.2g, log1p %.2g", worstExp, worstLog)
	if got := ExpNeg(800); got != 0 {
		t.Errorf("ExpNeg(800) = %g, want 0", got)
	}
	if got := ExpNeg(math.Inf(1)); got != 0 {
		t.Errorf("ExpNeg(+Inf) = %g, want 0", got)
	}
}
