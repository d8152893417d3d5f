package estimator

import "fmt"

// statsRate is the rate of the moving averages of the learning signal, 0.8
// as in Mnih & Gregor (2014).
const statsRate = 0.8

// Stats are the moving averages behind a score-function estimator's
// baseline c and variance normalisation for one stochastic layer: Mean is
// c, Var the variance of the centred learning signal. A training
// checkpoint stores them so that a resumed run continues exactly.
type Stats struct {
	Mean, Var float64
}

// NewStats returns the starting averages: c = 0, and a variance of 1,
// which the normaliser max(1, sqrt(Var)) leaves alone.
func NewStats() Stats { return Stats{Var: 1} }

// update returns the moving averages after one batch of learning signals:
// the variance is that of the signal centred by the old mean.
func (st Stats) update(signal []float64) Stats {
	if len(signal) == 0 {
		return st
	}
	var mean, sq float64
	for _, v := range signal {
		mean += v
		sq += (v - st.Mean) * (v - st.Mean)
	}
	n := float64(len(signal))
	return Stats{
		Mean: statsRate*st.Mean + (1-statsRate)*mean/n,
		Var:  statsRate*st.Var + (1-statsRate)*sq/n,
	}
}

// check returns an error unless both averages are finite and the variance
// is not negative.
func (st Stats) check() error {
	if !(st.Var >= 0) || st.Mean-st.Mean != 0 || st.Var-st.Var != 0 {
		return fmt.Errorf("estimator: moving averages mean %v, variance %v: want finite values, the variance not negative", st.Mean, st.Var)
	}
	return nil
}
