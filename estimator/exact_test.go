package estimator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gsvae/model"

	"gorgonia.org/tensor"
)

// refObjective returns the exact minibatch loss sum_b w_b (E[f_b] + KL_b)
// of the oracle's network, by enumerating every code (every pair of codes
// for the SBN, weighted by p(h1 | x_upper) p(h2 | h1)), written
// independently of NewExact.
func (r *refNet) objective(x, w []float64) float64 {
	cfg := r.cfg
	codes := enumCodes(cfg)
	var total float64
	for b, wb := range w {
		img := x[b*cfg.Input : (b+1)*cfg.Input]
		xin, target := img[:cfg.In()], img[cfg.Input-cfg.Out():]
		l1, _ := r.logits(0, xin)
		var ef float64
		for _, z1 := range codes {
			q1 := codeProb(l1, z1, cfg.K)
			if !cfg.SBN() {
				f, _, _ := r.decode(z1, target)
				ef += q1 * f
				continue
			}
			l2, _ := r.logits(1, z1)
			for _, z2 := range codes {
				f, _, _ := r.decode(z2, target)
				ef += q1 * codeProb(l2, z2, cfg.K) * f
			}
		}
		var kl float64
		if !cfg.SBN() {
			kl, _, _ = r.kl(l1)
		}
		total += wb * (ef + kl)
	}
	return total
}

// exactGrad runs NewExact(cfg, p, batch) on x with n real rows and returns
// its loss and gradient.
func exactGrad(t testing.TB, cfg model.Config, p *model.Params, x []float64, batch, n int) (float64, []float64) {
	t.Helper()
	ex, err := NewExact(cfg, p, batch)
	if err != nil {
		t.Fatal(err)
	}
	copy(ex.X.Float64s(), x)
	if err := ex.SetRows(n); err != nil {
		t.Fatal(err)
	}
	if err := ex.Estimate(1, nil); err != nil {
		t.Fatal(err)
	}
	return ex.Loss(), flatGrads(ex)
}

// TestExactMatchesFiniteDifferences checks NewExact's gradient of every
// parameter (the baseline network's excluded: the loss does not read it)
// against central differences, h = 1e-5, of the exact loss computed by
// the plain-Go oracle (refNet.objective), for the VAE (categorical,
// Bernoulli, each also with a learned prior) and the SBN (categorical,
// Bernoulli). Tolerance 1e-8 of max(1, max |gradient|): the differences'
// truncation error is O(h^2) = 1e-10 times the third derivatives, their
// rounding error about 1e-16 |L| / h = 1e-11 (the largest difference seen
// is 2e-10), while a wrong term moves a gradient by O(|gradient|). NewExact's loss must equal
// the oracle's to 1e-12.
//
// The batch is 5 with 3 real rows (SetRows(3)); the padding rows hold
// other images, whose weight must be 0.
func TestExactMatchesFiniteDifferences(t *testing.T) {
	const h, tol, batch, rows = 1e-5, 1e-8, 5, 3
	for _, m := range allModels() {
		t.Run(m.name, func(t *testing.T) {
			p, x := newTiny(t, m.cfg, 1, batch)
			w := rowWeights(batch, rows)
			loss, grad := exactGrad(t, m.cfg, p, x, batch, rows)
			if want := newRef(m.cfg, p).objective(x, w); math.Abs(loss-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("loss %.15g, oracle %.15g", loss, want)
			}
			var fd []float64
			for i, pt := range p.Tensors {
				if m.cfg.Part(i) == model.PartBaseline {
					continue
				}
				v := pt.Float64s()
				for j := range v {
					orig := v[j]
					v[j] = orig + h
					up := newRef(m.cfg, p).objective(x, w)
					v[j] = orig - h
					down := newRef(m.cfg, p).objective(x, w)
					v[j] = orig
					fd = append(fd, (up-down)/(2*h))
				}
			}
			if msg := closeVec(p, grad, fd, tol); msg != "" {
				t.Errorf("%d parameters: exact gradient vs finite difference: %s", len(fd), msg)
			}
			var worst float64
			for i := range fd {
				worst = math.Max(worst, math.Abs(grad[i]-fd[i]))
			}
			t.Logf("%d parameters, max |gradient| %.3g, max |exact - finite difference| %.2g", len(fd), maxAbs(fd), worst)
		})
	}
}

// TestExactPaddingRows checks that NewExact with SetRows(3) in a batch of
// 5 gives exactly (1e-13 relative) the loss and gradient of NewExact with
// a batch of 3 on the same images, whatever the padding rows hold and
// whatever row count an earlier estimate used (5, then 3; a row weight
// left over from the first would count a padding image).
func TestExactPaddingRows(t *testing.T) {
	const tol = 1e-13
	for _, m := range allModels() {
		t.Run(m.name, func(t *testing.T) {
			p, x := newTiny(t, m.cfg, 3, 5)
			want, wantGrad := exactGrad(t, m.cfg, p, x[:3*m.cfg.Input], 3, 3)
			ex, err := NewExact(m.cfg, p, 5)
			if err != nil {
				t.Fatal(err)
			}
			copy(ex.X.Float64s(), x)
			for _, n := range []int{5, 3} {
				if err := ex.SetRows(n); err != nil {
					t.Fatal(err)
				}
				if err := ex.Estimate(1, nil); err != nil {
					t.Fatal(err)
				}
			}
			if math.Abs(ex.Loss()-want) > tol*math.Max(1, math.Abs(want)) {
				t.Errorf("loss %.15g with 2 padding rows, %.15g with a batch of 3", ex.Loss(), want)
			}
			if msg := closeVec(p, flatGrads(ex), wantGrad, tol); msg != "" {
				t.Errorf("gradient with 2 padding rows vs a batch of 3: %s", msg)
			}
		})
	}
}

// TestExactIgnoresTemperature checks that NewExact's estimate is the same
// at tau = 0.1 and 3 (it draws no noise; a nil rng must do).
func TestExactIgnoresTemperature(t *testing.T) {
	p, x := newTiny(t, sbnCat, 1, 3)
	ex, err := NewExact(sbnCat, p, 3)
	if err != nil {
		t.Fatal(err)
	}
	copy(ex.X.Float64s(), x)
	var grads [][]float64
	for _, tau := range []float64{0.1, 3} {
		if err := ex.Estimate(tau, nil); err != nil {
			t.Fatal(err)
		}
		grads = append(grads, flatGrads(ex))
	}
	if msg := closeVec(p, grads[1], grads[0], 0); msg != "" {
		t.Errorf("tau 3 vs tau 0.1: %s", msg)
	}
}

// TestEnumerationLimits checks Codes and Enumerable at the limits
// MaxCodes = 4096 codes and MaxEnumRows = 65536 decoded rows, and that
// NewExact refuses beyond them with a message naming the limit (and
// accepts a batch of exactly MaxEnumRows decoded rows).
func TestEnumerationLimits(t *testing.T) {
	if MaxCodes != 4096 || MaxEnumRows != 65536 {
		t.Fatalf("MaxCodes %d, MaxEnumRows %d: the documented limits are 4096 and 65536", MaxCodes, MaxEnumRows)
	}
	bern := func(n int) model.Config {
		return model.Config{Task: model.TaskVAE, N: n, K: 2, Hidden: []int{4}, Input: 4, Kind: model.LatentBernoulli}
	}
	cat := vaeCat // 9 codes: at most 7281 images
	for _, tc := range []struct {
		cfg         model.Config
		batch       int
		codes       int
		enumerable  bool
		errContains []string
	}{
		{bern(12), 16, 4096, true, nil},
		{bern(12), 17, 4096, false, []string{"17 images times 4096 codes", "65536 (estimator.MaxEnumRows)"}},
		{bern(13), 1, 0, false, []string{"2^13 codes", "4096 (estimator.MaxCodes)"}},
		{model.Config{Task: model.TaskVAE, N: 20, K: 10, Input: 4}, 1, 0, false, []string{"10^20 codes", "4096 (estimator.MaxCodes)"}},
		{cat, 7281, 9, true, nil},
		{cat, 7282, 9, false, []string{"65538 decoded rows", "65536 (estimator.MaxEnumRows)"}},
	} {
		name := fmt.Sprintf("%dx%d/batch=%d", tc.cfg.N, tc.cfg.K, tc.batch)
		if got := Codes(tc.cfg); got != tc.codes {
			t.Errorf("%s: Codes %d, want %d", name, got, tc.codes)
		}
		if got := Enumerable(tc.cfg, tc.batch); got != tc.enumerable {
			t.Errorf("%s: Enumerable %t, want %t", name, got, tc.enumerable)
		}
		if tc.enumerable {
			if tc.batch*tc.codes == MaxEnumRows { // the limit itself is allowed
				p, err := model.NewParams(tc.cfg, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := NewExact(tc.cfg, p, tc.batch); err != nil {
					t.Errorf("%s: NewExact at exactly MaxEnumRows decoded rows: %v", name, err)
				}
			}
			continue
		}
		_, err := NewExact(tc.cfg, nil, tc.batch)
		if err == nil {
			t.Errorf("%s: NewExact accepted it", name)
			continue
		}
		for _, s := range tc.errContains {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: NewExact error %q does not contain %q", name, err, s)
			}
		}
	}
}
