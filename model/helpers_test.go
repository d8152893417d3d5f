package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
)

// Tiny networks, small enough that a finite-difference check of every
// parameter takes a fraction of a second: 6 pixels and hidden layers 5-4
// for the VAE, 8 pixels (halves of 4) for the SBN.
var (
	tinyVAE          = Config{Task: TaskVAE, N: 2, K: 3, Hidden: []int{5, 4}, Input: 6}
	tinyBernoulli    = Config{Task: TaskVAE, N: 3, K: 2, Hidden: []int{5, 4}, Input: 6, Kind: LatentBernoulli}
	tinyLinear       = Config{N: 2, K: 3, Input: 6} // Hidden empty: 6-6-6, the paper's linear VAE in miniature
	tinySBN          = Config{Task: TaskSBN, N: 2, K: 3, Input: 8}
	tinySBNBernoulli = Config{Task: TaskSBN, N: 3, K: 2, Input: 8, Kind: LatentBernoulli}
)

// learned returns cfg with a learned prior.
func learned(cfg Config) Config {
	cfg.Prior = PriorLearned
	return cfg
}

// newTinyParams draws float64 weights of cfg from seed, and gives a
// learned prior random logits so that its KL and gradient are not at the
// symmetric point NewParams starts from.
func newTinyParams(t testing.TB, cfg Config, seed uint64) (*Params, *rand.Rand) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	p, err := NewParams(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	if i := p.Index("prior.logits"); i >= 0 {
		for j := range p.Tensors[i].Float64s() {
			p.Tensors[i].Float64s()[j] = rng.NormFloat64()
		}
	}
	return p, rng
}

// bits returns n random binary pixels.
func bits(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		if rng.Float64() < 0.5 {
			x[i] = 1
		}
	}
	return x
}

// normals returns n draws of scale * N(0, 1).
func normals(rng *rand.Rand, n int, scale float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = scale * rng.NormFloat64()
	}
	return x
}

// gumbels returns n standard Gumbel draws, -log(-log u), computed here
// rather than by gumbel.Sample so that the reference owes nothing to the
// code under test.
func gumbels(rng *rand.Rand, n int) []float64 {
	g := make([]float64, n)
	for i := range g {
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		g[i] = -math.Log(-math.Log(u))
	}
	return g
}

// dense wraps data in a tensor of the given shape.
func dense(data []float64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// to32 returns a float32 copy of x.
func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// values returns a float64 copy of a float32 or float64 tensor value.
func values(t testing.TB, v G.Value) []float64 {
	t.Helper()
	d, ok := v.(*tensor.Dense)
	if !ok {
		t.Fatalf("value %T is not a dense tensor", v)
	}
	switch d.Dtype() {
	case tensor.Float32:
		out := make([]float64, d.Len())
		for i, x := range d.Float32s() {
			out[i] = float64(x)
		}
		return out
	case tensor.Float64:
		return append([]float64(nil), d.Float64s()...)
	}
	t.Fatalf("dtype %v", d.Dtype())
	return nil
}

// scalar returns the value of a float32 or float64 scalar node.
func scalar(t testing.TB, n *G.Node) float64 {
	t.Helper()
	switch v := n.Value().(type) {
	case *G.F64:
		return float64(*v)
	case *G.F32:
		return float64(*v)
	}
	t.Fatalf("%v holds %T, not a scalar", n, n.Value())
	return 0
}

// machine runs a graph once per call of run (RunAll, then Reset, which a
// TapeMachine needs before the next RunAll).
type machine struct {
	vm G.VM
}

func newMachine(g *G.ExprGraph) *machine { return &machine{vm: G.NewTapeMachine(g)} }

func (m *machine) run(t testing.TB) {
	t.Helper()
	if err := m.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	m.vm.Reset()
}

// fdStep and fdTol are the central differences' step and tolerance in
// float64. The truncation error of (f(v+h) - f(v-h))/2h is f^(3) h^2/6,
// about 1e-12 for the O(1) third derivatives of these tiny networks; the
// rounding error is about eps |f| / h = 1.1e-16 * 10 / 1e-6 ~ 1e-9 for
// losses of ~10 nats. A tolerance of 1e-6 relative to max(1, |fd|) leaves
// three orders of magnitude above both, while a missing or wrong term of a
// gradient (O(0.01) to O(1)) is far outside it.
const fdStep, fdTol = 1e-6, 1e-6

// checkGrad compares grads[i][j], the claimed derivative of f with respect
// to vals[i][j], with scale[i] times the central difference (f(v+h) -
// f(v-h))/2h (scale nil means 1). It returns the number of mismatches and
// reports at most a few per tensor.
func checkGrad(t *testing.T, names []string, vals, grads [][]float64, scale []float64, f func() float64) int {
	t.Helper()
	if len(grads) != len(vals) {
		t.Fatalf("%d gradients for %d values", len(grads), len(vals))
	}
	bad := 0
	for vi, v := range vals {
		if len(grads[vi]) != len(v) {
			t.Fatalf("%s: %d gradients for %d values", names[vi], len(grads[vi]), len(v))
		}
		s := 1.0
		if scale != nil {
			s = scale[vi]
		}
		reported := 0
		for i := range v {
			orig := v[i]
			v[i] = orig + fdStep
			up := f()
			v[i] = orig - fdStep
			down := f()
			v[i] = orig
			want := s * (up - down) / (2 * fdStep)
			if got := grads[vi][i]; !(math.Abs(got-want) <= fdTol*math.Max(1, math.Abs(want))) {
				bad++
				if reported++; reported <= 3 {
					t.Errorf("%s[%d]: gradient %.10g, want %.10g (%g x finite difference)", names[vi], i, got, want, s)
				}
			}
		}
	}
	return bad
}

// near reports whether got is within tol of want, relative to max(1, |want|).
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// Coders for Forward: the relaxed Gumbel-Softmax sample and the one-hot
// Gumbel-max sample, with the noise nodes of a fixture.
const (
	coderSoft = "gumbel-softmax"
	coderHard = "gumbel-max"
)

// fixture is a Forward pass of a tiny float64 network on random binary
// images and Gumbel noise, with the loss WeightedSum(w, Rec, KL) and,
// when asked, its gradients.
type fixture struct {
	cfg    Config
	p      *Params
	rows   int
	images []float64   // (rows, Input) binary pixels
	noise  [][]float64 // per stochastic layer, (rows, N*K)
	w      []float64   // row weights
	tau    float64

	in, target *tensor.Dense // Split of images
	g          *G.ExprGraph
	net        *Net
	pass       *Pass
	wNode      *G.Node // the row weights
	loss       *G.Node // sum_b w_b (Rec_b + KL_b)
	m          *machine
}

// fixtureSpec says what to build.
type fixtureSpec struct {
	cfg   Config
	seed  uint64
	rows  int
	w     []float64 // nil: 1/rows each
	tau   float64
	coder string
	opt   Options
	scale []float64 // Options.GradScale's values, one per layer (nil: none)
}

// newFixture draws the parameters, images and noise of spec and builds the
// Forward pass and the loss.
func newFixture(t testing.TB, spec fixtureSpec) *fixture {
	t.Helper()
	cfg := spec.cfg
	p, rng := newTinyParams(t, cfg, spec.seed)
	f := &fixture{cfg: cfg, p: p, rows: spec.rows, tau: spec.tau, w: spec.w}
	f.images = bits(rng, spec.rows*cfg.Input)
	for range cfg.Layers() {
		f.noise = append(f.noise, gumbels(rng, spec.rows*cfg.Latent()))
	}
	if f.w == nil {
		for range spec.rows {
			f.w = append(f.w, 1/float64(spec.rows))
		}
	}
	f.in = tensor.New(tensor.WithShape(spec.rows, cfg.In()), tensor.Of(tensor.Float64))
	f.target = tensor.New(tensor.WithShape(spec.rows, cfg.Out()), tensor.Of(tensor.Float64))
	f.split()

	f.g = G.NewGraph()
	var err error
	if f.net, err = NewNet(f.g, cfg, p); err != nil {
		t.Fatal(err)
	}
	in := G.NewMatrix(f.g, tensor.Float64, G.WithName("x"), G.WithValue(f.in))
	target := G.NewMatrix(f.g, tensor.Float64, G.WithName("target"), G.WithValue(f.target))
	f.wNode = G.NewVector(f.g, tensor.Float64, G.WithName("w"), G.WithValue(dense(f.w, spec.rows)))
	tau := G.NewScalar(f.g, tensor.Float64, G.WithName("tau"), G.WithValue(spec.tau))
	noise := make(G.Nodes, len(f.noise))
	for i, n := range f.noise {
		noise[i] = G.NewMatrix(f.g, tensor.Float64, G.WithName(fmt.Sprintf("gumbel%d", i)), G.WithValue(dense(n, spec.rows, cfg.Latent())))
	}
	code := func(i int, l *G.Node) (*G.Node, error) {
		if spec.coder == coderHard {
			return gumbel.GumbelMax(l, noise[i], cfg.K)
		}
		return gumbel.GumbelSoftmax(l, noise[i], tau, cfg.K)
	}
	opt := spec.opt
	for i, s := range spec.scale {
		opt.GradScale = append(opt.GradScale, G.NewScalar(f.g, tensor.Float64, G.WithName(fmt.Sprintf("scale%d", i)), G.WithValue(s)))
	}
	if f.pass, err = f.net.Forward(in, target, code, opt); err != nil {
		t.Fatal(err)
	}
	terms := G.Nodes{f.pass.Rec}
	if f.pass.KL != nil {
		terms = append(terms, f.pass.KL)
	}
	if f.loss, err = WeightedSum(f.wNode, terms...); err != nil {
		t.Fatal(err)
	}
	return f
}

// split refills the input and target tensors from images in place.
func (f *fixture) split() {
	Split(f.cfg, f.images, f.in.Float64s(), f.target.Float64s(), f.rows)
}

// compile makes the machine; call it after adding every node.
func (f *fixture) compile() { f.m = newMachine(f.g) }

// run runs the graph and returns the loss.
func (f *fixture) run(t testing.TB) float64 {
	t.Helper()
	f.m.run(t)
	return scalar(t, f.loss)
}

// refPass is the reference computation of a forward pass, per row.
type refPass struct {
	logits, codes [][]float64 // per layer, (rows, N*K) in the categorical view
	pixel         []float64   // (rows, Out()) pixel logits
	rec, kl       []float64   // (rows); kl nil for the SBN
}

// reference recomputes a forward pass of f in plain Go from the weights,
// images and noise, following the equations of the package documentation
// (doc.go, Config.Bernoulli, Net.Forward): an independent check of the
// graph's wiring. hard takes the one-hot Gumbel-max sample in place of
// the relaxed one.
func reference(f *fixture, hard bool) refPass {
	cfg, p := f.cfg, f.p
	tensorOf := func(name string) []float64 {
		for i, n := range p.Names {
			if n == name {
				return p.Tensors[i].Float64s()
			}
		}
		panic("no parameter " + name)
	}
	// affine returns relu?(h W^T + b) for the (out, in) weights of layer.
	affine := func(h []float64, layer string, relu bool) []float64 {
		w, b := tensorOf(layer+".w"), tensorOf(layer+".b")
		out := len(b)
		res := make([]float64, out)
		for j := range out {
			s := b[j]
			for i, v := range h {
				s += v * w[j*len(h)+i]
			}
			if relu && s < 0 {
				s = 0
			}
			res[j] = s
		}
		return res
	}
	mlp := func(h []float64, prefix string, layers int) []float64 {
		for l := range layers {
			h = affine(h, fmt.Sprintf("%s%d", prefix, l), l+1 < layers)
		}
		return h
	}
	// widen: a Bernoulli logit l is the pair (l, 0); narrow keeps the first.
	widen := func(l []float64) []float64 {
		if !cfg.Bernoulli() {
			return l
		}
		out := make([]float64, 2*len(l))
		for i, v := range l {
			out[2*i] = v
		}
		return out
	}
	narrow := func(z []float64) []float64 {
		if !cfg.Bernoulli() {
			return z
		}
		out := make([]float64, len(z)/2)
		for i := range out {
			out[i] = z[2*i]
		}
		return out
	}
	k := cfg.K
	// sample: y = softmax((l + g)/tau) per group, or its one-hot argmax.
	sample := func(l, g []float64) []float64 {
		y := make([]float64, len(l))
		for s := 0; s < len(l); s += k {
			best, m := s, math.Inf(-1)
			for i := s; i < s+k; i++ {
				if v := (l[i] + g[i]) / f.tau; v > m {
					best, m = i, v
				}
			}
			if hard {
				y[best] = 1
				continue
			}
			var z float64
			for i := s; i < s+k; i++ {
				y[i] = math.Exp((l[i]+g[i])/f.tau - m)
				z += y[i]
			}
			for i := s; i < s+k; i++ {
				y[i] /= z
			}
		}
		return y
	}
	// logSoftmax per group of k.
	logSoftmax := func(l []float64) []float64 {
		out := make([]float64, len(l))
		for s := 0; s < len(l); s += k {
			m := math.Inf(-1)
			for i := s; i < s+k; i++ {
				m = math.Max(m, l[i])
			}
			var z float64
			for i := s; i < s+k; i++ {
				z += math.Exp(l[i] - m)
			}
			for i := s; i < s+k; i++ {
				out[i] = l[i] - m - math.Log(z)
			}
		}
		return out
	}
	prior := make([]float64, cfg.Latent()) // uniform: zero logits
	if cfg.Learned() {
		prior = widen(tensorOf("prior.logits"))
	}
	logp := logSoftmax(prior)

	var r refPass
	r.logits = make([][]float64, cfg.Layers())
	r.codes = make([][]float64, cfg.Layers())
	lat := cfg.Latent()
	for b := range f.rows {
		img := f.images[b*cfg.Input : (b+1)*cfg.Input]
		var x, target, pix []float64
		var kl float64
		if cfg.SBN() {
			half := cfg.Input / 2
			x, target = img[:half], img[half:]
			l1 := widen(affine(x, "h1", false))
			h1 := sample(l1, f.noise[0][b*lat:(b+1)*lat])
			l2 := widen(affine(narrow(h1), "h2", false))
			h2 := sample(l2, f.noise[1][b*lat:(b+1)*lat])
			pix = affine(narrow(h2), "xl", false)
			r.logits[0], r.codes[0] = append(r.logits[0], l1...), append(r.codes[0], h1...)
			r.logits[1], r.codes[1] = append(r.logits[1], l2...), append(r.codes[1], h2...)
		} else {
			x, target = img, img
			layers := len(cfg.Hidden) + 1
			l := widen(mlp(x, "enc", layers))
			z := sample(l, f.noise[0][b*lat:(b+1)*lat])
			pix = mlp(narrow(z), "dec", layers)
			logq := logSoftmax(l)
			for i := range l {
				kl += math.Exp(logq[i]) * (logq[i] - logp[i])
			}
			r.logits[0], r.codes[0] = append(r.logits[0], l...), append(r.codes[0], z...)
			r.kl = append(r.kl, kl)
		}
		// -log p(target | pix) = -sum x log sigmoid(a) + (1-x) log(1-sigmoid(a)),
		// fine in float64 for the |a| < 10 of these networks.
		var rec float64
		for i, a := range pix {
			q := 1 / (1 + math.Exp(-a))
			rec -= target[i]*math.Log(q) + (1-target[i])*math.Log(1-q)
		}
		r.pixel = append(r.pixel, pix...)
		r.rec = append(r.rec, rec)
	}
	return r
}

// netWithCode builds a graph holding cfg's network with weights p, the
// (rows, Latent) code z and a (rows, Out) target of random bits from rng.
func netWithCode(t testing.TB, cfg Config, p *Params, z []float64, rows int, rng *rand.Rand) (g *G.ExprGraph, net *Net, zNode, target *G.Node) {
	t.Helper()
	g = G.NewGraph()
	net, err := NewNet(g, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	zNode = G.NewMatrix(g, tensor.Float64, G.WithName("z"), G.WithValue(dense(z, rows, cfg.Latent())))
	target = G.NewMatrix(g, tensor.Float64, G.WithName("target"), G.WithValue(dense(bits(rng, rows*cfg.Out()), rows, cfg.Out())))
	return g, net, zNode, target
}
