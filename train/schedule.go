package train

import "math"

// Temperature returns the Gumbel-Softmax temperature at global step t (the
// number of updates already made), following Jang et al. (2017), Sec. 4:
//
//	tau(t) = max(tauMin, tau0 * exp(-rate * s)),  s = every * floor(t / every)
//
// That is:
//  1. the temperature starts at tau0 (s = 0 for the first `every` steps);
//  2. every `every` steps it is recomputed from the step count at that moment;
//  3. it never falls below tauMin.
func Temperature(t int, tau0, tauMin, rate float64, every int) float64 {
	s := t
	if every > 1 {
		s = every * (t / every)
	}
	return math.Max(tauMin, tau0*math.Exp(-rate*float64(s)))
}
