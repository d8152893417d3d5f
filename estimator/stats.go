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
// normalisation starts from them instead of NewStats: with the baseline 0
// and the divisor 1 of NewStats, the first estimate of sf or nvil scores
// the whole negative log-likelihood (hundreds of nats) uncentred and
// unscaled, and at SGD's learning rates that one step saturates the
// encoder (one step of sf at lr 3e-3 on the linear Bernoulli VAE took
// the KL from near 0 to 70 nats; 1 with these averages). The first
// estimate then depends on its own batch through c: a bias of one step in
// a run, which the later averages, updated only after each estimate, do
// not have.
func primed(signal []float64) Stats {
	if len(signal) == 0 {
		return NewStats()
	}
	var mean, sq float64
	for _, v := range signal {
		mean += v
	}
	mean /= float64(len(signal))
	for _, v := range signal {
		sq += (v - mean) * (v - mean)
	}
	return Stats{Mean: mean, Var: sq / float64(len(signal))}
}

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
