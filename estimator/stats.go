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

// primed returns the averages one batch of learning signals gives on its
// own: their mean, and their variance around it. Training with variance
// normalisation starts from them instead of NewStats, whose baseline 0
// and divisor 1 would leave the first estimate uncentred and unscaled
// (see the package documentation). The first estimate then depends on its
// own batch through c: a bias of one step in a run.
func primed(signal []float64) Stats {
	if len(signal) == 0 {
		return NewStats()
	}
	n := float64(len(signal))
	sum, _ := sums(signal, 0)
	mean := sum / n
	_, sq := sums(signal, mean)
	return Stats{Mean: mean, Var: sq / n}
}

// update returns the moving averages after one batch of learning signals:
// the variance is that of the signal centred by the old mean.
func (st Stats) update(signal []float64) Stats {
	if len(signal) == 0 {
		return st
	}
	sum, sq := sums(signal, st.Mean)
	n := float64(len(signal))
	return Stats{
		Mean: statsRate*st.Mean + (1-statsRate)*sum/n,
		Var:  statsRate*st.Var + (1-statsRate)*sq/n,
	}
}

// sums returns the sum of the signals and the sum of their squares
// centred by c.
func sums(signal []float64, c float64) (sum, sq float64) {
	for _, v := range signal {
		sum += v
		sq += (v - c) * (v - c)
	}
	return sum, sq
}

// check returns an error unless both averages are finite and the variance
// is not negative.
func (st Stats) check() error {
	if !(st.Var >= 0) || st.Mean-st.Mean != 0 || st.Var-st.Var != 0 {
		return fmt.Errorf("estimator: moving averages mean %v, variance %v: want finite values, the variance not negative", st.Mean, st.Var)
	}
	return nil
}
