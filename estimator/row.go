package estimator

import "gsvae/model"

// row is what an estimator's formula needs of one example: its logits in
// the categorical view (groups of k) and what the decoder, or any other f,
// said about the codes. Derivatives are of f alone, without row weights.
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

	scratch []float64 // annealed-st's softmax(l/tau); allocated when nil
}

// logitGrad writes into g the named estimator's estimate of d E_q[f] /
// d logits for one row (see the package documentation). For the
// score-function estimators c is the moving-average baseline and norm the
// variance normaliser (1 for none); they return their learning signal
// before centring, to update the moving averages, and scored = true.
func logitGrad(name string, r row, c, norm float64, g []float64) (signal float64, scored bool) {
	switch name {
	case GS, STGS:
		straightThrough(g, r.y, r.d, r.k, r.tau)
		return 0, false
	case ST:
		straightThrough(g, r.mu, r.d, r.k, 1)
		return 0, false
	case AnnealedST:
		sharp := r.scratch
		if len(sharp) != len(r.logits) {
			sharp = make([]float64, len(r.logits))
		}
		model.SoftmaxGroups(sharp, r.logits, r.k, r.tau)
		straightThrough(g, sharp, r.d, r.k, r.tau)
		return 0, false
	case SF:
		signal = r.f
	case NVIL:
		signal = r.f - r.base
	case MuProp:
		signal = r.f - r.fMean - dot(r.dMean, r.z, r.mu) // the Taylor control variate
		straightThrough(g, r.mu, r.dMean, r.k, 1)        // its expectation, added back
		for i := range g {
			g[i] /= norm
		}
	case DARN:
		signal = darnSignal(r.d, r.z, r.k)
	}
	addScore(g, r.z, r.mu, (signal-c)/norm)
	return signal, true
}
