package estimator

import (
	"math"
	"strings"

	"gsvae/gumbel"
	"gsvae/model"
)

// This file holds the tests' oracle: a plain-Go, float64, one-row-at-a-time
// copy of the networks of package model and of every estimator's gradient,
// written from the package documentation and model's (no graph, no batch
// ops, no gorgonia). Its gradients are flat vectors in the order of
// Params.Tensors (the baseline network's tensors last), like flatGrads.

// refLayer is one affine map y = act(x W^T + b) of a network.
type refLayer struct {
	w, b    []float64 // (out, in) row-major and (out)
	in, out int
	off     int // offset of w in a flat gradient; b follows at off+out*in
	relu    bool
}

// refNet is a plain-Go copy of a model.
type refNet struct {
	cfg      model.Config
	enc      []refLayer // VAE: the encoder; SBN: h1
	h2       []refLayer // SBN: h2
	dec      []refLayer // VAE: the decoder; SBN: xl
	base     []refLayer // NVIL's b(x)
	prior    []float64  // a learned prior's logits in the categorical view, else nil
	priorOff int        // offset of prior.logits in a flat gradient
	size     int        // the number of parameters, baseline included
	nModel   int        // the number of parameters without the baseline network
}

// newRef copies the float64 weights of p (cfg) into a refNet. The copy
// does not follow later changes of p.
func newRef(cfg model.Config, p *model.Params) *refNet {
	r := &refNet{cfg: cfg}
	offs := map[string]int{}
	for i, t := range p.Tensors {
		offs[p.Names[i]] = r.size
		r.size += t.Len()
		if cfg.Part(i) != model.PartBaseline {
			r.nModel = r.size
		}
	}
	get := func(name string) []float64 {
		return append([]float64(nil), p.Tensors[p.Index(name)].Float64s()...)
	}
	chain := func(names ...string) []refLayer {
		var ls []refLayer
		for i, n := range names {
			t := p.Tensors[p.Index(n+".w")]
			s := t.Shape()
			ls = append(ls, refLayer{w: get(n + ".w"), b: get(n + ".b"), out: s[0], in: s[1], off: offs[n+".w"], relu: i+1 < len(names)})
		}
		return ls
	}
	var enc, dec []string
	for _, n := range p.Names {
		switch {
		case strings.HasPrefix(n, "enc") && strings.HasSuffix(n, ".w"):
			enc = append(enc, strings.TrimSuffix(n, ".w"))
		case strings.HasPrefix(n, "dec") && strings.HasSuffix(n, ".w"):
			dec = append(dec, strings.TrimSuffix(n, ".w"))
		}
	}
	if cfg.SBN() {
		r.enc, r.h2, r.dec = chain("h1"), chain("h2"), chain("xl")
	} else {
		r.enc, r.dec = chain(enc...), chain(dec...)
	}
	if cfg.Baseline > 0 {
		r.base = chain("base0", "base1")
	}
	if i := p.Index("prior.logits"); i >= 0 {
		r.priorOff = offs["prior.logits"]
		r.prior = widen(cfg, get("prior.logits"))
	}
	return r
}

// forward runs the layers on x and returns every activation: acts[0] = x,
// acts[i+1] the output of layer i.
func forward(ls []refLayer, x []float64) [][]float64 {
	acts := [][]float64{x}
	for _, l := range ls {
		y := make([]float64, l.out)
		for j := range y {
			s := l.b[j]
			for i, v := range x {
				s += l.w[j*l.in+i] * v
			}
			if l.relu && s < 0 {
				s = 0
			}
			y[j] = s
		}
		acts = append(acts, y)
		x = y
	}
	return acts
}

// backward back-propagates dout (the gradient for the last activation)
// through the layers, adds s times the weight gradients into grad unless
// grad is nil (a frozen copy), and returns the gradient for the input.
func backward(ls []refLayer, acts [][]float64, dout []float64, grad []float64, s float64) []float64 {
	d := append([]float64(nil), dout...)
	for li := len(ls) - 1; li >= 0; li-- {
		l, x, y := ls[li], acts[li], acts[li+1]
		if l.relu {
			for j := range d {
				if y[j] <= 0 {
					d[j] = 0
				}
			}
		}
		dx := make([]float64, l.in)
		for j, dj := range d {
			if grad != nil {
				for i, v := range x {
					grad[l.off+j*l.in+i] += s * dj * v
				}
				grad[l.off+l.out*l.in+j] += s * dj
			}
			for i := range dx {
				dx[i] += l.w[j*l.in+i] * dj
			}
		}
		d = dx
	}
	return d
}

// widen maps a network's output into the categorical view: (l, 0) pairs
// for Bernoulli latents, unchanged otherwise. narrow is its transpose:
// the first entry of each pair.
func widen(cfg model.Config, v []float64) []float64 {
	if !cfg.Bernoulli() {
		return v
	}
	out := make([]float64, 2*len(v))
	for i, x := range v {
		out[2*i] = x
	}
	return out
}

func narrow(cfg model.Config, v []float64) []float64 {
	if !cfg.Bernoulli() {
		return v
	}
	out := make([]float64, len(v)/2)
	for i := range out {
		out[i] = v[2*i]
	}
	return out
}

// logits returns stochastic layer i's logits (categorical view) from its
// input (the image for layer 0, the previous code for the SBN's layer 1)
// and the function that back-propagates a gradient for them: it adds s
// times the weight gradients into grad (nil: frozen) and returns the
// gradient for the input (in the categorical view for a code).
func (r *refNet) logits(i int, in []float64) ([]float64, func(dl, grad []float64, s float64) []float64) {
	ls, x := r.enc, in
	if i == 1 {
		ls, x = r.h2, narrow(r.cfg, in)
	}
	acts := forward(ls, x)
	back := func(dl, grad []float64, s float64) []float64 {
		dx := backward(ls, acts, narrow(r.cfg, dl), grad, s)
		if i == 1 {
			return widen(r.cfg, dx)
		}
		return dx
	}
	return widen(r.cfg, acts[len(acts)-1]), back
}

// decode returns f = -log p(target | code) for a code in the categorical
// view, df/dcode, and the function that adds s times the decoder's weight
// gradients into grad.
func (r *refNet) decode(code, target []float64) (float64, []float64, func(grad []float64, s float64)) {
	acts := forward(r.dec, narrow(r.cfg, code))
	l := acts[len(acts)-1]
	var f float64
	dl := make([]float64, len(l))
	for i, v := range l {
		f += math.Max(v, 0) + math.Log1p(math.Exp(-math.Abs(v))) - target[i]*v
		dl[i] = 1/(1+math.Exp(-v)) - target[i]
	}
	dcode := widen(r.cfg, backward(r.dec, acts, dl, nil, 0))
	return f, dcode, func(grad []float64, s float64) { backward(r.dec, acts, dl, grad, s) }
}

// baseline returns NVIL's b(x) and the function that adds s times its
// weight gradients (for d b = 1) into grad.
func (r *refNet) baseline(in []float64) (float64, func(grad []float64, s float64)) {
	acts := forward(r.base, in)
	return acts[2][0], func(grad []float64, s float64) { backward(r.base, acts, []float64{1}, grad, s) }
}

// kl returns the analytic KL(q || p) of one row of logits, its gradient
// for the logits and for the prior's logits (categorical view).
func (r *refNet) kl(l []float64) (float64, []float64, []float64) {
	k := r.cfg.K
	q, logq := softmaxTau(l, k, 1), logSoftmax(l, k)
	logp := make([]float64, len(l))
	p := make([]float64, len(l))
	for j := range logp {
		logp[j], p[j] = -math.Log(float64(k)), 1/float64(k)
	}
	if r.prior != nil {
		logp, p = logSoftmax(r.prior, k), softmaxTau(r.prior, k, 1)
	}
	var total float64
	dl, dp := make([]float64, len(l)), make([]float64, len(l))
	for g := 0; g < len(l); g += k {
		var kl float64
		for j := g; j < g+k; j++ {
			kl += q[j] * (logq[j] - logp[j])
		}
		for j := g; j < g+k; j++ {
			dl[j] = q[j] * (logq[j] - logp[j] - kl)
			dp[j] = p[j] - q[j]
		}
		total += kl
	}
	return total, dl, dp
}

// softmaxTau returns softmax(v/tau) per group of k; logSoftmax log softmax(v).
func softmaxTau(v []float64, k int, tau float64) []float64 {
	out := make([]float64, len(v))
	for g := 0; g < len(v); g += k {
		m := math.Inf(-1)
		for _, x := range v[g : g+k] {
			m = math.Max(m, x/tau)
		}
		var s float64
		for j := g; j < g+k; j++ {
			out[j] = math.Exp(v[j]/tau - m)
			s += out[j]
		}
		for j := g; j < g+k; j++ {
			out[j] /= s
		}
	}
	return out
}

func logSoftmax(v []float64, k int) []float64 {
	out := make([]float64, len(v))
	for g := 0; g < len(v); g += k {
		m := math.Inf(-1)
		for _, x := range v[g : g+k] {
			m = math.Max(m, x)
		}
		var s float64
		for _, x := range v[g : g+k] {
			s += math.Exp(x - m)
		}
		for j := g; j < g+k; j++ {
			out[j] = v[j] - m - math.Log(s)
		}
	}
	return out
}

// softmaxBack returns J^T d for y = softmax(./tau) per group of k:
// y (d - <y, d>) / tau.
func softmaxBack(y, d []float64, k int, tau float64) []float64 {
	out := make([]float64, len(y))
	for g := 0; g < len(y); g += k {
		var dot float64
		for j := g; j < g+k; j++ {
			dot += y[j] * d[j]
		}
		for j := g; j < g+k; j++ {
			out[j] = y[j] * (d[j] - dot) / tau
		}
	}
	return out
}

// argmaxCode returns the one-hot Gumbel-max code of logits l with noise g
// (first index on ties).
func argmaxCode(l, g []float64, k int) []float64 {
	z := make([]float64, len(l))
	for s := 0; s < len(l); s += k {
		best := s
		for j := s + 1; j < s+k; j++ {
			if l[j]+g[j] > l[best]+g[best] {
				best = j
			}
		}
		z[best] = 1
	}
	return z
}

// dotSub returns a . (b - c), or a . (b - cc) with the constant cc in
// every coordinate when c is nil (a . b for cc = 0).
func dotSub(a, b []float64, c []float64, cc float64) float64 {
	var s float64
	for i := range a {
		m := cc
		if c != nil {
			m = c[i]
		}
		s += a[i] * (b[i] - m)
	}
	return s
}

// scoreVec returns coef (z - mu).
func scoreVec(z, mu []float64, coef float64) []float64 {
	out := make([]float64, len(z))
	for i := range z {
		out[i] = coef * (z[i] - mu[i])
	}
	return out
}

func addTo(dst []float64, vs ...[]float64) []float64 {
	for _, v := range vs {
		for i := range v {
			dst[i] += v[i]
		}
	}
	return dst
}

func scaled(v []float64, s float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = s * x
	}
	return out
}

// refInput is one estimate's setting: what the estimator reads besides
// the weights.
type refInput struct {
	name      string
	x         []float64   // (B, Input) images
	w         []float64   // (B) row weights
	noise     [][]float64 // per stochastic layer, (B, N*K)
	tau       float64
	c, scale  []float64 // per stochastic layer: the baseline c and 1/norm (1 when not normalised)
	relaxedKL bool
	priorTau  float64
	// plant, when set, returns the learning signal of layer i, row b
	// to use in place of the correct one s (before centring by c): the
	// planted biases of the negative controls.
	plant func(i, b int, s float64) float64
}

// refOutput is the oracle's estimate.
type refOutput struct {
	grad    []float64   // flat, every tensor (baseline included)
	rec, kl []float64   // per row
	loss    float64     // sum_b w_b (rec_b + kl_b)
	signals [][]float64 // per stochastic layer, per row: the learning signal before centring
	codes   [][]float64 // per stochastic layer, (B, N*K): the one-hot samples
	score   []float64   // the part of grad that comes from the score terms (z - mu), for scored estimators
}

// estimate returns the named estimator's gradient for the batch of in,
// computed one row at a time. The VAE's per-row logit gradient comes from
// row.go's logitGrad fed with f and df/dz of the plain-Go decoder; the
// SBN's two-layer formulas are written out here from the package
// documentation.
func (r *refNet) estimate(in refInput) refOutput {
	cfg := r.cfg
	rows := len(in.w)
	out := refOutput{grad: make([]float64, r.size), score: make([]float64, r.size), rec: make([]float64, rows), kl: make([]float64, rows)}
	for range cfg.Layers() {
		out.signals = append(out.signals, make([]float64, rows))
		out.codes = append(out.codes, nil)
	}
	nIn, nOut := cfg.In(), cfg.Out()
	for b := range rows {
		img := in.x[b*cfg.Input : (b+1)*cfg.Input]
		xin, target := img[:nIn], img[cfg.Input-nOut:]
		noise := make([][]float64, cfg.Layers())
		for i := range noise {
			noise[i] = in.noise[i][b*cfg.Latent() : (b+1)*cfg.Latent()]
		}
		var g rowGrad
		if cfg.SBN() {
			g = r.sbnRow(in, b, xin, target, noise)
		} else {
			g = r.vaeRow(in, b, xin, target, noise)
		}
		out.rec[b], out.kl[b] = g.f, g.kl
		out.loss += in.w[b] * (g.f + g.kl)
		for i := range g.codes {
			out.codes[i] = append(out.codes[i], g.codes[i]...)
			out.signals[i][b] = g.signals[i]
		}
		addTo(out.grad, g.grad)
		addTo(out.score, g.score)
	}
	return out
}

// rowGrad is one row's share of an estimate (row weight included).
type rowGrad struct {
	grad, score []float64
	f, kl       float64
	signals     []float64
	codes       [][]float64
}

// sig returns the learning signal s of layer i, row b, changed by the
// plant if any.
func (in refInput) sig(i, b int, s float64) float64 {
	if in.plant == nil {
		return s
	}
	return in.plant(i, b, s)
}

// vaeRow computes one row of the VAE.
func (r *refNet) vaeRow(in refInput, b int, x, target []float64, noise [][]float64) rowGrad {
	cfg, k, w := r.cfg, r.cfg.K, in.w[b]
	out := rowGrad{grad: make([]float64, r.size), score: make([]float64, r.size), signals: make([]float64, 1)}
	l, backL := r.logits(0, x)
	g := noise[0]
	z := argmaxCode(l, g, k)
	mu := softmaxTau(l, k, 1)
	lg := make([]float64, len(l))
	for j := range lg {
		lg[j] = l[j] + g[j]
	}
	y := softmaxTau(lg, k, in.tau)
	at := z
	if in.name == GS {
		at = y
	}
	f, d, backDec := r.decode(at, target)
	backDec(out.grad, w)
	out.f, out.codes = f, [][]float64{z}
	rw := row{k: k, tau: in.tau, logits: l, z: z, mu: mu, y: y, f: f, d: d}
	var backBase func(grad []float64, s float64)
	if in.name == NVIL {
		rw.base, backBase = r.baseline(x)
	}
	if in.name == MuProp {
		rw.fMean, rw.dMean, _ = r.decode(mu, target)
	}
	gl := make([]float64, len(l))
	signal, scored := logitGrad(in.name, rw, in.c[0], gl)
	var dScore []float64
	if scored {
		out.signals[0] = signal
		dScore = scoreVec(z, mu, signal-in.c[0])
		if s := in.sig(0, b, signal); s != signal { // replace the score term by the planted one
			addTo(gl, scaled(dScore, -1))
			dScore = scoreVec(z, mu, s-in.c[0])
			addTo(gl, dScore)
		}
	}
	var dl []float64
	if in.relaxedKL {
		dl = make([]float64, len(l))
		for s := 0; s < len(l); s += k {
			out.kl += gumbel.RelaxedKLGroup(l[s:s+k], g[s:s+k], in.tau, in.priorTau, dl[s:s+k])
		}
	} else {
		var dp []float64
		out.kl, dl, dp = r.kl(l)
		if r.prior != nil {
			addTo(out.grad[r.priorOff:r.priorOff+cfg.Code()], scaled(narrow(cfg, dp), w))
		}
	}
	addTo(dl, gl)
	backL(scaled(dl, w*in.scale[0]), out.grad, 1)
	if dScore != nil {
		backL(scaled(dScore, w*in.scale[0]), out.score, 1)
	}
	if backBase != nil { // d/db 1/2 w (f - c - b)^2
		backBase(out.grad, -w*(f-in.c[0]-rw.base))
	}
	return out
}

// sbnRow computes one row of the SBN: x_upper -> h1 -> h2 -> x_lower.
func (r *refNet) sbnRow(in refInput, b int, x, target []float64, noise [][]float64) rowGrad {
	k, w, tau := r.cfg.K, in.w[b], in.tau
	out := rowGrad{grad: make([]float64, r.size), score: make([]float64, r.size), signals: make([]float64, 2)}
	type layer struct {
		l, z, mu, y, code []float64
		back              func(dl, grad []float64, s float64) []float64
	}
	var ls [2]layer
	prev := x
	for i := range ls {
		l, back := r.logits(i, prev)
		lg := make([]float64, len(l))
		for j := range lg {
			lg[j] = l[j] + noise[i][j]
		}
		L := layer{l: l, back: back, z: argmaxCode(l, noise[i], k), mu: softmaxTau(l, k, 1), y: softmaxTau(lg, k, tau)}
		L.code = L.z
		if in.name == GS {
			L.code = L.y
		}
		ls[i] = L
		prev = L.code
		out.codes = append(out.codes, L.z)
	}
	f, d2, backDec := r.decode(ls[1].code, target)
	backDec(out.grad, w)
	out.f = f
	// slope returns J^T d of the softmax whose gradient layer i's
	// straight-through (or relaxed) code takes.
	slope := func(i int, d []float64) []float64 {
		switch in.name {
		case GS, STGS:
			return softmaxBack(ls[i].y, d, k, tau)
		case ST:
			return softmaxBack(ls[i].mu, d, k, 1)
		}
		return softmaxBack(softmaxTau(ls[i].l, k, tau), d, k, tau) // annealed-st
	}
	switch in.name {
	case GS, STGS, ST, AnnealedST:
		dl2 := slope(1, d2)
		d1 := ls[1].back(scaled(dl2, w), out.grad, 1) // h2's weights, and on to h1's code
		ls[0].back(slope(0, d1), out.grad, 1)
		return out
	}
	var fbar float64
	var dy [2][]float64 // muprop: f'(mubar) at each layer's mean-field point
	var mubar [2][]float64
	var signal [2]float64
	var extra [2][]float64 // gradient for the logits besides the score term
	var darnD [2][]float64 // darn: f'(z_i), for each variable's own signal
	switch in.name {
	case SF, NVIL:
		signal = [2]float64{f, f}
		if in.name == NVIL {
			base, backBase := r.baseline(x)
			signal = [2]float64{f - base, f - base}
			backBase(out.grad, -w*(f-in.c[0]-base))
		}
	case MuProp:
		mubar[0] = ls[0].mu
		lbar, backBar := r.logits(1, mubar[0])
		mubar[1] = softmaxTau(lbar, k, 1)
		fbar, dy[1], _ = r.decode(mubar[1], target)
		dy[0] = backBar(softmaxBack(mubar[1], dy[1], k, 1), nil, 0) // frozen h2
		for i := range 2 {
			signal[i] = f - fbar - dotSub(dy[i], ls[i].z, mubar[i], 0)
			extra[i] = softmaxBack(ls[i].mu, dy[i], k, 1)
		}
	case DARN:
		zbar := 1 / float64(k)
		signal[1] = dotSub(d2, ls[1].z, nil, zbar)
		// d2 straight through softmax(l2) and a frozen h2 to h1's code.
		_, backST := r.logits(1, ls[0].z)
		d1 := backST(softmaxBack(ls[1].mu, d2, k, 1), nil, 0)
		signal[0] = dotSub(d1, ls[0].z, nil, zbar)
		darnD = [2][]float64{d1, d2}
	}
	for i := 1; i >= 0; i-- {
		out.signals[i] = signal[i]
		s := in.sig(i, b, signal[i])
		var dScore []float64
		if darnD[i] != nil { // each variable's own signal (row.go)
			dScore = make([]float64, len(ls[i].z))
			logitGrad(DARN, row{k: k, z: ls[i].z, mu: ls[i].mu, d: darnD[i]}, in.c[i], dScore)
		} else {
			dScore = scoreVec(ls[i].z, ls[i].mu, s-in.c[i])
		}
		dl := append([]float64(nil), dScore...)
		if extra[i] != nil {
			addTo(dl, extra[i])
		}
		ls[i].back(scaled(dl, w*in.scale[i]), out.grad, 1)
		ls[i].back(scaled(dScore, w*in.scale[i]), out.score, 1)
	}
	return out
}
