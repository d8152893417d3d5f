package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
)

// forwardTol bounds the difference between Forward and the plain-Go
// reference, relative to max(1, |value|). Both compute every value in
// float64 along a chain of at most ~40 roundings (dot products of <= 6
// terms, three layers, a softmax, a log-sum-exp, sums of <= 6 terms), each
// of relative size eps = 1.1e-16 on values of magnitude <= ~10, so they
// agree to ~1e-14; 1e-11 leaves a wide margin while any wrong term
// (a missing bias, a swapped pair, another temperature) is O(0.01) or more.
const forwardTol = 1e-11

// TestForwardMatchesReference runs Forward on tiny networks with a coder
// that applies gumbel.GumbelSoftmax (relaxed codes) and one that applies
// gumbel.GumbelMax (one-hot codes), and compares the logits and codes of
// every stochastic layer, the pixel logits, Rec and KL of every row, and
// the loss WeightedSum(w, Rec, KL) with a padding row of weight 0, with
// the reference computation of the package's equations in plain Go:
// categorical and Bernoulli VAEs with hidden layers, the linear VAE (no
// hidden layers), a learned prior, and the SBN (two linear layers, the
// image split into halves, no KL) with both latent kinds.
func TestForwardMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		tau  float64
	}{
		{"vae categorical", tinyVAE, 0.7},
		{"vae bernoulli", tinyBernoulli, 0.5},
		{"vae linear", tinyLinear, 1},
		{"vae learned prior", learned(tinyVAE), 0.7},
		{"vae bernoulli learned prior", learned(tinyBernoulli), 2},
		{"sbn categorical", tinySBN, 0.7},
		{"sbn bernoulli", tinySBNBernoulli, 0.5},
	} {
		for _, coder := range []string{coderSoft, coderHard} {
			t.Run(tc.name+"/"+coder, func(t *testing.T) {
				f := newFixture(t, fixtureSpec{cfg: tc.cfg, seed: 3, rows: 3, w: []float64{0.5, 0.5, 0}, tau: tc.tau, coder: coder})
				f.compile()
				loss := f.run(t)
				ref := reference(f, coder == coderHard)
				compare := func(what string, got, want []float64) {
					t.Helper()
					if len(got) != len(want) {
						t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
					}
					for i := range want {
						if !near(got[i], want[i], forwardTol) {
							t.Errorf("%s[%d] (row %d) = %.15g, reference %.15g", what, i, i*f.rows/len(want), got[i], want[i])
						}
					}
				}
				if len(f.pass.Logits) != tc.cfg.Layers() || len(f.pass.Codes) != tc.cfg.Layers() {
					t.Fatalf("%d logits, %d codes for %d layers", len(f.pass.Logits), len(f.pass.Codes), tc.cfg.Layers())
				}
				for i := range tc.cfg.Layers() {
					compare("logits"+string(rune('1'+i)), values(t, f.pass.Logits[i].Value()), ref.logits[i])
					compare("code"+string(rune('1'+i)), values(t, f.pass.Codes[i].Value()), ref.codes[i])
				}
				compare("pixel logits", values(t, f.pass.PixelLogits.Value()), ref.pixel)
				compare("rec", values(t, f.pass.Rec.Value()), ref.rec)
				want := 0.5*ref.rec[0] + 0.5*ref.rec[1]
				if tc.cfg.SBN() {
					if f.pass.KL != nil {
						t.Errorf("the SBN's pass has a KL node")
					}
				} else {
					compare("kl", values(t, f.pass.KL.Value()), ref.kl)
					want += 0.5*ref.kl[0] + 0.5*ref.kl[1]
				}
				if !near(loss, want, forwardTol) {
					t.Errorf("loss = %.15g, reference %.15g", loss, want)
				}
			})
		}
	}
}

// TestLearnedPriorKL checks the KL of a learned prior against the
// enumeration of the joint distribution of the N = 2 variables of K = 3
// classes: sum over all 9 codes z of q(z) log(q(z)/p(z)), with q and p
// products of per-variable softmaxes of the logits and of the prior's
// logits (set by hand here). The uniform prior is the case of zero
// logits. Tolerance: float64 rounding of a 9-term sum, 1e-12.
func TestLearnedPriorKL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		prior []float64
	}{
		{"uniform", tinyVAE, nil},
		{"learned", learned(tinyVAE), []float64{1, -0.5, 2, 0, 0.3, -1.2}},
		{"learned, extreme", learned(tinyVAE), []float64{20, -20, 0, 5, 5, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureSpec{cfg: tc.cfg, seed: 4, rows: 2, tau: 1, coder: coderSoft})
			if tc.prior != nil {
				copy(f.p.Tensors[f.p.Index("prior.logits")].Float64s(), tc.prior)
			}
			f.compile()
			f.run(t)
			k, p := 3, make([]float64, 6)
			copy(p, tc.prior)
			softmax := func(l []float64) []float64 {
				out := make([]float64, len(l))
				for s := 0; s < len(l); s += k {
					var z float64
					for i := s; i < s+k; i++ {
						z += math.Exp(l[i])
					}
					for i := s; i < s+k; i++ {
						out[i] = math.Exp(l[i]) / z
					}
				}
				return out
			}
			pp := softmax(p)
			logits := values(t, f.pass.Logits[0].Value())
			kl := values(t, f.pass.KL.Value())
			for b := range 2 {
				q := softmax(logits[b*6 : (b+1)*6])
				var want float64
				for z1 := range k {
					for z2 := range k {
						qz, pz := q[z1]*q[k+z2], pp[z1]*pp[k+z2]
						want += qz * math.Log(qz/pz)
					}
				}
				if !near(kl[b], want, 1e-12) {
					t.Errorf("row %d: KL = %.15g, enumeration %.15g", b, kl[b], want)
				}
			}
		})
	}
}

// TestForwardCustomKL checks that Options.KL replaces the analytic KL: it
// is called once with the pass's (scaled) logits and its node is the
// pass's KL.
func TestForwardCustomKL(t *testing.T) {
	p, rng := newTinyParams(t, tinyVAE, 5)
	g := G.NewGraph()
	net, err := NewNet(g, tinyVAE, p)
	if err != nil {
		t.Fatal(err)
	}
	x := G.NewMatrix(g, tensor.Float64, G.WithName("x"), G.WithValue(dense(bits(rng, 12), 2, 6)))
	noise := G.NewMatrix(g, tensor.Float64, G.WithName("g"), G.WithValue(dense(gumbels(rng, 12), 2, 6)))
	s := G.NewScalar(g, tensor.Float64, G.WithName("s"), G.WithValue(0.5))
	var calls int
	var seen, made *G.Node
	opt := Options{GradScale: []*G.Node{s}, KL: func(l *G.Node) (*G.Node, error) {
		calls++
		seen = l
		made, err = gumbel.CategoricalKL(l, 3, nil)
		return made, err
	}}
	pass, err := net.Forward(x, x, func(_ int, l *G.Node) (*G.Node, error) { return gumbel.GumbelMax(l, noise, 3) }, opt)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || seen != pass.Logits[0] || made != pass.KL {
		t.Errorf("Options.KL called %d times with %v, pass.KL %v (want once with %v, giving %v)", calls, seen, pass.KL, pass.Logits[0], made)
	}
}

// TestNetErrors checks what NewNet and the pieces of a Net refuse:
// parameters that do not fit the configuration (Check's error), no
// parameters, a stochastic layer the network does not have, a baseline
// the configuration does not have; and that the SBN has no KL.
func TestNetErrors(t *testing.T) {
	p, _ := newTinyParams(t, tinyVAE, 1)
	g := G.NewGraph()
	if _, err := NewNet(g, tinyBernoulli, p); err == nil {
		t.Error("NewNet with the tiny VAE's parameters for the Bernoulli VAE: no error")
	}
	if _, err := NewNet(g, tinyVAE, &Params{}); err == nil {
		t.Error("NewNet without parameters: no error")
	}
	net, err := NewNet(g, tinyVAE, p)
	if err != nil {
		t.Fatal(err)
	}
	x := G.NewMatrix(g, tensor.Float64, G.WithName("x"), G.WithValue(dense(make([]float64, 12), 2, 6)))
	if _, err := net.Logits(1, x, false); err == nil {
		t.Error("VAE Logits(1): no error")
	}
	if _, err := net.Baseline(x); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("Baseline without a baseline network: error %v", err)
	}
	ps, _ := newTinyParams(t, tinySBN, 1)
	sbn, err := NewNet(G.NewGraph(), tinySBN, ps)
	if err != nil {
		t.Fatal(err)
	}
	xs := G.NewMatrix(sbn.Graph(), tensor.Float64, G.WithName("x"), G.WithValue(dense(make([]float64, 8), 2, 4)))
	if _, err := sbn.Logits(2, xs, false); err == nil {
		t.Error("SBN Logits(2): no error")
	}
	l, err := sbn.Logits(0, xs, false)
	if err != nil {
		t.Fatal(err)
	}
	if kl, err := sbn.KL(l); kl != nil || err != nil {
		t.Errorf("SBN KL = %v, %v; want nil, nil", kl, err)
	}
}

// TestNetAccessors checks that a Net wraps the tensors of its Params, in
// their order and under their names, sharing them, and reports its
// configuration, graph and dtype.
func TestNetAccessors(t *testing.T) {
	p, _ := newTinyParams(t, learned(tinyBernoulli), 1)
	g := G.NewGraph()
	net, err := NewNet(g, learned(tinyBernoulli), p)
	if err != nil {
		t.Fatal(err)
	}
	if net.Graph() != g || net.Dtype() != tensor.Float64 || net.Config().Prior != PriorLearned {
		t.Errorf("Graph, Dtype, Config = %p %v %+v", net.Graph(), net.Dtype(), net.Config())
	}
	if len(net.Params()) != len(p.Tensors) {
		t.Fatalf("%d nodes for %d tensors", len(net.Params()), len(p.Tensors))
	}
	for i, n := range net.Params() {
		if n.Name() != p.Names[i] || n.Value() != p.Tensors[i] {
			t.Errorf("node %d: %s holding %p, want %s holding %p", i, n.Name(), n.Value(), p.Names[i], p.Tensors[i])
		}
	}
}

// TestBaselineMatchesReference checks NVIL's b(x) = relu(x W0^T + b0)
// W1^T + b1 against plain Go, for the VAE (the whole image) and the SBN
// (its upper half); tolerance as in TestForwardMatchesReference.
func TestBaselineMatchesReference(t *testing.T) {
	for _, base := range []Config{tinyVAE, tinySBNBernoulli} {
		cfg := base
		cfg.Baseline = 3
		t.Run(cfg.Describe(), func(t *testing.T) {
			p, rng := newTinyParams(t, cfg, 6)
			const rows = 2
			xd := bits(rng, rows*cfg.In())
			g := G.NewGraph()
			net, err := NewNet(g, cfg, p)
			if err != nil {
				t.Fatal(err)
			}
			x := G.NewMatrix(g, tensor.Float64, G.WithName("x"), G.WithValue(dense(xd, rows, cfg.In())))
			b, err := net.Baseline(x)
			if err != nil {
				t.Fatal(err)
			}
			if !b.Shape().Eq(tensor.Shape{rows, 1}) {
				t.Fatalf("baseline shape %v, want (%d, 1)", b.Shape(), rows)
			}
			newMachine(g).run(t)
			w0, b0 := p.Tensors[p.Index("base0.w")].Float64s(), p.Tensors[p.Index("base0.b")].Float64s()
			w1, b1 := p.Tensors[p.Index("base1.w")].Float64s(), p.Tensors[p.Index("base1.b")].Float64s()
			got := values(t, b.Value())
			for r := range rows {
				want := b1[0]
				for j := range cfg.Baseline {
					h := b0[j]
					for i := range cfg.In() {
						h += xd[r*cfg.In()+i] * w0[j*cfg.In()+i]
					}
					want += math.Max(h, 0) * w1[j]
				}
				if !near(got[r], want, forwardTol) {
					t.Errorf("row %d: b(x) = %.15g, reference %.15g", r, got[r], want)
				}
			}
		})
	}
}

// TestBernoulliIsBinaryConcrete checks the categorical view of Bernoulli
// latents against the closed forms of Maddison et al. (2017, Sec. 3.3)
// for one binary variable with logit l: the second logit of each pair is
// 0, the relaxed sample of the pair is (y, 1-y) with y = sigmoid((l + g1
// - g2)/tau) (g1 - g2 is logistic noise), and the KL to Bernoulli(1/2) is
// q log 2q + (1-q) log 2(1-q) with q = sigmoid(l). Tolerance: float64
// rounding, as TestForwardMatchesReference.
func TestBernoulliIsBinaryConcrete(t *testing.T) {
	const tau = 0.6
	f := newFixture(t, fixtureSpec{cfg: tinyBernoulli, seed: 6, rows: 2, tau: tau, coder: coderSoft})
	f.compile()
	f.run(t)
	logits, codes, kls := values(t, f.pass.Logits[0].Value()), values(t, f.pass.Codes[0].Value()), values(t, f.pass.KL.Value())
	g := f.noise[0]
	for b := range 2 {
		var kl float64
		for n := range tinyBernoulli.N {
			i := b*tinyBernoulli.Latent() + 2*n
			if logits[i+1] != 0 {
				t.Fatalf("row %d variable %d: second logit %g, want 0", b, n, logits[i+1])
			}
			l := logits[i]
			q := 1 / (1 + math.Exp(-l))
			kl += q*math.Log(2*q) + (1-q)*math.Log(2*(1-q))
			y := 1 / (1 + math.Exp(-(l+g[i]-g[i+1])/tau))
			if !near(codes[i], y, forwardTol) || !near(codes[i+1], 1-y, forwardTol) {
				t.Errorf("row %d variable %d: code (%.15g, %.15g), binary Concrete (%.15g, %.15g)", b, n, codes[i], codes[i+1], y, 1-y)
			}
		}
		if !near(kls[b], kl, forwardTol) {
			t.Errorf("row %d: KL %.15g, closed form %.15g", b, kls[b], kl)
		}
	}
}

// TestInputGradVariantsAreDistinct checks that a network piece built twice
// on one input, once without and once with the input's gradient, gives two
// nodes, and that the second passes the gradient: gorgonia merges nodes
// whose ops hash equal on the same inputs, so an op whose name left out
// inputGrad handed back the first node, and Grad then found no path to
// the input ("Non Differentiable WRTs"). The cases are the decoder on a
// code (PixelLogits with CodeGrad off, then on, as an estimator's
// surrogate would ask) and the SBN's second layer after a Forward pass
// with LinkGrad off. The gradient reached through the second node is
// checked against finite differences.
func TestInputGradVariantsAreDistinct(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"vae decoder", tinyVAE},
		{"sbn layer 2", tinySBN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureSpec{cfg: tc.cfg, seed: 8, rows: 2, tau: 0.8, coder: coderSoft, opt: Options{}})
			var first, second *G.Node
			var err error
			var wrt G.Nodes
			if tc.cfg.SBN() {
				first = f.pass.Logits[1]
				if second, err = f.net.Logits(1, f.pass.Codes[0], false); err != nil {
					t.Fatal(err)
				}
				wrt = f.net.Params()[:2] // h1.w, h1.b: reached only through code 1
			} else {
				first = f.pass.PixelLogits
				if second, err = f.net.PixelLogits(f.pass.Codes[0], true, false); err != nil {
					t.Fatal(err)
				}
				wrt = f.net.Params()[:6] // the encoder: reached through the code
			}
			if first == second {
				t.Fatal("the piece with the input's gradient is the node built without it")
			}
			rng := rand.New(rand.NewPCG(9, 9))
			s, err := dot(second, normals(rng, second.Shape().TotalSize(), 1), "s")
			if err != nil {
				t.Fatal(err)
			}
			grads, err := G.Grad(s, wrt...)
			if err != nil {
				t.Fatal(err)
			}
			f.compile()
			f.m.run(t)
			var names []string
			var vals, gs [][]float64
			for i, n := range wrt {
				names = append(names, n.Name())
				vals = append(vals, f.p.Tensors[i].Float64s())
				gs = append(gs, values(t, grads[i].Value()))
			}
			checkGrad(t, names, vals, gs, nil, func() float64 {
				f.m.run(t)
				return scalar(t, s)
			})
		})
	}
}

// TestDataGetsNoGradient checks that the images get no gradient: the
// first layer of Forward, even with every gradient an estimator asks for
// (CodeGrad and LinkGrad), and of Logits(0, ...) is built without its
// input's gradient, so that no step computes the (B, In()) product
// dx = d W of the first layer, which nothing reads. G.Grad with respect
// to the input node must then fail ("Non Differentiable WRTs"), for the
// VAE and the SBN, while the first layer's weights get their gradient.
func TestDataGetsNoGradient(t *testing.T) {
	noGrad := func(t *testing.T, loss, x *G.Node, what string) {
		t.Helper()
		if _, err := G.Grad(loss, x); err == nil || !strings.Contains(err.Error(), "Non Differentiable") {
			t.Errorf("%s: Grad(loss, x) = %v, want no gradient (Non Differentiable WRTs)", what, err)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"vae", tinyVAE}, {"sbn", tinySBN}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureSpec{cfg: tc.cfg, seed: 3, rows: 2, tau: 0.8, coder: coderSoft, opt: Options{CodeGrad: true, LinkGrad: true}})
			x := f.g.ByName("x")
			if len(x) != 1 {
				t.Fatalf("%d nodes named x", len(x))
			}
			noGrad(t, f.loss, x[0], "Forward")
			if _, err := G.Grad(f.loss, f.net.Params()[0]); err != nil {
				t.Errorf("Forward: Grad(loss, %s): %v", f.net.Params()[0].Name(), err)
			}
			for _, frozen := range []bool{false, true} {
				g := G.NewGraph()
				net, err := NewNet(g, tc.cfg, f.p)
				if err != nil {
					t.Fatal(err)
				}
				in := G.NewMatrix(g, tensor.Float64, G.WithName("x"), G.WithValue(dense(make([]float64, 2*tc.cfg.In()), 2, tc.cfg.In())))
				l, err := net.Logits(0, in, frozen)
				if err != nil {
					t.Fatal(err)
				}
				noGrad(t, G.Must(G.Sum(l)), in, fmt.Sprintf("Logits(0, x, frozen %t)", frozen))
			}
		})
	}
}

// TestSampledMatchesDense checks the decoders for sampled codes against
// the ones that multiply: SampledPixelLogits against PixelLogits,
// SampledNegLogLik against NegLogLik and, for the SBN, SampledLogits(1)
// against Logits(1), on 5 random one-hot codes (pairs for Bernoulli
// latents) of every tiny network, and that SampledLogits refuses a layer
// without a sampled input (the VAE's, the SBN's first). The sampled layer
// adds the selected weight columns in another order than the product:
// tolerance 1e-12 of max(1, |value|) for values of magnitude ~10 (a few
// float64 roundings), while a wrong column or a missing bias or ReLU is
// O(0.1).
func TestSampledMatchesDense(t *testing.T) {
	const rows, tol = 5, 1e-12
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"vae", tinyVAE}, {"vae-bernoulli", tinyBernoulli}, {"vae-linear", tinyLinear},
		{"sbn", tinySBN}, {"sbn-bernoulli", tinySBNBernoulli},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			p, rng := newTinyParams(t, cfg, 5)
			code := make([]float64, rows*cfg.Latent())
			for g := 0; g < len(code); g += cfg.K {
				code[g+rng.IntN(cfg.K)] = 1
			}
			g, net, z, target := netWithCode(t, cfg, p, code, rows, rng)
			type pair struct {
				name           string
				sampled, dense *G.Node
			}
			var pairs []pair
			add := func(name string, sampled, dense *G.Node, errs ...error) {
				for _, err := range errs {
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
				pairs = append(pairs, pair{name, sampled, dense})
			}
			sp, err1 := net.SampledPixelLogits(z)
			dp, err2 := net.PixelLogits(z, false, false)
			add("PixelLogits", sp, dp, err1, err2)
			sn, err1 := net.SampledNegLogLik(z, target)
			dn, err2 := net.NegLogLik(z, target, false, false)
			add("NegLogLik", sn, dn, err1, err2)
			if cfg.SBN() {
				sl, err1 := net.SampledLogits(1, z)
				dl, err2 := net.Logits(1, z, false)
				add("Logits(1)", sl, dl, err1, err2)
				if _, err := net.SampledLogits(0, z); err == nil {
					t.Error("SBN SampledLogits(0): no error")
				}
			} else if _, err := net.SampledLogits(1, z); err == nil {
				t.Error("VAE SampledLogits(1): no error")
			}
			newMachine(g).run(t)
			for _, pr := range pairs {
				got, want := values(t, pr.sampled.Value()), values(t, pr.dense.Value())
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, want %d", pr.name, len(got), len(want))
				}
				for i := range want {
					if !near(got[i], want[i], tol) {
						t.Errorf("%s[%d]: sampled %.15g, dense %.15g", pr.name, i, got[i], want[i])
					}
				}
			}
		})
	}
}
