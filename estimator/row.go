package estimator

import "gsvae/gumbel"

// row is what an estimator's formula needs of one example with one
// stochastic layer: its logits in the categorical view (groups of k) and
// what f said about the codes. Derivatives are of f alone, without row
// weights. The graph ops compute the same formulas on whole batches; the
// toy problem and the tests use these, one row at a time in float64.
type row struct {
	k   int
	tau float64

	logits []float64 // l
	z      []float64 // the one-hot sample argmax(l + g)
	mu     []float64 // softmax(l)
	y      []float64 // gs, st-gs: the relaxed sample softmax((l + g)/tau)
	f      float64   // f at the code the decoder saw
	d      []float64 // df/dz at that code (y for gs, else z)
	fMean  float64   // muprop: f(mu)
	dMean  []float64 // muprop: df/dz at mu
	base   float64   // nvil: b(x)
}

// logitGrad writes into g the named estimator's estimate of d E_q[f] /
// d logits for one row (see the package documentation), with c the
// moving-average baseline of the score-function estimators. Those return
// their learning signal before centring and scored = true.
func logitGrad(name string, r row, c float64, g []float64) (signal float64, scored bool) {
	switch name {
	case GS, STGS:
		gumbel.SoftmaxGroupsGrad(g, r.y, r.d, r.k, r.tau)
		return 0, false
	case ST:
		gumbel.SoftmaxGroupsGrad(g, r.mu, r.d, r.k, 1)
		return 0, false
	case AnnealedST:
		sharp := make([]float64, len(r.logits))
		gumbel.SoftmaxGroups(sharp, r.logits, r.k, r.tau)
		gumbel.SoftmaxGroupsGrad(g, sharp, r.d, r.k, r.tau)
		return 0, false
	case SF:
		signal = r.f
		clear(g)
	case NVIL:
		signal = r.f - r.base
		clear(g)
	case MuProp:
		var taylor float64 // f'(mu) . (z - mu)
		for i := range r.z {
			taylor += r.dMean[i] * (r.z[i] - r.mu[i])
		}
		signal = r.f - r.fMean - taylor                    // the Taylor control variate
		gumbel.SoftmaxGroupsGrad(g, r.mu, r.dMean, r.k, 1) // its expectation, added back
	case DARN: // each variable's own signal; the row's total is tracked
		zbar, share := 1/float64(r.k), c/float64(len(r.z)/r.k)
		for v := 0; v < len(r.z); v += r.k {
			var own float64 // f'(z_v) . (z_v - zbar)
			for i := v; i < v+r.k; i++ {
				own += r.d[i] * (r.z[i] - zbar)
			}
			setScore(g[v:v+r.k], r.z[v:v+r.k], r.mu[v:v+r.k], own-share)
			signal += own
		}
		return signal, true
	}
	addScore(g, r.z, r.mu, signal-c)
	return signal, true
}
