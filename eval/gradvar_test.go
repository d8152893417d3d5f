package eval_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"gsvae/estimator"
	"gsvae/eval"
	"gsvae/model"
)

// TestGradVarOnTinyModel measures every estimator on a model small enough
// for the exact gradient (2 variables of 3 classes; weights at 3 times the
// initial scale so that f depends strongly on z) and checks what theory
// says, each with a margin that the draws' own noise justifies:
//   - sf, nvil and muprop are unbiased: their relative bias is within 2
//     times RelBiasNoise, the value pure noise gives (|mean - g*|^2 sums
//     ~300 squared errors whose expectation is RelBiasNoise^2 |g*|^2, so it
//     concentrates near it);
//   - the bias of gs falls from tau = 2 to tau = 0.1;
//   - the encoder variance of sf exceeds that of muprop and of nvil (with
//     its baseline fitted by estimator.FitBaseline).
func TestGradVarOnTinyModel(t *testing.T) {
	cfg := model.Config{N: 2, K: 3, Hidden: []int{8, 6}, Input: 6, Kind: model.LatentCategorical, Prior: model.PriorUniform}
	rng := rand.New(rand.NewPCG(8, 1))
	p, err := model.NewParams(cfg, tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range p.Tensors {
		for i := range pt.Float32s() {
			pt.Float32s()[i] *= 3
		}
	}
	x := make([]float32, 4*cfg.Input)
	for i := range x {
		x[i] = float32(rng.IntN(2))
	}
	cfgB, pB, err := estimator.FitBaseline(cfg, p, x, estimator.FitBaselineSteps, 2)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eval.GradVar(context.Background(), cfgB, pB, x, eval.GradVarOptions{
		Estimators: estimator.Names, Taus: []float64{0.1, 2}, Draws: 2000, Warmup: eval.DefaultWarmup, Seed: 3,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reference != "exact" {
		t.Fatalf("reference %q, want exact", rep.Reference)
	}
	stat := map[[3]any]eval.GradStat{}
	for _, s := range rep.Stats {
		stat[[3]any{s.Estimator, s.Tau, s.Part}] = s
		t.Logf("%-11s tau %-4g %-7s log10 var %6.2f  snr %6.3f  rel bias %.4f (noise %.4f)  cos %.4f",
			s.Estimator, s.Tau, s.Part, s.Log10Var, s.SNR, s.RelBias, s.RelBiasNoise, s.Cosine)
	}
	for _, name := range []string{estimator.SF, estimator.NVIL, estimator.MuProp} {
		for _, part := range []string{model.PartEncoder, model.PartDecoder} {
			s := stat[[3]any{name, 0.0, part}]
			if !(s.RelBias <= 2*s.RelBiasNoise) {
				t.Errorf("%s %s: relative bias %.4f above twice its noise level %.4f", name, part, s.RelBias, s.RelBiasNoise)
			}
		}
	}
	for _, part := range []string{model.PartEncoder, model.PartDecoder} {
		lo, hi := stat[[3]any{estimator.GS, 0.1, part}], stat[[3]any{estimator.GS, 2.0, part}]
		if !(lo.RelBias+2*lo.RelBiasNoise < hi.RelBias) {
			t.Errorf("gs %s: relative bias %.4f (noise %.4f) at tau 0.1 is not clearly below %.4f at tau 2", part, lo.RelBias, lo.RelBiasNoise, hi.RelBias)
		}
	}
	sf := stat[[3]any{estimator.SF, 0.0, model.PartEncoder}]
	for _, name := range []string{estimator.MuProp, estimator.NVIL} {
		if s := stat[[3]any{name, 0.0, model.PartEncoder}]; !(s.Var < sf.Var) {
			t.Errorf("encoder variance of %s %.4g is not below that of sf %.4g", name, s.Var, sf.Var)
		}
	}
}

// randomModel returns float32 weights of cfg drawn from seed and a batch
// of rows random binary images of cfg.Input pixels.
func randomModel(t *testing.T, cfg model.Config, rows int, seed uint64) (*model.Params, []float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	p, err := model.NewParams(cfg, tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, rows*cfg.Input)
	for i := range x {
		x[i] = float32(rng.IntN(2))
	}
	return p, x
}

// TestGradVarReference checks where GradVar stops enumerating: the
// reference is exact while the batch times K^N is at most
// estimator.MaxEnumRows (65,536), and the mean of RefDraws muprop draws
// beyond, or when K^N exceeds estimator.MaxCodes (4,096). A 3x4 model (64
// codes) of 6-pixel images is enumerated at batch 1,024 and not at 1,025;
// a 4,097-code model never is. The muprop reference reports its draws and
// a finite relative standard error per part.
func TestGradVarReference(t *testing.T) {
	small := model.Config{N: 3, K: 4, Hidden: []int{4}, Input: 6}
	wide := model.Config{N: 1, K: 4097, Hidden: []int{4}, Input: 6}
	for _, tc := range []struct {
		cfg  model.Config
		rows int
		want string
	}{
		{small, 1024, "exact"},
		{small, 1025, estimator.MuProp},
		{wide, 1, estimator.MuProp},
	} {
		p, x := randomModel(t, tc.cfg, tc.rows, 4)
		rep, err := eval.GradVar(context.Background(), tc.cfg, p, x, eval.GradVarOptions{
			Estimators: []string{estimator.ST}, Draws: 2, RefDraws: 3, Seed: 1,
		}, nil)
		if err != nil {
			t.Fatalf("K^N = %d, batch %d: %v", estimator.Codes(tc.cfg), tc.rows, err)
		}
		if rep.Reference != tc.want {
			t.Errorf("%d^%d codes, batch %d: reference %q, want %q", tc.cfg.K, tc.cfg.N, tc.rows, rep.Reference, tc.want)
		}
		if tc.want == estimator.MuProp {
			for _, part := range []string{model.PartEncoder, model.PartDecoder} {
				if se := rep.RefRelSE[part]; rep.RefDraws != 3 || math.IsNaN(se) || math.IsInf(se, 0) || se <= 0 {
					t.Errorf("%d^%d codes, batch %d: %d reference draws, %s relative standard error %v", tc.cfg.K, tc.cfg.N, tc.rows, rep.RefDraws, part, se)
				}
			}
		}
	}
}

// TestGradVarDoesNotEnumerateLargeBatches measures a 784-pixel model with
// K^N = 4,096 codes (12 Bernoulli variables) on a batch of 100 images:
// enumeration would decode 409,600 rows of 784 pixels (it took 17.9 GB
// before GradVar checked the batch), so GradVar must fall back on a
// muprop reference, and allocate less than 256 MB in all.
func TestGradVarDoesNotEnumerateLargeBatches(t *testing.T) {
	cfg := model.Config{N: 12, K: 2, Kind: model.LatentBernoulli, Hidden: []int{8}, Input: model.Pixels}
	if estimator.Codes(cfg) != 4096 {
		t.Fatalf("K^N = %d, want 4096", estimator.Codes(cfg))
	}
	p, x := randomModel(t, cfg, 100, 5)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep, err := eval.GradVar(context.Background(), cfg, p, x, eval.GradVarOptions{
		Estimators: []string{estimator.GS}, Taus: []float64{1}, Draws: 2, RefDraws: 2, Seed: 1,
	}, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reference != estimator.MuProp {
		t.Errorf("reference %q, want muprop", rep.Reference)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("GradVar allocated %d MB", grew>>20)
	}
}

// TestGradVarOnTinySBN measures the score-function estimators on a
// two-layer belief network small enough for the exact gradient (2
// variables of 3 classes per layer, 3-pixel halves, weights at 3 times
// the initial scale, nvil's baseline fitted), for both latent kinds:
// sf, nvil and muprop, whose score terms reach both layers, must be
// unbiased, with the margin of TestGradVarOnTinyModel (relative bias
// within 2 times RelBiasNoise). A score term that misses h1, or takes
// p(h1) for p(h2 | h1), is biased by far more.
func TestGradVarOnTinySBN(t *testing.T) {
	for _, kind := range []string{model.LatentCategorical, model.LatentBernoulli} {
		cfg := model.Config{Task: model.TaskSBN, N: 2, K: 3, Hidden: []int{}, Input: 6, Kind: kind}
		if kind == model.LatentBernoulli {
			cfg.K = 2
		}
		t.Run(cfg.Describe(), func(t *testing.T) {
			p, x := randomModel(t, cfg, 4, 9)
			for _, pt := range p.Tensors {
				for i := range pt.Float32s() {
					pt.Float32s()[i] *= 3
				}
			}
			cfgB, pB, err := estimator.FitBaseline(cfg, p, x, estimator.FitBaselineSteps, 2)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{estimator.SF, estimator.NVIL, estimator.MuProp}
			rep, err := eval.GradVar(context.Background(), cfgB, pB, x, eval.GradVarOptions{
				Estimators: names, Draws: 2000, Warmup: eval.DefaultWarmup, Seed: 3,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Reference != "exact" {
				t.Fatalf("reference %q, want exact", rep.Reference)
			}
			for _, s := range rep.Stats {
				t.Logf("%-7s %-7s log10 var %6.2f  rel bias %.4f (noise %.4f)  cos %.4f", s.Estimator, s.Part, s.Log10Var, s.RelBias, s.RelBiasNoise, s.Cosine)
				if !(s.RelBias <= 2*s.RelBiasNoise) {
					t.Errorf("%s %s: relative bias %.4f above twice its noise level %.4f", s.Estimator, s.Part, s.RelBias, s.RelBiasNoise)
				}
			}
		})
	}
}

// TestGradVarErrors checks the refusals of GradVar, each on an otherwise
// good request (the 3x4 model of TestGradVarReference, 2 images): pixels
// that are not a whole number of images or no image at all, fewer than 2
// draws, an unknown estimator, a temperature that is not positive (0, -1,
// NaN), and fewer than 2 reference draws when the reference cannot be
// exact (a model of 65^2 = 4,225 codes).
func TestGradVarErrors(t *testing.T) {
	small := model.Config{N: 3, K: 4, Hidden: []int{4}, Input: 6}
	many := model.Config{N: 2, K: 65, Hidden: []int{4}, Input: 6}
	p, x := randomModel(t, small, 2, 4)
	pw, xw := randomModel(t, many, 2, 4)
	good := eval.GradVarOptions{Estimators: []string{estimator.GS}, Taus: []float64{1}, Draws: 2, RefDraws: 2, Seed: 1}
	with := func(f func(o *eval.GradVarOptions)) eval.GradVarOptions {
		o := good
		f(&o)
		return o
	}
	for _, tc := range []struct {
		name string
		cfg  model.Config
		p    *model.Params
		x    []float32
		opt  eval.GradVarOptions
	}{
		{"pixels not whole images", small, p, x[:len(x)-1], good},
		{"no images", small, p, nil, good},
		{"one draw", small, p, x, with(func(o *eval.GradVarOptions) { o.Draws = 1 })},
		{"unknown estimator", small, p, x, with(func(o *eval.GradVarOptions) { o.Estimators = []string{"rebar"} })},
		{"temperature 0", small, p, x, with(func(o *eval.GradVarOptions) { o.Taus = []float64{1, 0} })},
		{"temperature -1", small, p, x, with(func(o *eval.GradVarOptions) { o.Taus = []float64{-1} })},
		{"temperature NaN", small, p, x, with(func(o *eval.GradVarOptions) { o.Taus = []float64{math.NaN()} })},
		{"one reference draw", many, pw, xw, with(func(o *eval.GradVarOptions) { o.RefDraws = 1 })},
	} {
		if _, err := eval.GradVar(context.Background(), tc.cfg, tc.p, tc.x, tc.opt, nil); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := eval.GradVar(context.Background(), small, p, x, good, nil); err != nil {
		t.Errorf("the good request: %v", err)
	}
}

// TestGradVarProgress checks GradVar's progress calls: one per draw,
// warm-up draws included, with the count done (1, 2, ...) and the total,
// which is the number of (estimator, temperature) jobs times Draws +
// Warmup, plus RefDraws + Warmup when the reference is muprop's mean.
// Jobs: gs at 2 temperatures and sf (which has none) make 3.
func TestGradVarProgress(t *testing.T) {
	small := model.Config{N: 3, K: 4, Hidden: []int{4}, Input: 6}
	many := model.Config{N: 2, K: 65, Hidden: []int{4}, Input: 6} // 4,225 codes: not enumerable
	opt := eval.GradVarOptions{Estimators: []string{estimator.GS, estimator.SF}, Taus: []float64{0.5, 2}, Draws: 4, RefDraws: 5, Warmup: 2, Seed: 1}
	for _, tc := range []struct {
		cfg   model.Config
		total int
	}{
		{small, 3 * (4 + 2)},
		{many, 3*(4+2) + 5 + 2},
	} {
		p, x := randomModel(t, tc.cfg, 2, 6)
		var done, totals []int
		if _, err := eval.GradVar(context.Background(), tc.cfg, p, x, opt, func(d, total int) {
			done, totals = append(done, d), append(totals, total)
		}); err != nil {
			t.Fatal(err)
		}
		if len(done) != tc.total {
			t.Errorf("%d^%d codes: %d progress calls, want %d", tc.cfg.K, tc.cfg.N, len(done), tc.total)
		}
		for i := range done {
			if done[i] != i+1 || totals[i] != tc.total {
				t.Errorf("%d^%d codes: call %d reported %d of %d, want %d of %d", tc.cfg.K, tc.cfg.N, i, done[i], totals[i], i+1, tc.total)
				break
			}
		}
	}
}

// TestGradVarStatsFromDraws recomputes every statistic GradVar reports
// from draws made here with the estimators' public API, replaying GradVar's
// random streams (job i of the (estimator, temperature) list draws from
// PCG(Seed + i, 0x9a7), the muprop reference from PCG(Seed ^ 0x5eed,
// 0x9a7), each after Warmup draws that are not measured), and the
// statistics computed in two passes from the definitions of
// eval.GradStat, per part (encoder, decoder) of the flattened gradient:
// the exact reference (the 3x4 model of TestGradVarReference) and the
// muprop one with its relative standard error per part (a model of 65^2 =
// 4,225 codes). Tolerance 1e-9 relative: the same float32 draws, averaged in
// float64 in another order (Welford's running moments in GradVar).
func TestGradVarStatsFromDraws(t *testing.T) {
	const tol = 1e-9
	small := model.Config{N: 3, K: 4, Hidden: []int{4}, Input: 6}
	many := model.Config{N: 2, K: 65, Hidden: []int{4}, Input: 6} // 4,225 codes: not enumerable
	opt := eval.GradVarOptions{Estimators: []string{estimator.GS, estimator.SF}, Taus: []float64{0.5, 2}, Draws: 30, RefDraws: 20, Warmup: 3, Seed: 11}
	jobs := []struct {
		name     string
		tau, run float64 // the reported temperature, and the one the draws use
	}{{estimator.GS, 0.5, 0.5}, {estimator.GS, 2, 2}, {estimator.SF, 0, 1}}
	for _, cfg := range []model.Config{small, many} {
		t.Run(cfg.Describe(), func(t *testing.T) {
			p, x := randomModel(t, cfg, 2, 7)
			rep, err := eval.GradVar(context.Background(), cfg, p, x, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			parts := map[string][]int{}
			off := 0
			for ti, pt := range p.Tensors {
				for i := range pt.Len() {
					parts[cfg.Part(ti)] = append(parts[cfg.Part(ti)], off+i)
				}
				off += pt.Len()
			}
			// draws returns n draws of the named estimator after opt.Warmup more.
			draws := func(name string, tau float64, n int, seed uint64) [][]float64 {
				e, err := estimator.New(name, cfg, p, estimator.Options{Batch: 2})
				if err != nil {
					t.Fatal(err)
				}
				copy(e.X.Float32s(), x)
				rng := rand.New(rand.NewPCG(seed, 0x9a7))
				var out [][]float64
				for i := range opt.Warmup + n {
					if err := e.Estimate(tau, rng); err != nil {
						t.Fatal(err)
					}
					if i >= opt.Warmup {
						var g []float64
						for _, gt := range e.Grads() {
							for _, v := range gt.Float32s() {
								g = append(g, float64(v))
							}
						}
						out = append(out, g)
					}
				}
				return out
			}
			// moments returns the mean and the n-1 variance of every entry.
			moments := func(ds [][]float64) (mean, variance []float64) {
				mean, variance = make([]float64, len(ds[0])), make([]float64, len(ds[0]))
				for _, d := range ds {
					for i, v := range d {
						mean[i] += v / float64(len(ds))
					}
				}
				for _, d := range ds {
					for i, v := range d {
						variance[i] += (v - mean[i]) * (v - mean[i]) / float64(len(ds)-1)
					}
				}
				return mean, variance
			}
			near := func(what string, got, want float64) {
				t.Helper()
				if !(math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)) {
					t.Errorf("%s = %.15g, recomputed %.15g", what, got, want)
				}
			}
			var ref []float64
			if estimator.Enumerable(cfg, 2) {
				ex, err := estimator.NewExact(cfg, p, 2)
				if err != nil {
					t.Fatal(err)
				}
				copy(ex.X.Float32s(), x)
				if err := ex.Estimate(1, nil); err != nil {
					t.Fatal(err)
				}
				for _, gt := range ex.Grads() {
					for _, v := range gt.Float32s() {
						ref = append(ref, float64(v))
					}
				}
				if rep.Reference != "exact" {
					t.Fatalf("reference %q, want exact", rep.Reference)
				}
			} else {
				var variance []float64
				ref, variance = moments(draws(estimator.MuProp, 1, opt.RefDraws, opt.Seed^0x5eed))
				if rep.Reference != estimator.MuProp || rep.RefDraws != opt.RefDraws {
					t.Fatalf("reference %q of %d draws, want muprop of %d", rep.Reference, rep.RefDraws, opt.RefDraws)
				}
				for _, part := range []string{model.PartEncoder, model.PartDecoder} {
					var v, n float64
					for _, i := range parts[part] {
						v += variance[i] / float64(opt.RefDraws)
						n += ref[i] * ref[i]
					}
					near("RefRelSE "+part, rep.RefRelSE[part], math.Sqrt(v/n))
				}
			}
			if len(rep.Stats) != 2*len(jobs) {
				t.Fatalf("%d statistics, want %d", len(rep.Stats), 2*len(jobs))
			}
			for ji, j := range jobs {
				mean, variance := moments(draws(j.name, j.run, opt.Draws, opt.Seed+uint64(ji)))
				for pi, part := range []string{model.PartEncoder, model.PartDecoder} {
					s := rep.Stats[2*ji+pi]
					what := fmt.Sprintf("%s tau %g %s", j.name, j.tau, part)
					if s.Estimator != j.name || s.Tau != j.tau || s.Part != part || s.Draws != opt.Draws {
						t.Fatalf("statistic %d is %s tau %g %s of %d draws, want %s of %d", 2*ji+pi, s.Estimator, s.Tau, s.Part, s.Draws, what, opt.Draws)
					}
					var sumVar, diff, refSq, meanSq, dot float64
					for _, i := range parts[part] {
						sumVar += variance[i]
						diff += (mean[i] - ref[i]) * (mean[i] - ref[i])
						refSq += ref[i] * ref[i]
						meanSq += mean[i] * mean[i]
						dot += mean[i] * ref[i]
					}
					P := float64(len(parts[part]))
					near(what+": Var", s.Var, sumVar/P)
					near(what+": Log10Var", s.Log10Var, math.Log10(sumVar/P))
					near(what+": SNR", s.SNR, math.Sqrt(meanSq/sumVar))
					near(what+": RelBias", s.RelBias, math.Sqrt(diff/refSq))
					near(what+": RelBiasNoise", s.RelBiasNoise, math.Sqrt(sumVar/float64(opt.Draws)/refSq))
					near(what+": Cosine", s.Cosine, dot/math.Sqrt(meanSq*refSq))
				}
			}
		})
	}
}

// TestGradVarTimesDraws checks MsPerDraw, the time of one measured draw:
// summed over the jobs, MsPerDraw times Draws must fit in the time GradVar
// took (it times the measured draws only) and make up at least a quarter
// of it (500 draws of each job dominate the call; building the graphs and
// the exact reference take a few milliseconds).
func TestGradVarTimesDraws(t *testing.T) {
	small := model.Config{N: 3, K: 4, Hidden: []int{4}, Input: 6}
	p, x := randomModel(t, small, 2, 8)
	start := time.Now()
	rep, err := eval.GradVar(context.Background(), small, p, x, eval.GradVarOptions{
		Estimators: []string{estimator.ST, estimator.SF}, Draws: 500, Warmup: 5, Seed: 2,
	}, nil)
	wall := time.Since(start).Seconds()
	if err != nil {
		t.Fatal(err)
	}
	var timed float64
	for _, s := range rep.Stats {
		if s.Part == model.PartEncoder { // one of the two statistics of each job
			timed += s.MsPerDraw * float64(s.Draws) / 1000
		}
	}
	t.Logf("draws timed %.3f s of %.3f s", timed, wall)
	if !(timed <= wall && timed >= wall/4) {
		t.Errorf("MsPerDraw x Draws sums to %.4f s of a call of %.4f s", timed, wall)
	}
}

// TestSortStats checks the order SortStats gives: by estimator in the
// order of estimator.Names, then by temperature, then encoder before
// decoder.
func TestSortStats(t *testing.T) {
	var want []eval.GradStat
	for _, s := range []struct {
		name string
		tau  float64
	}{{estimator.GS, 0.1}, {estimator.GS, 1}, {estimator.ST, 0}, {estimator.SF, 0}, {estimator.DARN, 0}} {
		for _, part := range []string{model.PartEncoder, model.PartDecoder} {
			want = append(want, eval.GradStat{Estimator: s.name, Tau: s.tau, Part: part})
		}
	}
	got := slices.Clone(want)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
	slices.Reverse(got[:3])
	eval.SortStats(got)
	if !slices.Equal(got, want) {
		t.Errorf("sorted:\n%v\nwant\n%v", got, want)
	}
}
