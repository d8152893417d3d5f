package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"gsvae/model"
)

// statsRate is the rate of the moving averages of the learning signal, 0.8
// as in Mnih & Gregor (2014).
const statsRate = 0.8

// split computes an estimate in stages, with the estimator's arithmetic in
// plain Go between them: the encoder's forward pass gives the logits; the
// decoder runs at the codes the estimator chooses and gives f and df/dz;
// the estimator turns those into G = dL/dlogits; a second encoder graph
// back-propagates G (and the exact KL gradient) to the encoder's weights.
// (The forward pass runs twice because a gorgonia tape runs forward and
// backward together, and G depends on the forward pass.)
type split struct {
	name string
	cfg  model.Config
	opt  Options

	encFwd, encBwd   *model.Encoder
	dec              *model.Decoder  // at the sample z (all codes for exact)
	decMean          *model.Decoder  // muprop: at the mean-field point mu
	baseFwd, baseBwd *model.Baseline // nvil

	noise, z, mu, g  []float64 // (B, N*K) each
	w, kw            []float64 // (B) row weights, and those of the encoder's KL
	sharp            []float64 // (N*K) scratch for annealed-st
	logits, d, dMean []float64 // (B, N*K) copies of the graphs' outputs, reused
	rec, kl          []float64 // (B) of the last estimate
	stats            Stats
	out              []*tensor.Dense
}

func newSplit(name string, cfg model.Config, p *model.Params, opt Options) (*split, error) {
	s := &split{name: name, cfg: cfg, opt: opt, stats: Stats{Var: 1}}
	rows := opt.Batch
	var err error
	if s.encFwd, err = model.NewEncoder(cfg, p, model.Options{Batch: rows}); err != nil {
		return nil, err
	}
	if s.encBwd, err = model.NewEncoder(cfg, p, model.Options{Batch: rows, Grad: true}); err != nil {
		return nil, err
	}
	decRows := rows
	if name == exact {
		decRows = rows * Codes(cfg)
	}
	if s.dec, err = model.NewDecoder(cfg, p, model.Options{Batch: decRows, Grad: true}); err != nil {
		return nil, err
	}
	if name == MuProp {
		if s.decMean, err = model.NewDecoder(cfg, p, model.Options{Batch: rows, Grad: true}); err != nil {
			return nil, err
		}
	}
	if name == NVIL {
		if s.baseFwd, err = model.NewBaseline(cfg, p, model.Options{Batch: rows}); err != nil {
			return nil, err
		}
		if s.baseBwd, err = model.NewBaseline(cfg, p, model.Options{Batch: rows, Grad: true}); err != nil {
			return nil, err
		}
	}
	nk := rows * cfg.Latent()
	s.noise, s.z, s.mu, s.g = make([]float64, nk), make([]float64, nk), make([]float64, nk), make([]float64, nk)
	s.w, s.kw = make([]float64, rows), make([]float64, rows)
	s.sharp = make([]float64, cfg.Latent())
	return s, s.setRows(rows)
}

// setRows gives the first n rows weight 1/n and the rest 0 in every graph.
func (s *split) setRows(n int) error {
	for b := range s.w {
		s.w[b] = 0
		if b < n {
			s.w[b] = 1 / float64(n)
		}
	}
	if err := s.encBwd.SetRows(n); err != nil {
		return err
	}
	if s.decMean != nil {
		if err := s.decMean.SetRows(n); err != nil {
			return err
		}
	}
	if s.name == exact {
		return nil // estimateExact weights every code by its probability
	}
	return s.dec.SetRows(n)
}

// estimate draws one estimate for the pixels x (the forward encoder's X).
func (s *split) estimate(x *tensor.Dense, rows int, tau float64, rng *rand.Rand) error {
	if !(tau > 0) {
		return fmt.Errorf("estimator: temperature %v is not positive", tau)
	}
	copyDense(s.encBwd.X, x)
	if err := s.encFwd.Run(); err != nil {
		return err
	}
	s.logits = s.encFwd.LogitsInto(s.logits)
	logits := s.logits
	s.kl = s.encFwd.KL()
	k := s.cfg.K
	model.SoftmaxGroups(s.mu, logits, k, 1)
	norm := 1.0
	if s.name == exact {
		if err := s.estimateExact(x, rows); err != nil {
			return err
		}
	} else {
		var err error
		if norm, err = s.estimateSampled(x, logits, rows, tau, rng); err != nil {
			return err
		}
	}
	// Variance normalisation divides the whole gradient of the inference
	// network, its KL part too, as Mnih & Gregor divide the whole learning
	// signal: dividing the reconstruction part alone would weight the KL
	// up by the same factor and pull q towards the prior.
	for b, w := range s.w {
		s.kw[b] = w / norm
	}
	setDense(s.encBwd.Weights(), s.kw)
	setDense(s.encBwd.LogitGrad, s.g)
	if err := s.encBwd.Run(); err != nil {
		return err
	}
	if norm != 1 && s.cfg.Learned() {
		// The prior belongs to the generative model, whose gradients are
		// not normalised: undo the division for its logits.
		g := s.encBwd.Grads()
		scaleDense(g[len(g)-1], norm)
	}
	return nil
}

// scaleDense multiplies a float32 or float64 tensor by c in place.
func scaleDense(d *tensor.Dense, c float64) {
	switch v := d.Data().(type) {
	case []float32:
		for i := range v {
			v[i] *= float32(c)
		}
	case []float64:
		for i := range v {
			v[i] *= c
		}
	}
}

// estimateSampled fills s.g, s.rec and the decoder's gradients from one
// sample z of q for every row. It returns the variance normaliser of the
// score-function estimators (1 for the others, or without
// Options.Normalize).
func (s *split) estimateSampled(x *tensor.Dense, logits []float64, rows int, tau float64, rng *rand.Rand) (float64, error) {
	k, nk := s.cfg.K, s.cfg.Latent()
	model.SampleGumbel(s.noise, rng)
	for i := range s.z {
		s.z[i] = logits[i] + s.noise[i]
	}
	model.OneHotGroups(s.z, k)
	copyDense(s.dec.X, x)
	setDense(s.dec.Z, s.z)
	if err := s.dec.Run(); err != nil {
		return 0, err
	}
	s.rec = s.dec.Rec()
	s.d = s.dec.ZGradInto(s.d)
	d := s.d // w_b df_b/dz

	var base, fMean, dMean []float64 // nvil's b(x); muprop's f(mu) and w_b df/dz at mu
	switch s.name {
	case NVIL:
		copyDense(s.baseFwd.X, x)
		if err := s.baseFwd.Run(); err != nil {
			return 0, err
		}
		base = s.baseFwd.Out()
	case MuProp:
		copyDense(s.decMean.X, x)
		setDense(s.decMean.Z, s.mu)
		if err := s.decMean.Run(); err != nil {
			return 0, err
		}
		s.dMean = s.decMean.ZGradInto(s.dMean)
		fMean, dMean = s.decMean.Rec(), s.dMean
	}

	norm := 1.0
	if s.opt.Normalize {
		norm = math.Max(1, math.Sqrt(s.stats.Var))
	}
	clear(s.g)
	signal := make([]float64, rows) // the learning signal before centring
	scored := false
	for b := 0; b < rows; b++ {
		i, j, w := b*nk, (b+1)*nk, s.w[b]
		r := row{k: k, tau: tau, logits: logits[i:j], z: s.z[i:j], mu: s.mu[i:j], f: s.rec[b], d: unweight(d[i:j], w), scratch: s.sharp}
		if base != nil {
			r.base = base[b]
		}
		if fMean != nil {
			r.fMean, r.dMean = fMean[b], unweight(dMean[i:j], w)
		}
		gb := s.g[i:j]
		signal[b], scored = logitGrad(s.name, r, s.stats.Mean, norm, gb)
		for i := range gb {
			gb[i] *= w
		}
	}
	if s.name == NVIL {
		// The baseline regresses f - c: d/db of 1/2 sum_b w_b (f_b - c - b_b)^2.
		og := make([]float64, len(s.w))
		for b := 0; b < rows; b++ {
			og[b] = -s.w[b] * (signal[b] - s.stats.Mean)
		}
		copyDense(s.baseBwd.X, x)
		setDense(s.baseBwd.OutGrad, og)
		if err := s.baseBwd.Run(); err != nil {
			return 0, err
		}
	}
	if !scored {
		return 1, nil
	}
	s.stats = s.stats.update(signal[:rows])
	return norm, nil
}

// unweight divides v, a row of the decoder's gradient (which carries the
// row weight w), by w in place and returns it.
func unweight(v []float64, w float64) []float64 {
	for i := range v {
		v[i] /= w
	}
	return v
}

// straightThrough writes into g the gradient back-propagated to the logits
// through probs = softmax(logits/tau), given d = dL/dprobs, for one row of
// groups of k: g_j = probs_j (d_j - <probs, d>) / tau per group. The
// straight-through estimators apply it with d taken at a one-hot sample.
func straightThrough(g, probs, d []float64, k int, tau float64) {
	model.SoftmaxGroupsGrad(g, probs, d, k, tau)
}

// addScore adds coef * (z - mu) to g: coef times the gradient of log q(z)
// with respect to the logits of one row, for the one-hot z and mu =
// softmax(logits) per group.
func addScore(g, z, mu []float64, coef float64) {
	for i := range g {
		g[i] += coef * (z[i] - mu[i])
	}
}

// darnSignal returns f'(z).(z - zbar) for one row, zbar = 1/K in every
// coordinate (see the package documentation).
func darnSignal(d, z []float64, k int) float64 {
	var s float64
	for i := range d {
		s += d[i] * (z[i] - 1/float64(k))
	}
	return s
}

// dot returns sum_i a_i (z_i - mu_i).
func dot(a, z, mu []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * (z[i] - mu[i])
	}
	return s
}

// update returns the moving averages after one batch of learning signals:
// the variance is that of the signal centred by the old mean.
func (st Stats) update(signal []float64) Stats {
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

// grads assembles the gradients in the order of Params.Tensors.
func (s *split) grads() []*tensor.Dense {
	enc := s.encBwd.Grads()
	nEnc := len(enc)
	if s.cfg.Learned() {
		nEnc-- // the prior's gradient comes last
	}
	s.out = append(s.out[:0], enc[:nEnc]...)
	s.out = append(s.out, s.dec.Grads()...)
	s.out = append(s.out, enc[nEnc:]...)
	if s.baseBwd != nil {
		s.out = append(s.out, s.baseBwd.Grads()...)
	}
	return s.out
}

// copyDense copies src into dst, two tensors of one dtype and size.
func copyDense(dst, src *tensor.Dense) {
	switch d := dst.Data().(type) {
	case []float32:
		copy(d, src.Float32s())
	case []float64:
		copy(d, src.Float64s())
	}
}

// setDense writes v into a float32 or float64 tensor of the same size.
func setDense(dst *tensor.Dense, v []float64) {
	switch d := dst.Data().(type) {
	case []float32:
		for i, x := range v {
			d[i] = float32(x)
		}
	case []float64:
		copy(d, v)
	}
}
