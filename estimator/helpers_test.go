package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/gumbel"
	"gsvae/model"
)

// The tiny models of the tests, small enough to enumerate every code:
// the VAE with 3^2 and 2^3 codes, the SBN with 3^2 and 2^3 codes per
// layer (81 and 64 joint codes). Each has an NVIL baseline network.
var (
	vaeCat  = model.Config{Task: model.TaskVAE, N: 2, K: 3, Hidden: []int{8, 6}, Input: 6, Kind: model.LatentCategorical, Baseline: 3}
	vaeBern = model.Config{Task: model.TaskVAE, N: 3, K: 2, Hidden: []int{8, 6}, Input: 6, Kind: model.LatentBernoulli, Baseline: 3}
	sbnCat  = model.Config{Task: model.TaskSBN, N: 2, K: 3, Input: 8, Kind: model.LatentCategorical, Baseline: 3}
	sbnBern = model.Config{Task: model.TaskSBN, N: 3, K: 2, Input: 8, Kind: model.LatentBernoulli, Baseline: 3}
)

// learned returns cfg with a learned prior.
func learned(cfg model.Config) model.Config {
	cfg.Prior = model.PriorLearned
	return cfg
}

// allModels lists the tiny models with a name each.
func allModels() []struct {
	name string
	cfg  model.Config
} {
	return []struct {
		name string
		cfg  model.Config
	}{
		{"vae-cat", vaeCat}, {"vae-bern", vaeBern},
		{"vae-cat-learned", learned(vaeCat)}, {"vae-bern-learned", learned(vaeBern)},
		{"sbn-cat", sbnCat}, {"sbn-bern", sbnBern},
	}
}

// newTiny returns float64 weights of cfg and rows random binary images
// (a (rows, Input) slice), all drawn from seed. The weights (but NVIL's
// baseline network's) are 3 times PyTorch's initial scale, so that f(z) depends strongly on z: at the
// initial scale the ReLUs of so small a decoder can all be off for every
// one-hot code, f is then constant, and every estimator is exact. newTiny
// fails the test unless f varies by more than 1 nat between the codes of
// the first image (measured with the plain-Go decoder).
func newTiny(t testing.TB, cfg model.Config, seed uint64, rows int) (*model.Params, []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	p, err := model.NewParams(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i, pt := range p.Tensors {
		if cfg.Part(i) == model.PartBaseline { // b(x) at PyTorch's scale
			continue
		}
		for j := range pt.Float64s() {
			pt.Float64s()[j] *= 3
		}
		if cfg.Part(i) == model.PartPrior { // a learned prior away from uniform
			for j := range pt.Float64s() {
				pt.Float64s()[j] = 2*rng.Float64() - 1
			}
		}
	}
	x := make([]float64, rows*cfg.Input)
	for i := range x {
		if rng.Float64() < 0.5 {
			x[i] = 1
		}
	}
	if spread := codeSpread(cfg, p, x); spread <= 1 {
		t.Fatalf("f varies by only %.3g nats over the codes: a degenerate test model", spread)
	}
	return p, x
}

// codeSpread returns max f(z) - min f(z) over the codes z of the first
// image of x, by the plain-Go decoder.
func codeSpread(cfg model.Config, p *model.Params, x []float64) float64 {
	ref := newRef(cfg, p)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, z := range enumCodes(cfg) {
		f, _, _ := ref.decode(z, x[cfg.Input-cfg.Out():cfg.Input])
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	return hi - lo
}

// enumCodes returns every joint one-hot code of one stochastic layer of
// cfg in the categorical view, written here independently of allCodes.
func enumCodes(cfg model.Config) [][]float64 {
	codes := [][]float64{nil}
	for range cfg.N {
		var next [][]float64
		for _, c := range codes {
			for j := range cfg.K {
				z := append(append([]float64(nil), c...), make([]float64, cfg.K)...)
				z[len(c)+j] = 1
				next = append(next, z)
			}
		}
		codes = next
	}
	return codes
}

// codeProb returns q(z) = prod_n softmax(l_n)[z_n] of a one-hot code z.
func codeProb(l, z []float64, k int) float64 {
	lq := logSoftmax(l, k)
	var s float64
	for j, v := range z {
		s += v * lq[j]
	}
	return math.Exp(s)
}

// flatGrads concatenates the gradient tensors of e into one vector.
func flatGrads(e *Estimator) []float64 {
	var out []float64
	for _, g := range e.Grads() {
		out = append(out, g.Float64s()...)
	}
	return out
}

// rowWeights returns 1/n for the first n of b rows and 0 for the rest.
func rowWeights(b, n int) []float64 {
	w := make([]float64, b)
	for i := range n {
		w[i] = 1 / float64(n)
	}
	return w
}

// newEst returns New(name, cfg, p, opt) with x copied into its X, failing
// the test on error.
func newEst(t testing.TB, name string, cfg model.Config, p *model.Params, opt Options, x []float64) *Estimator {
	t.Helper()
	e, err := New(name, cfg, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	copy(e.X.Float64s(), x)
	return e
}

// twin draws an estimate of e with rng and returns the flat gradient, the
// oracle's estimate for the same noise, which it draws from twin (an rng
// in the same state as rng) layer by layer as Estimate does, and the
// moving averages that estimate used: e's before the draw, or, at the
// first draw of a scored estimator that normalises, the ones Estimate
// starts from, computed here from the oracle's learning signals of the
// real rows for the same noise (their mean and their variance around it).
// n is the number of real rows (set by the caller with SetRows) and
// normalize e's Options.Normalize.
func twin(t testing.TB, e *Estimator, ref *refNet, x []float64, n int, tau float64, normalize bool, rng, twinRng *rand.Rand, plant func(i, b int, s float64) float64) ([]float64, refOutput, []Stats) {
	t.Helper()
	cfg := ref.cfg
	stats := e.Stats()
	first := normalize && Scored(e.Name())
	for _, st := range stats {
		first = first && st == NewStats()
	}
	in := refInput{name: e.Name(), x: x, w: rowWeights(len(x)/cfg.Input, n), tau: tau, plant: plant, relaxedKL: e.opt.RelaxedKL, priorTau: e.opt.PriorTau}
	averages := func() {
		in.c, in.scale = nil, nil
		for _, st := range stats {
			in.c = append(in.c, 0)
			in.scale = append(in.scale, 1)
			if Scored(e.Name()) {
				in.c[len(in.c)-1] = st.Mean
				if normalize {
					in.scale[len(in.scale)-1] = 1 / math.Max(1, math.Sqrt(st.Var))
				}
			}
		}
	}
	averages()
	if err := e.Estimate(tau, rng); err != nil {
		t.Fatal(err)
	}
	for range cfg.Layers() {
		g := make([]float64, len(in.w)*cfg.Latent())
		gumbel.Sample(g, twinRng)
		in.noise = append(in.noise, g)
	}
	if first {
		signals := ref.estimate(in).signals
		for i := range stats {
			var mean, sq float64
			for _, v := range signals[i][:n] {
				mean += v / float64(n)
			}
			for _, v := range signals[i][:n] {
				sq += (v - mean) * (v - mean) / float64(n)
			}
			stats[i] = Stats{Mean: mean, Var: sq}
		}
		averages()
	}
	return flatGrads(e), ref.estimate(in), stats
}

// maxAbs returns the largest |v_i|.
func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// closeVec reports the first entry where got and want differ by more than
// tol times max(1, max_i |want_i|), naming the parameter, or "".
func closeVec(p *model.Params, got, want []float64, tol float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d values, want %d", len(got), len(want))
	}
	bound := tol * math.Max(1, maxAbs(want))
	for i := range got {
		if !(math.Abs(got[i]-want[i]) <= bound) {
			return fmt.Sprintf("%s: got %.12g, want %.12g (|diff| %.3g > %.3g)", paramName(p, i), got[i], want[i], math.Abs(got[i]-want[i]), bound)
		}
	}
	return ""
}

// paramName names entry i of the flattened parameters, as "enc0.w[3]".
func paramName(p *model.Params, i int) string {
	ti := tensorOf(p, i)
	if ti < 0 {
		return fmt.Sprintf("entry %d", i)
	}
	for _, t := range p.Tensors[:ti] {
		i -= t.Len()
	}
	return fmt.Sprintf("%s[%d]", p.Names[ti], i)
}

// tensorOf returns the index of the tensor of p that holds entry i of the
// flattened parameters.
func tensorOf(p *model.Params, i int) int {
	for ti, pt := range p.Tensors {
		if i < pt.Len() {
			return ti
		}
		i -= pt.Len()
	}
	return -1
}

// normalQuantile returns z with P(Z > z) = p for a standard normal Z
// (0 < p < 1/2), by bisection on math.Erfc.
func normalQuantile(p float64) float64 {
	lo, hi := 0.0, 40.0
	for range 200 {
		mid := (lo + hi) / 2
		if 0.5*math.Erfc(mid/math.Sqrt2) > p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
