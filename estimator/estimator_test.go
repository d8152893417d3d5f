package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gsvae/model"
)

// The tiny models of the enumeration tests: 3^2 and 2^3 joint codes.
var (
	tinyCategorical = model.Config{N: 2, K: 3, Hidden: []int{8, 6}, Input: 6, Kind: model.LatentCategorical, Baseline: 3}
	tinyBernoulli   = model.Config{N: 3, K: 2, Hidden: []int{8, 6}, Input: 6, Kind: model.LatentBernoulli, Baseline: 3}
)

const tinyBatch = 3

// newTiny returns float64 weights of cfg and tinyBatch random binary images
// (rows of a (tinyBatch, Input) slice), all drawn from seed. The weights
// are 3 times PyTorch's initial scale, so that f(z) depends strongly on z:
// at the initial scale the ReLUs of so small a decoder can all be off for
// every one-hot code, f is then constant, and every estimator is exact.
// newTiny fails the test unless f varies by more than 1 nat between the
// codes of the first image.
func newTiny(t *testing.T, cfg model.Config, seed uint64) (*model.Params, []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	p, err := model.NewParams(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range p.Tensors {
		for i := range pt.Float64s() {
			pt.Float64s()[i] *= 3
		}
	}
	x := make([]float64, tinyBatch*cfg.Input)
	for i := range x {
		if rng.Float64() < 0.5 {
			x[i] = 1
		}
	}
	if spread := codeSpread(t, cfg, p, x[:cfg.Input]); spread <= 1 {
		t.Fatalf("f varies by only %.3g nats over the codes: a degenerate test model", spread)
	}
	return p, x
}

// codeSpread returns max f(z) - min f(z) over the joint codes z of image x.
func codeSpread(t *testing.T, cfg model.Config, p *model.Params, x []float64) float64 {
	t.Helper()
	m := Codes(cfg)
	d, err := model.NewDecoder(cfg, p, model.Options{Batch: m})
	if err != nil {
		t.Fatal(err)
	}
	z := d.Z.Float64s()
	for c := 0; c < m; c++ {
		copy(d.X.Float64s()[c*cfg.Input:], x)
		for v, code := 0, c; v < cfg.N; v, code = v+1, code/cfg.K {
			z[c*cfg.Latent()+v*cfg.K+code%cfg.K] = 1
		}
	}
	if err := d.Run(); err != nil {
		t.Fatal(err)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, f := range d.Rec() {
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	return hi - lo
}

// flatGrads concatenates the gradient tensors of e into one vector.
func flatGrads(e *Estimator) []float64 {
	var out []float64
	for _, g := range e.Grads() {
		out = append(out, g.Float64s()...)
	}
	return out
}

// exactGradient returns the exact loss and gradient of cfg's tiny model.
func exactGradient(t *testing.T, cfg model.Config, p *model.Params, x []float64) (float64, []float64) {
	t.Helper()
	ex, err := NewExact(cfg, p, tinyBatch)
	if err != nil {
		t.Fatal(err)
	}
	copy(ex.X.Float64s(), x)
	if err := ex.Estimate(1, nil); err != nil {
		t.Fatal(err)
	}
	return ex.Loss(), flatGrads(ex)
}

// TestExactMatchesFiniteDifferences checks the enumeration against central
// differences of the loss it computes (E_q[f] + KL by enumeration, a
// smooth function of every weight): h = 1e-6, tolerance 1e-6 relative to
// max(1, |fd|), as in the model package's checks.
func TestExactMatchesFiniteDifferences(t *testing.T) {
	const h, tol = 1e-6, 1e-6
	for _, cfg := range []model.Config{tinyCategorical, tinyBernoulli} {
		t.Run(cfg.Kind, func(t *testing.T) {
			p, x := newTiny(t, cfg, 1)
			_, grad := exactGradient(t, cfg, p, x)
			i := 0
			for pi, pt := range p.Tensors[:len(p.Tensors)-4] { // not the baseline network
				w := pt.Float64s()
				for j := range w {
					orig := w[j]
					w[j] = orig + h
					up, _ := exactGradient(t, cfg, p, x)
					w[j] = orig - h
					down, _ := exactGradient(t, cfg, p, x)
					w[j] = orig
					fd := (up - down) / (2 * h)
					if math.Abs(grad[i]-fd) > tol*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: exact gradient %.10g, finite difference %.10g", p.Names[pi], j, grad[i], fd)
					}
					i++
				}
			}
		})
	}
}

// moments draws m estimates and returns the mean of every gradient entry
// and its standard error sd/sqrt(m).
func moments(t *testing.T, e *Estimator, x []float64, tau float64, m int, seed uint64) (mean, se []float64) {
	t.Helper()
	copy(e.X.Float64s(), x)
	rng := rand.New(rand.NewPCG(seed, 5))
	var sum, sq []float64
	for range m {
		if err := e.Estimate(tau, rng); err != nil {
			t.Fatal(err)
		}
		g := flatGrads(e)
		if sum == nil {
			sum, sq = make([]float64, len(g)), make([]float64, len(g))
		}
		for i, v := range g {
			sum[i] += v
			sq[i] += v * v
		}
	}
	mean, se = make([]float64, len(sum)), make([]float64, len(sum))
	for i := range sum {
		mean[i] = sum[i] / float64(m)
		v := (sq[i]/float64(m) - mean[i]*mean[i]) * float64(m) / float64(m-1)
		se[i] = math.Sqrt(math.Max(v, 0) / float64(m))
	}
	return mean, se
}

// TestUnbiasedEstimatorsMatchEnumeration averages 4000 draws of sf, nvil and
// muprop (variance normalisation off) and requires every parameter's mean
// within 4 standard errors of the exact gradient, the standard errors
// computed from the same draws. With ~150 parameters, a correct estimator
// fails one check by chance with probability ~1%; the seeds are fixed, so
// the outcome is reproducible. A wrong sign or a missing term moves
// hundreds of standard errors.
func TestUnbiasedEstimatorsMatchEnumeration(t *testing.T) {
	const draws, maxZ = 4000, 4.0
	for _, cfg := range []model.Config{tinyCategorical, tinyBernoulli} {
		for _, name := range []string{SF, NVIL, MuProp} {
			t.Run(fmt.Sprintf("%s/%s", cfg.Kind, name), func(t *testing.T) {
				p, x := newTiny(t, cfg, 3)
				_, exact := exactGradient(t, cfg, p, x)
				e, err := New(name, cfg, p, Options{Batch: tinyBatch})
				if err != nil {
					t.Fatal(err)
				}
				mean, se := moments(t, e, x, 1, draws, 3)
				if name == NVIL {
					mean, se = mean[:len(exact)], se[:len(exact)] // not the baseline network's
				}
				worst := map[string]float64{}
				for i, ex := range exact {
					z := math.Abs(mean[i]-ex) / se[i]
					if se[i] == 0 {
						z = math.Abs(mean[i]-ex) / 1e-12
					}
					part := cfg.Part(tensorOf(p, i))
					worst[part] = math.Max(worst[part], z)
				}
				t.Logf("%s %s, %d parameters, %d draws: max |mean - exact| / SE = %.2f (encoder), %.2f (decoder)",
					cfg.Kind, name, len(exact), draws, worst[model.PartEncoder], worst[model.PartDecoder])
				for part, z := range worst {
					if z > maxZ {
						t.Errorf("%s: max |mean - exact| / SE = %.2f > %g", part, z, maxZ)
					}
				}
			})
		}
	}
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

// TestGumbelSoftmaxBiasShrinksWithTemperature measures the bias of gs,
// |mean - exact| over all parameters, at tau = 2 and tau = 0.1 from 4000
// draws each, and requires the low-temperature bias to be below the
// high-temperature one by more than 3 times the noise of the difference
// (the root sum of squared standard errors of both means).
func TestGumbelSoftmaxBiasShrinksWithTemperature(t *testing.T) {
	const draws = 4000
	for _, cfg := range []model.Config{tinyCategorical, tinyBernoulli} {
		t.Run(cfg.Kind, func(t *testing.T) {
			p, x := newTiny(t, cfg, 4)
			_, exact := exactGradient(t, cfg, p, x)
			bias := func(tau float64) (b, noise float64) {
				e, err := New(GS, cfg, p, Options{Batch: tinyBatch})
				if err != nil {
					t.Fatal(err)
				}
				mean, se := moments(t, e, x, tau, draws, 6)
				for i, ex := range exact {
					b += (mean[i] - ex) * (mean[i] - ex)
					noise += se[i] * se[i]
				}
				return math.Sqrt(b), math.Sqrt(noise)
			}
			hi, nHi := bias(2)
			lo, nLo := bias(0.1)
			t.Logf("%s: bias %.4f (± %.4f) at tau 2, %.4f (± %.4f) at tau 0.1", cfg.Kind, hi, nHi, lo, nLo)
			if hi-lo <= 3*math.Hypot(nHi, nLo) {
				t.Errorf("bias at tau 0.1 (%.4f ± %.4f) is not clearly below the bias at tau 2 (%.4f ± %.4f)", lo, nLo, hi, nHi)
			}
		})
	}
}

// TestStraightThroughAndDARNByHand checks the per-row arithmetic of st,
// annealed-st and darn against values worked out by hand for one variable
// of K = 3 with logits (0, ln 2, ln 5), so mu = (1, 2, 5)/8, the sample
// z = (0, 1, 0), and df/dz = d = (1, -1, 2):
//
//	st:          <mu, d> = 9/8, g = mu (d - 9/8) = (-1, -34, 35)/64
//	annealed-st: tau = 1/2, p = softmax(2 l) = (1, 4, 25)/30, <p, d> = 47/30,
//	             g = p (d - 47/30) / (1/2) = (-34, -616, 650)/900
//	darn:        signal d.(z - 1/3) = -1 - 2/3 = -5/3,
//	             g = -5/3 (z - mu) = (5/24, -30/24, 25/24)
//
// Tolerance: float64 rounding.
func TestStraightThroughAndDARNByHand(t *testing.T) {
	const tol = 1e-14
	logits := []float64{0, math.Log(2), math.Log(5)}
	z := []float64{0, 1, 0}
	d := []float64{1, -1, 2}
	mu := make([]float64, 3)
	model.SoftmaxGroups(mu, logits, 3, 1)
	r := row{k: 3, tau: 0.5, logits: logits, z: z, mu: mu, d: d}
	grad := func(name string) []float64 {
		g := make([]float64, 3)
		logitGrad(name, r, 0, 1, g)
		return g
	}
	st, annealed, darn := grad(ST), grad(AnnealedST), grad(DARN)
	for _, tc := range []struct {
		name      string
		got, want []float64
	}{
		{"st", st, []float64{-1.0 / 64, -34.0 / 64, 35.0 / 64}},
		{"annealed-st", annealed, []float64{-34.0 / 900, -616.0 / 900, 650.0 / 900}},
		{"darn", darn, []float64{5.0 / 24, -30.0 / 24, 25.0 / 24}},
	} {
		for i := range tc.want {
			if math.Abs(tc.got[i]-tc.want[i]) > tol {
				t.Errorf("%s: g = %v, by hand %v", tc.name, tc.got, tc.want)
				break
			}
		}
	}
}

// TestNewRejectsBadCombinations checks the refusals users can hit.
func TestNewRejectsBadCombinations(t *testing.T) {
	p, _ := newTiny(t, tinyCategorical, 5)
	noBaseline := tinyCategorical
	noBaseline.Baseline = 0
	pNo, _ := newTiny(t, noBaseline, 5)
	for _, tc := range []struct {
		name string
		cfg  model.Config
		p    *model.Params
		opt  Options
		want string
	}{
		{"rebar", tinyCategorical, p, Options{Batch: 2}, "want one of gs, st-gs"},
		{SF, tinyCategorical, p, Options{Batch: 2, RelaxedKL: true, PriorTau: 1}, "relaxed KL"},
		{NVIL, noBaseline, pNo, Options{Batch: 2}, "no baseline network"},
	} {
		_, err := New(tc.name, tc.cfg, tc.p, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s): error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestVarianceNormalisationScalesTheEncoder checks what Options.Normalize
// does: with the moving variance at 9 (so the divisor is 3) and the same
// draws, every encoder gradient entry of the normalised estimator is the
// plain one divided by 3, KL part included, while the decoder's and the
// learned prior's gradients are unchanged (float64 rounding tolerance).
func TestVarianceNormalisationScalesTheEncoder(t *testing.T) {
	const tol = 1e-12
	cfg := tinyCategorical
	cfg.Prior = model.PriorLearned
	p, x := newTiny(t, cfg, 3)
	for _, name := range []string{SF, NVIL, MuProp, DARN} {
		grads := make([][]float64, 2)
		for i, normalize := range []bool{false, true} {
			e, err := New(name, cfg, p, Options{Batch: tinyBatch, Normalize: normalize})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.SetStats(Stats{Mean: 5, Var: 9}); err != nil {
				t.Fatal(err)
			}
			copy(e.X.Float64s(), x)
			if err := e.Estimate(1, rand.New(rand.NewPCG(1, 1))); err != nil {
				t.Fatal(err)
			}
			grads[i] = flatGrads(e)
		}
		for i := range grads[0] {
			want := grads[0][i]
			if cfg.Part(tensorOf(p, i)) == model.PartEncoder {
				want /= 3
			}
			if math.Abs(grads[1][i]-want) > tol*math.Max(1, math.Abs(want)) {
				t.Fatalf("%s: %s entry %d: normalised %.15g, want %.15g", name, cfg.Part(tensorOf(p, i)), i, grads[1][i], want)
			}
		}
	}
}
