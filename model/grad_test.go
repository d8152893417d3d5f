package model

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// padded are the row weights of the gradient checks: two real rows and a
// padding row of weight 0.
var padded = []float64{0.5, 0.5, 0}

// gradFixture is a fixture with the gradients of a loss node for the
// parameters wrt (indices into Params).
type gradFixture struct {
	*fixture
	wrt   []int
	grads G.Nodes
}

// withGrads adds the gradients of loss for the parameters wrt (all when
// nil) and compiles the graph.
func (f *fixture) withGrads(t *testing.T, loss *G.Node, wrt []int) *gradFixture {
	t.Helper()
	if wrt == nil {
		for i := range f.p.Tensors {
			wrt = append(wrt, i)
		}
	}
	nodes := make(G.Nodes, len(wrt))
	for j, i := range wrt {
		nodes[j] = f.net.Params()[i]
	}
	grads, err := G.Grad(loss, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	f.compile()
	return &gradFixture{fixture: f, wrt: wrt, grads: grads}
}

// values returns the parameters' names, data and gradients (copied) of
// the last run, for the parameters of gf.wrt that keep(i) selects.
func (gf *gradFixture) values(t *testing.T, keep func(i int) bool) (names []string, vals, grads [][]float64, idx []int) {
	for j, i := range gf.wrt {
		if keep != nil && !keep(i) {
			continue
		}
		names = append(names, gf.p.Names[i])
		vals = append(vals, gf.p.Tensors[i].Float64s())
		grads = append(grads, values(t, gf.grads[j].Value()))
		idx = append(idx, i)
	}
	return names, vals, grads, idx
}

// scaleOf returns the factor GradScale puts on the gradient of parameter
// i: the decoder and the prior are not behind any stochastic layer's
// logits (1); the VAE's encoder is behind layer 1's (s[0]); the SBN's h2
// behind layer 2's (s[1]) and its h1 behind both (s[0] s[1]), since the
// gradient reaching h1's logits through h2 was scaled at h2's logits.
func scaleOf(cfg Config, p *Params, s []float64, i int) float64 {
	if s == nil || cfg.Part(i) != PartEncoder {
		return 1
	}
	if !cfg.SBN() {
		return s[0]
	}
	if p.Names[i] == "h1.w" || p.Names[i] == "h1.b" {
		return s[0] * s[1]
	}
	return s[1]
}

// TestForwardGradientFiniteDifferences checks the gradient of the whole
// loss WeightedSum(w, Rec, KL) of a Forward pass with the Gumbel-Softmax
// coder (CodeGrad and LinkGrad on, as the pathwise estimators build it),
// for every parameter, against central differences in float64 (see
// fdTol): the VAE with categorical and Bernoulli latents, a learned prior
// and no hidden layers, and the SBN with both latent kinds. The row
// weights (1/2, 1/2, 0) leave a padding row: its data and noise are then
// redrawn, and the loss and every gradient must keep their bits. With
// Options.GradScale set, the gradients of the networks that compute the
// logits are scaled (see scaleOf) and the decoder's and the prior's are
// not: they are compared with the scale times the finite difference.
func TestForwardGradientFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		tau   float64
		scale []float64
	}{
		{"vae categorical", tinyVAE, 0.7, nil},
		{"vae categorical tau=2", tinyVAE, 2, nil},
		{"vae bernoulli", tinyBernoulli, 0.5, nil},
		{"vae learned prior", learned(tinyVAE), 0.7, nil},
		{"vae bernoulli learned prior", learned(tinyBernoulli), 0.7, nil},
		{"vae linear", tinyLinear, 1, nil},
		{"sbn categorical", tinySBN, 0.7, nil},
		{"sbn bernoulli", tinySBNBernoulli, 0.5, nil},
		{"vae grad scale", tinyVAE, 0.7, []float64{0.25}},
		{"vae bernoulli learned prior grad scale", learned(tinyBernoulli), 0.7, []float64{0.25}},
		{"sbn categorical grad scale", tinySBN, 0.7, []float64{0.5, 3}},
		{"sbn bernoulli grad scale", tinySBNBernoulli, 0.5, []float64{0.5, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureSpec{cfg: tc.cfg, seed: 2, rows: 3, w: padded, tau: tc.tau, coder: coderSoft,
				opt: Options{CodeGrad: true, LinkGrad: true}, scale: tc.scale})
			gf := f.withGrads(t, f.loss, nil)
			loss := f.run(t)
			names, vals, grads, idx := gf.values(t, nil)
			scale := make([]float64, len(idx))
			for j, i := range idx {
				scale[j] = scaleOf(tc.cfg, f.p, tc.scale, i)
			}
			checkGrad(t, names, vals, grads, scale, func() float64 { return f.run(t) })

			// Redraw the padding row's pixels and noise: nothing may change.
			rng := rand.New(rand.NewPCG(99, 1))
			last := func(x []float64, n int) []float64 { return x[len(x)-n:] }
			copy(last(f.images, tc.cfg.Input), bits(rng, tc.cfg.Input))
			for _, g := range f.noise {
				copy(last(g, tc.cfg.Latent()), gumbels(rng, tc.cfg.Latent()))
			}
			f.split()
			if got := f.run(t); math.Float64bits(got) != math.Float64bits(loss) {
				t.Errorf("loss %v with a new padding row, %v before", got, loss)
			}
			_, _, again, _ := gf.values(t, nil)
			for j := range grads {
				for k := range grads[j] {
					if math.Float64bits(again[j][k]) != math.Float64bits(grads[j][k]) {
						t.Errorf("%s[%d]: gradient %v with a new padding row, %v before", names[j], k, again[j][k], grads[j][k])
						break
					}
				}
			}
		})
	}
}

// TestForwardGradientLinkGrad checks Options.LinkGrad on the SBN: with it
// off, h1's weights get no gradient through h2's logits, so the gradient
// of the loss WeightedSum(w, Rec, S) plus a term S of h1's logits alone
// (S = the Bernoulli NLL of h1's logits against random bits, standing in
// for an estimator's score term) is, for h1, the finite difference of the
// S term alone, and for h2 and xl that of the whole loss; with it on, h1
// gets the whole loss's.
func TestForwardGradientLinkGrad(t *testing.T) {
	for _, cfg := range []Config{tinySBN, tinySBNBernoulli} {
		for _, link := range []bool{false, true} {
			name := cfg.Describe() + map[bool]string{false: "/LinkGrad off", true: "/LinkGrad on"}[link]
			t.Run(name, func(t *testing.T) {
				f := newFixture(t, fixtureSpec{cfg: cfg, seed: 12, rows: 3, w: padded, tau: 0.7, coder: coderSoft,
					opt: Options{CodeGrad: true, LinkGrad: link}})
				w := f.wNode
				target := G.NewMatrix(f.g, tensor.Float64, G.WithName("t1"),
					G.WithValue(dense(bits(rand.New(rand.NewPCG(1, 12)), 3*cfg.Latent()), 3, cfg.Latent())))
				s, err := negLogLik(f.pass.Logits[0], target)
				if err != nil {
					t.Fatal(err)
				}
				total, err := WeightedSum(w, f.pass.Rec, s)
				if err != nil {
					t.Fatal(err)
				}
				sOnly, err := WeightedSum(w, s)
				if err != nil {
					t.Fatal(err)
				}
				gf := f.withGrads(t, total, nil)
				f.m.run(t)
				h1 := func(i int) bool { return f.p.Names[i] == "h1.w" || f.p.Names[i] == "h1.b" }
				run := func(n *G.Node) func() float64 {
					return func() float64 { f.m.run(t); return scalar(t, n) }
				}
				names, vals, grads, _ := gf.values(t, func(i int) bool { return !h1(i) })
				checkGrad(t, names, vals, grads, nil, run(total))
				names, vals, grads, _ = gf.values(t, h1)
				if link {
					checkGrad(t, names, vals, grads, nil, run(total))
				} else {
					checkGrad(t, names, vals, grads, nil, run(sOnly))
				}
			})
		}
	}
}

// TestForwardGradientCodeGrad checks Options.CodeGrad off: the decoder
// passes no gradient to the code, so in the VAE the encoder's gradient is
// the finite difference of the KL term alone (and a learned prior's and
// the decoder's that of the whole loss), and in the SBN, whose loss has
// no KL, h1 and h2 get no gradient at all (gorgonia's Grad refuses them)
// while xl gets the whole loss's.
func TestForwardGradientCodeGrad(t *testing.T) {
	for _, cfg := range []Config{learned(tinyVAE), tinyBernoulli, tinySBN, tinySBNBernoulli} {
		t.Run(cfg.Describe(), func(t *testing.T) {
			f := newFixture(t, fixtureSpec{cfg: cfg, seed: 13, rows: 3, w: padded, tau: 0.7, coder: coderSoft,
				opt: Options{CodeGrad: false, LinkGrad: true}})
			enc := func(i int) bool { return cfg.Part(i) == PartEncoder }
			var others []int
			for i := range f.p.Tensors {
				if !enc(i) {
					others = append(others, i)
				}
			}
			run := func(n *G.Node) func() float64 {
				return func() float64 { f.m.run(t); return scalar(t, n) }
			}
			if cfg.SBN() {
				if _, err := G.Grad(f.loss, f.net.Params()[0]); err == nil {
					t.Fatal("h1.w has a gradient with CodeGrad off")
				}
				gf := f.withGrads(t, f.loss, others)
				f.m.run(t)
				names, vals, grads, _ := gf.values(t, nil)
				checkGrad(t, names, vals, grads, nil, run(f.loss))
				return
			}
			w := f.wNode
			klOnly, err := WeightedSum(w, f.pass.KL)
			if err != nil {
				t.Fatal(err)
			}
			gf := f.withGrads(t, f.loss, nil)
			f.m.run(t)
			names, vals, grads, _ := gf.values(t, func(i int) bool { return !enc(i) })
			checkGrad(t, names, vals, grads, nil, run(f.loss))
			names, vals, grads, _ = gf.values(t, enc)
			checkGrad(t, names, vals, grads, nil, run(klOnly))
		})
	}
}

// TestNegLogLikGradientFiniteDifferences checks Net.NegLogLik, the
// reconstruction term of an estimator's surrogate, as a function of a
// relaxed code z given as data and of the decoder's parameters: the
// gradient of sum_b w_b NegLogLik_b against finite differences, for the
// VAE (categorical and Bernoulli) and the SBN's xl layer. For Bernoulli
// latents the decoder reads only the first entry of each pair of z, so the
// second's gradient must be exactly 0.
func TestNegLogLikGradientFiniteDifferences(t *testing.T) {
	for _, cfg := range []Config{tinyVAE, tinyBernoulli, tinySBN, tinySBNBernoulli} {
		t.Run(cfg.Describe(), func(t *testing.T) {
			p, rng := newTinyParams(t, cfg, 4)
			const rows = 3
			zd := make([]float64, rows*cfg.Latent())
			for i := range zd {
				zd[i] = rng.Float64()
			}
			g, net, z, target := netWithCode(t, cfg, p, zd, rows, rng)
			w := G.NewVector(g, tensor.Float64, G.WithName("w"), G.WithValue(dense([]float64{0.3, 0.7, 0}, rows)))
			nll, err := net.NegLogLik(z, target, true, false)
			if err != nil {
				t.Fatal(err)
			}
			loss, err := WeightedSum(w, nll)
			if err != nil {
				t.Fatal(err)
			}
			wrt := G.Nodes{z}
			names, vals := []string{"z"}, [][]float64{zd}
			for i, n := range net.Params() {
				if cfg.Part(i) == PartDecoder {
					wrt = append(wrt, n)
					names, vals = append(names, n.Name()), append(vals, p.Tensors[i].Float64s())
				}
			}
			grads, err := G.Grad(loss, wrt...)
			if err != nil {
				t.Fatal(err)
			}
			m := newMachine(g)
			m.run(t)
			gs := make([][]float64, len(grads))
			for i, gr := range grads {
				gs[i] = values(t, gr.Value())
			}
			if cfg.Bernoulli() {
				for i := 1; i < len(gs[0]); i += 2 {
					if gs[0][i] != 0 {
						t.Fatalf("dL/dz[%d] = %g: the decoder reads only the first of each pair", i, gs[0][i])
					}
				}
			}
			checkGrad(t, names, vals, gs, nil, func() float64 { m.run(t); return scalar(t, loss) })
		})
	}
}

// TestBaselineGradientFiniteDifferences checks the gradient of sum_b
// c_b b(x_b) (random c) for every parameter of the NVIL baseline network,
// for the VAE and the SBN (which reads the upper half).
func TestBaselineGradientFiniteDifferences(t *testing.T) {
	for _, base := range []Config{tinyVAE, tinySBN} {
		cfg := base
		cfg.Baseline = 4
		t.Run(cfg.Describe(), func(t *testing.T) {
			p, rng := newTinyParams(t, cfg, 5)
			const rows = 3
			g := G.NewGraph()
			net, err := NewNet(g, cfg, p)
			if err != nil {
				t.Fatal(err)
			}
			x := G.NewMatrix(g, tensor.Float64, G.WithName("x"), G.WithValue(dense(bits(rng, rows*cfg.In()), rows, cfg.In())))
			b, err := net.Baseline(x)
			if err != nil {
				t.Fatal(err)
			}
			s, err := dot(b, normals(rng, rows, 1), "s")
			if err != nil {
				t.Fatal(err)
			}
			first := len(p.Tensors) - BaselineTensors
			grads, err := G.Grad(s, net.Params()[first:]...)
			if err != nil {
				t.Fatal(err)
			}
			m := newMachine(g)
			m.run(t)
			var gs, vals [][]float64
			for i, gr := range grads {
				gs = append(gs, values(t, gr.Value()))
				vals = append(vals, p.Tensors[first+i].Float64s())
			}
			checkGrad(t, p.Names[first:], vals, gs, nil, func() float64 { m.run(t); return scalar(t, s) })
		})
	}
}
