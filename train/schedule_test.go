package train

import (
	"fmt"
	"math"
	"testing"
)

func TestTemperature(t *testing.T) {
	// Expected values computed by hand from tau = max(min, tau0 exp(-r s)),
	// s = every * floor(t/every).
	for _, tc := range []struct {
		t               int
		tau0, min, rate float64
		every           int
		want            float64
	}{
		{0, 1, 0.5, 3e-5, 1000, 1},
		{999, 1, 0.5, 3e-5, 1000, 1},                   // not yet updated
		{1000, 1, 0.5, 3e-5, 1000, math.Exp(-0.03)},    // first update
		{1999, 1, 0.5, 3e-5, 1000, math.Exp(-0.03)},    // held for `every` steps
		{5000, 2, 0.5, 1e-4, 1000, 2 * math.Exp(-0.5)}, // tau0 scales
		{50000, 1, 0.5, 3e-5, 1000, 0.5},               // exp(-1.5) = 0.22 is clamped
		{12345, 1, 0.5, 1e-5, 1, math.Exp(-0.12345)},   // every = 1: every step
		{12345, 0.7, 0.7, 1e-3, 500, 0.7},              // tau0 = min: constant
	} {
		if got := Temperature(tc.t, tc.tau0, tc.min, tc.rate, tc.every); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("Temperature(%d, %v, %v, %v, %d) = %.17g, want %.17g", tc.t, tc.tau0, tc.min, tc.rate, tc.every, got, tc.want)
		}
	}
}

// The default schedule: tau stays at 1 for the first 1000 steps, then
// decays by exp(-0.03) per 1000 steps until it reaches 0.5.
func ExampleTemperature() {
	for _, step := range []int{0, 999, 1000, 5000, 25000} {
		fmt.Printf("step %5d: tau %.3f\n", step, Temperature(step, 1, 0.5, 3e-5, 1000))
	}
	// Output:
	// step     0: tau 1.000
	// step   999: tau 1.000
	// step  1000: tau 0.970
	// step  5000: tau 0.861
	// step 25000: tau 0.500
}
