package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
	"gsvae/internal/op"
	"gsvae/model"
)

// The estimators, by the names the command line uses.
const (
	GS         = "gs"
	STGS       = "st-gs"
	ST         = "st"
	AnnealedST = "annealed-st"
	SF         = "sf"
	NVIL       = "nvil"
	MuProp     = "muprop"
	DARN       = "darn"
)

// Names lists every estimator, the relaxations first.
var Names = []string{GS, STGS, ST, AnnealedST, SF, NVIL, MuProp, DARN}

// Tempered reports whether the estimator depends on the temperature.
func Tempered(name string) bool { return name == GS || name == STGS || name == AnnealedST }

// Scored reports whether the estimator gives the stochastic layers a
// score-function gradient with a moving-average baseline (and so keeps
// Stats, and is variance-normalised in training).
func Scored(name string) bool { return name == SF || name == NVIL || name == MuProp || name == DARN }

// Check returns an error listing the allowed names unless name is one.
func Check(name string) error {
	if slices.Contains(Names, name) {
		return nil
	}
	return fmt.Errorf("unknown estimator %q: want one of %s", name, strings.Join(Names, ", "))
}

// BaselineWidth is the hidden width of NVIL's baseline network b(x), as in
// Mnih & Gregor (2014, 100 units; ReLU here).
const BaselineWidth = 100

// Options configures an Estimator.
type Options struct {
	// Batch is the number of rows of X.
	Batch int
	// RelaxedKL and PriorTau select the relaxed single-sample KL of
	// gumbel.RelaxedKL; only gs and st-gs, whose decoder sees relaxed
	// samples, accept it.
	RelaxedKL bool
	PriorTau  float64
	// Normalize divides the score-function estimators' gradients for each
	// stochastic layer's logits by the running standard deviation of the
	// layer's learning signal, when above 1, and starts the running
	// averages from the first estimate's own batch; see the package
	// documentation.
	Normalize bool
}

// Estimator draws gradient estimates of one estimator for a network: a
// gorgonia graph that runs the network forward with the estimator's rule
// at each stochastic layer and back-propagates, once per estimate. Fill X,
// call SetRows if fewer rows hold data, then Estimate; Loss, Rec, KL and
// Grads describe the last estimate.
type Estimator struct {
	name string
	cfg  model.Config
	opt  Options
	net  *model.Net
	vm   G.VM

	// X holds the (B, Input) binary images of the batch.
	X *tensor.Dense
	// in and target are what the network reads and predicts: X itself for
	// the VAE, X's upper and lower halves for the SBN.
	in, target *tensor.Dense
	noise      []*tensor.Dense // (B, N*K) Gumbel noise per stochastic layer
	w          *tensor.Dense   // (B) row weights: 1/n for the n real rows, 0 for padding

	tau                 *G.Node
	c, scale            []*G.Node // per stochastic layer: the baseline c and 1/norm
	pass                *model.Pass
	elbo                *G.Node   // sum_b w_b (rec_b + KL_b)
	base                *G.Node   // nvil: b(x), (B, 1)
	fbar                *G.Node   // muprop: f at the mean-field points
	points              []*G.Node // muprop: the mean-field point of each layer
	grads               G.Nodes
	nGrads              int // how many of Params' tensors have a gradient
	stats               []Stats
	rows                int
	enum                *enumeration // NewExact's replicated inputs
	rec, base64, fbar64 []float64
}

// New returns the estimator called name for the network cfg with weights
// p (shared, not copied). nvil needs cfg.Baseline > 0; the others ignore
// the baseline network.
func New(name string, cfg model.Config, p *model.Params, opt Options) (*Estimator, error) {
	if err := Check(name); err != nil {
		return nil, err
	}
	if opt.RelaxedKL && name != GS && name != STGS {
		return nil, fmt.Errorf("estimator %s: the relaxed KL needs relaxed samples (gs or st-gs)", name)
	}
	if opt.RelaxedKL && (cfg.SBN() || cfg.Learned()) {
		return nil, fmt.Errorf("estimator %s: the relaxed KL is the VAE's, with the uniform prior", name)
	}
	if name == NVIL && cfg.Baseline == 0 {
		return nil, fmt.Errorf("estimator %s: the model has no baseline network", name)
	}
	e, err := newEstimator(name, cfg, p, opt)
	if err != nil {
		return nil, err
	}
	if err := e.build(); err != nil {
		return nil, fmt.Errorf("estimator %s: build graph: %w", name, err)
	}
	e.vm = G.NewTapeMachine(e.net.Graph())
	return e, nil
}

// newEstimator allocates the inputs of the graph of the estimator called
// name: the network's parameter nodes, the images, the noise and the
// scalars.
func newEstimator(name string, cfg model.Config, p *model.Params, opt Options) (*Estimator, error) {
	if opt.Batch < 1 {
		return nil, fmt.Errorf("estimator: batch size %d is not positive", opt.Batch)
	}
	if opt.RelaxedKL && !(opt.PriorTau > 0) {
		return nil, fmt.Errorf("estimator: prior temperature %v is not positive", opt.PriorTau)
	}
	net, err := model.NewNet(G.NewGraph(), cfg, p)
	if err != nil {
		return nil, err
	}
	dt := net.Dtype()
	e := &Estimator{name: name, cfg: cfg, opt: opt, net: net, rows: opt.Batch}
	e.X = tensor.New(tensor.WithShape(opt.Batch, cfg.Input), tensor.Of(dt))
	e.in, e.target = e.X, e.X
	if cfg.SBN() {
		e.in = tensor.New(tensor.WithShape(opt.Batch, cfg.In()), tensor.Of(dt))
		e.target = tensor.New(tensor.WithShape(opt.Batch, cfg.Out()), tensor.Of(dt))
	}
	g := net.Graph()
	e.tau = G.NewScalar(g, dt, G.WithName("tau"))
	for i := range cfg.Layers() {
		e.noise = append(e.noise, tensor.New(tensor.WithShape(opt.Batch, cfg.Latent()), tensor.Of(dt)))
		e.stats = append(e.stats, NewStats())
		if Scored(name) {
			e.c = append(e.c, G.NewScalar(g, dt, G.WithName(fmt.Sprintf("c%d", i))))
			if opt.Normalize {
				e.scale = append(e.scale, G.NewScalar(g, dt, G.WithName(fmt.Sprintf("1/norm%d", i))))
			}
		}
	}
	e.w = tensor.New(tensor.WithShape(opt.Batch), tensor.Of(dt))
	if err := e.SetRows(opt.Batch); err != nil {
		return nil, err
	}
	return e, e.setScalars(1)
}

// build composes the estimator's graph: the network's forward pass with the
// estimator's rule at every stochastic layer (coder), the negative ELBO,
// the estimator's surrogate terms, and the gradients of their sum.
func (e *Estimator) build() error {
	g, k := e.net.Graph(), e.cfg.K
	in := G.NewMatrix(g, e.net.Dtype(), G.WithName("x"), G.WithValue(e.in))
	target := in
	if e.cfg.SBN() {
		target = G.NewMatrix(g, e.net.Dtype(), G.WithName("x-lower"), G.WithValue(e.target))
	}
	w := G.NewVector(g, e.net.Dtype(), G.WithName("row-weight"), G.WithValue(e.w))
	noise := make(G.Nodes, len(e.noise))
	for i, n := range e.noise {
		noise[i] = G.NewMatrix(g, e.net.Dtype(), G.WithName(fmt.Sprintf("gumbel%d", i)), G.WithValue(n))
	}
	code, flow := e.coder(noise, w)
	if e.opt.RelaxedKL {
		flow.KL = func(l *G.Node) (*G.Node, error) {
			return gumbel.RelaxedKL(l, noise[0], e.tau, k, e.opt.PriorTau)
		}
	}
	var err error
	if e.pass, err = e.net.Forward(in, target, code, flow); err != nil {
		return err
	}
	terms := G.Nodes{e.pass.Rec}
	if e.pass.KL != nil {
		terms = append(terms, e.pass.KL)
	}
	if e.elbo, err = model.WeightedSum(w, terms...); err != nil {
		return err
	}
	total := e.elbo
	add := func(term *G.Node, err error) error {
		if err != nil {
			return err
		}
		total, err = G.Add(total, term)
		return err
	}
	switch e.name {
	case NVIL:
		if e.base, err = e.net.Baseline(in); err != nil {
			return err
		}
		if err := add(baselineFit(e.base, e.pass.Rec, e.c[0], w)); err != nil {
			return err
		}
	case MuProp:
		if err := e.buildMeanField(target, w); err != nil {
			return err
		}
		if err := add(model.WeightedSum(w, e.fbar)); err != nil {
			return err
		}
		e.base = e.fbar
	}
	if e.name == SF || e.name == NVIL || e.name == MuProp {
		for i := range e.cfg.Layers() {
			if err := add(score(e.pass.Logits[i], e.pass.Codes[i], e.pass.Rec, w, e.c[i], e.base, k)); err != nil {
				return err
			}
		}
	}
	var wrt G.Nodes
	for i, n := range e.net.Params() {
		if e.cfg.Part(i) != model.PartBaseline || e.name == NVIL {
			wrt = append(wrt, n)
		}
	}
	e.nGrads = len(wrt)
	e.grads, err = G.Grad(total, wrt...)
	return err
}

// coder returns how the estimator treats each stochastic layer, and where
// the forward pass lets gradients through.
func (e *Estimator) coder(noise G.Nodes, w *G.Node) (model.Coder, model.Options) {
	k := e.cfg.K
	pathwise := model.Options{CodeGrad: true, LinkGrad: true}
	straight := func(soft func(i int, l *G.Node) (*G.Node, error)) model.Coder {
		return func(i int, l *G.Node) (*G.Node, error) {
			y, err := soft(i, l)
			if err != nil {
				return nil, err
			}
			z, err := gumbel.GumbelMax(l, noise[i], k)
			if err != nil {
				return nil, err
			}
			return gumbel.StraightThrough(y, z)
		}
	}
	switch e.name {
	case GS:
		return func(i int, l *G.Node) (*G.Node, error) {
			return gumbel.GumbelSoftmax(l, noise[i], e.tau, k)
		}, pathwise
	case STGS:
		return straight(func(i int, l *G.Node) (*G.Node, error) { return gumbel.GumbelSoftmax(l, noise[i], e.tau, k) }), pathwise
	case ST:
		return straight(func(_ int, l *G.Node) (*G.Node, error) { return gumbel.Softmax(l, k, nil) }), pathwise
	case AnnealedST:
		return straight(func(_ int, l *G.Node) (*G.Node, error) { return gumbel.Softmax(l, k, e.tau) }), pathwise
	case DARN:
		var prev *G.Node // the code of the layer below
		return func(i int, l *G.Node) (*G.Node, error) {
			var st *G.Node
			if i > 0 {
				var err error
				if st, err = e.net.Logits(i, prev, true); err != nil {
					return nil, err
				}
			}
			z, err := darn(l, noise[i], w, e.c[i], st, k)
			prev = z
			return z, err
		}, model.Options{CodeGrad: true, GradScale: e.scale}
	}
	// sf, nvil, muprop: the sample passes no gradient; score terms give
	// the logits theirs.
	return func(i int, l *G.Node) (*G.Node, error) {
		return gumbel.GumbelMax(l, noise[i], k)
	}, model.Options{GradScale: e.scale}
}

// buildMeanField adds MuProp's mean-field pass (Gu et al. 2016): a copy of
// the network with frozen weights that reads, at every stochastic layer,
// the layer's mean-field point in place of its sample (see meanField),
// and its loss f(mubar) against target.
func (e *Estimator) buildMeanField(target, w *G.Node) error {
	var point *G.Node
	for i := range e.cfg.Layers() {
		var mubar *G.Node
		if i > 0 {
			lbar, err := e.net.Logits(i, point, true)
			if err != nil {
				return err
			}
			if mubar, err = gumbel.Softmax(lbar, e.cfg.K, nil); err != nil {
				return err
			}
		}
		var err error
		if point, err = meanField(mubar, e.pass.Logits[i], e.pass.Codes[i], e.cfg.K); err != nil {
			return err
		}
		e.points = append(e.points, point)
	}
	var err error
	e.fbar, err = e.net.NegLogLik(point, target, true, true)
	return err
}

// Name returns the estimator's name.
func (e *Estimator) Name() string { return e.name }

// SetRows declares that only the first n rows of X hold data: the loss and
// gradients are means over those rows (row weights 1/n, and 0 for the
// rest).
func (e *Estimator) SetRows(n int) error {
	if n < 1 || n > e.opt.Batch {
		return fmt.Errorf("estimator: %d rows in a batch of %d", n, e.opt.Batch)
	}
	e.rows = n
	switch w := e.w.Data().(type) {
	case []float32:
		for i := range w {
			w[i] = 0
			if i < n {
				w[i] = 1 / float32(n)
			}
		}
	case []float64:
		for i := range w {
			w[i] = 0
			if i < n {
				w[i] = 1 / float64(n)
			}
		}
	}
	return nil
}

// Estimate draws one gradient estimate at temperature tau (which only the
// tempered estimators read, but must be positive), with its Gumbel noise
// from rng.
func (e *Estimator) Estimate(tau float64, rng *rand.Rand) error {
	if !(tau > 0) {
		return fmt.Errorf("estimator: temperature %v is not positive", tau)
	}
	if e.cfg.SBN() {
		switch x := e.X.Data().(type) {
		case []float32:
			model.Split(e.cfg, x, e.in.Float32s(), e.target.Float32s(), e.opt.Batch)
		case []float64:
			model.Split(e.cfg, x, e.in.Float64s(), e.target.Float64s(), e.opt.Batch)
		}
	}
	if e.enum != nil {
		e.enum.fill(e.target)
	}
	for _, n := range e.noise {
		switch d := n.Data().(type) {
		case []float32:
			gumbel.Sample(d, rng)
		case []float64:
			gumbel.Sample(d, rng)
		}
	}
	if e.unprimed() {
		// The first estimate in training: a first pass for the learning
		// signals, the averages started from them (see primed), and the
		// estimate again with the same noise.
		if err := e.run(tau); err != nil {
			return err
		}
		for i := range e.stats {
			e.stats[i] = primed(e.signals(i))
		}
	}
	if err := e.run(tau); err != nil {
		return err
	}
	if Scored(e.name) {
		e.updateStats()
	}
	return nil
}

// run sets the graph's scalars (tau, and each layer's c and 1/norm from
// the moving averages) and runs it once, forward and backward, with the
// noise already drawn.
func (e *Estimator) run(tau float64) error {
	if err := e.setScalars(tau); err != nil {
		return err
	}
	err := e.vm.RunAll()
	e.vm.Reset()
	return err
}

// unprimed reports whether the moving averages are still the starting
// ones (NewStats) at every layer of a score-function estimator that
// normalises: in training, before its first estimate (a run resumed from
// a checkpoint restores its averages, and is past it).
func (e *Estimator) unprimed() bool {
	if !Scored(e.name) || !e.opt.Normalize {
		return false
	}
	for _, st := range e.stats {
		if st != NewStats() {
			return false
		}
	}
	return true
}

// setScalars sets the temperature and, for the score-function estimators,
// each layer's baseline c and gradient scale 1/norm from the moving
// averages.
func (e *Estimator) setScalars(tau float64) error {
	let := func(n *G.Node, v float64) error {
		if e.net.Dtype() == tensor.Float32 {
			return G.Let(n, float32(v))
		}
		return G.Let(n, v)
	}
	if err := let(e.tau, tau); err != nil {
		return err
	}
	for i, c := range e.c {
		if err := let(c, e.stats[i].Mean); err != nil {
			return err
		}
	}
	for i, s := range e.scale {
		if err := let(s, 1/math.Max(1, math.Sqrt(e.stats[i].Var))); err != nil {
			return err
		}
	}
	return nil
}

// updateStats moves each layer's averages with the learning signals of the
// real rows of the last estimate (see signals).
func (e *Estimator) updateStats() {
	for i := range e.stats {
		e.stats[i] = e.stats[i].update(e.signals(i))
	}
}

// signals returns the learning signal of stochastic layer i for each real
// row of the last estimate, before centring by c:
//
//	sf      f
//	nvil    f - b(x)
//	muprop  f - f(mubar) - f'(mubar) . (z_i - mubar_i)
//	darn    f'(z_i) . (z_i - zbar), the sum of the per-variable signals
//
// The derivatives come from the graph's backward pass, which carries the
// row weight w = 1/n: they are multiplied by n.
func (e *Estimator) signals(i int) []float64 {
	n := e.rows
	e.rec = op.Float64s(e.rec, e.pass.Rec.Value())
	s := append([]float64(nil), e.rec[:n]...)
	switch e.name {
	case NVIL:
		e.base64 = op.Float64s(e.base64, e.base.Value())
		for b := range s {
			s[b] -= e.base64[b]
		}
	case MuProp:
		e.fbar64 = op.Float64s(e.fbar64, e.fbar.Value())
		taylor := rowDots(e.points[i].Deriv().Value(), e.pass.Codes[i].Value(), e.points[i].Value(), 0, n)
		for b := range s {
			s[b] -= e.fbar64[b] + float64(n)*taylor[b]
		}
	case DARN:
		d := rowDots(e.pass.Codes[i].Deriv().Value(), e.pass.Codes[i].Value(), nil, 1/float64(e.cfg.K), n)
		for b := range s {
			s[b] = float64(n) * d[b]
		}
	}
	return s
}

// rowDots returns, for each of the first n rows, d . (z - m) with m the
// row of mean, or the constant zbar when mean is nil.
func rowDots(d, z, mean G.Value, zbar float64, n int) []float64 {
	dv, zv := op.Float64s(nil, d), op.Float64s(nil, z)
	var mv []float64
	if mean != nil {
		mv = op.Float64s(nil, mean)
	}
	cols := len(zv) / z.Shape()[0]
	out := make([]float64, n)
	for b := range n {
		for j := b * cols; j < (b+1)*cols; j++ {
			m := zbar
			if mv != nil {
				m = mv[j]
			}
			out[b] += dv[j] * (zv[j] - m)
		}
	}
	return out
}

// Loss returns the negative ELBO of the last estimate averaged over the
// real rows: f at the code the decoder saw (relaxed for gs) plus the KL.
func (e *Estimator) Loss() float64 {
	v, err := op.Scalar(e.elbo.Value())
	if err != nil {
		return math.NaN()
	}
	return v
}

// Rec returns f = -log p(target|z) of every row of the last estimate.
func (e *Estimator) Rec() []float64 { return op.Float64s(nil, e.pass.Rec.Value()) }

// KL returns the KL term of every row of the last estimate (zeros for the
// SBN, which has none).
func (e *Estimator) KL() []float64 {
	if e.pass.KL == nil {
		return make([]float64, e.opt.Batch)
	}
	return op.Float64s(nil, e.pass.KL.Value())
}

// Grads returns the gradient estimate for every parameter the estimator
// trains, in the order of Params.Tensors: every tensor but the baseline
// network's, whose come last and only for nvil. The tensors belong to the
// estimator and change with the next Estimate.
func (e *Estimator) Grads() []*tensor.Dense {
	out := make([]*tensor.Dense, len(e.grads))
	for i, n := range e.grads {
		out[i] = n.Value().(*tensor.Dense)
	}
	return out
}

// Stats returns the moving averages of every stochastic layer (zero Mean
// and unit Var for the estimators that keep none).
func (e *Estimator) Stats() []Stats { return slices.Clone(e.stats) }

// SetStats restores moving averages saved from Stats.
func (e *Estimator) SetStats(s []Stats) error {
	if len(s) != len(e.stats) {
		return fmt.Errorf("estimator: %d layers of moving averages for %d stochastic layers", len(s), len(e.stats))
	}
	for _, st := range s {
		if err := st.check(); err != nil {
			return err
		}
	}
	copy(e.stats, s)
	return nil
}
