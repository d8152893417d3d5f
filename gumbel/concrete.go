package gumbel

import "math"

// LogExpConcreteGroup returns the log density of x = log y under the
// ExpConcrete distribution with location logits a and temperature lambda
// (Maddison, Mnih & Teh 2017, Appendix C), for one group of K values:
//
//	log p(x) = log (K-1)! + (K-1) log lambda + sum_k (a_k - lambda x_k)
//	           - K logsumexp_k (a_k - lambda x_k)
//
// y = exp(x) is then Concrete (Gumbel-Softmax) distributed: x = log
// softmax((a + g)/lambda) has this density with respect to a base measure
// that carries the factor prod_k y_k relative to the Concrete density of y
// (log p(x) = log p_Concrete(y) + sum_k x_k): equivalently, it is the
// density of the K-1 log-ratios x_k - x_K, k < K, with respect to Lebesgue
// measure. The factor is the same for every member of the family, so it
// cancels in log q(x) - log p(x). It also writes dlogp/da and dlogp/dx into
// da and dx (each of length K) when they are not nil:
//
//	dlogp/da_k = 1 - K s_k,   dlogp/dx_k = lambda (K s_k - 1),
//	s = softmax(a - lambda x).
//
// Everything is computed in log space, so the value is finite for finite
// a, x and lambda > 0.
func LogExpConcreteGroup(x, a []float64, lambda float64, da, dx []float64) float64 {
	k := float64(len(x))
	u := make([]float64, len(x)) // a - lambda x
	var sum float64
	for j := range x {
		u[j] = a[j] - lambda*x[j]
		sum += u[j]
	}
	lse := LogSumExp(u)
	lgamma, _ := math.Lgamma(k)
	for j := range x {
		s := math.Exp(u[j] - lse)
		if da != nil {
			da[j] = 1 - k*s
		}
		if dx != nil {
			dx[j] = lambda * (k*s - 1)
		}
	}
	return lgamma + (k-1)*math.Log(lambda) + sum - k*lse
}

// RelaxedKLGroup returns the single-sample relaxed KL term of one latent
// variable,
//
//	log q_tau(x | logits) - log p_priorTau(x | uniform),
//	x = log softmax((logits + g) / tau),
//
// the Monte Carlo estimate that keeps the relaxed objective a lower bound
// (Maddison et al. 2017, Sec. 5 and Appendix C), and, if dlogits is not
// nil, its total derivative with respect to the logits, through both the
// density's parameters and the sample x:
//
//	d/dl_k = dlogq/da_k + (1/tau) (D_k - y_k sum_j D_j),
//	D = dlogq/dx - dlogp/dx,  y = exp(x).
func RelaxedKLGroup(logits, g []float64, tau, priorTau float64, dlogits []float64) float64 {
	k := len(logits)
	z := make([]float64, k)
	for j := range z {
		z[j] = (logits[j] + g[j]) / tau
	}
	lse := LogSumExp(z)
	x := make([]float64, k)
	for j := range x {
		x[j] = z[j] - lse // log y, computed in log space
	}
	zero := make([]float64, k) // the uniform prior's logits
	var daq, dxq, dxp []float64
	if dlogits != nil {
		daq, dxq, dxp = make([]float64, k), make([]float64, k), make([]float64, k)
	}
	kl := LogExpConcreteGroup(x, logits, tau, daq, dxq) - LogExpConcreteGroup(x, zero, priorTau, nil, dxp)
	if dlogits != nil {
		var sumD float64
		for j := range x {
			sumD += dxq[j] - dxp[j]
		}
		for j := range x {
			d := dxq[j] - dxp[j]
			dlogits[j] = daq[j] + (d-math.Exp(x[j])*sumD)/tau
		}
	}
	return kl
}
