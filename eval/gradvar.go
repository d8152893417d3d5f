package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gorgonia.org/tensor"

	"gsvae/estimator"
	"gsvae/internal/op"
	"gsvae/model"
)

// GradVarOptions configures GradVar.
type GradVarOptions struct {
	// Estimators to measure (names of package estimator).
	Estimators []string
	// Taus are the temperatures at which the tempered estimators (gs,
	// st-gs, annealed-st) are measured; the others are measured once.
	Taus []float64
	// Draws is the number M of independent estimates per estimator and
	// temperature.
	Draws int
	// RefDraws is the number of muprop draws averaged into the reference
	// gradient when the model is too large to enumerate.
	RefDraws int
	// Warmup draws precede every measurement, so that the moving-average
	// baseline c of the score-function estimators has settled.
	Warmup int
	// Seed seeds the Gumbel noise.
	Seed uint64
}

// DefaultWarmup is the number of warm-up draws: c moves at rate 0.8, so 50
// draws leave 0.8^50 ~ 1e-5 of its starting value.
const DefaultWarmup = 50

// GradStat describes the draws of one estimator at one temperature for one
// part of the model (the encoder or the decoder), against the reference
// gradient g* (REBAR/RELAX conventions for the variance):
//
//	Var      = 1/P sum_i Var(g_i)                  mean per-parameter variance
//	SNR      = |mean| / sqrt(sum_i Var(g_i))       signal-to-noise ratio of the gradient vector
//	RelBias  = |mean - g*| / |g*|                  relative L2 error of the mean
//	Cosine   = mean . g* / (|mean| |g*|)
//
// RelBiasNoise = sqrt(sum_i Var(g_i)/M) / |g*| is what RelBias would be for
// an unbiased estimator from the noise of M draws alone: a RelBias near it
// is not evidence of bias.
type GradStat struct {
	Estimator    string  `json:"estimator"`
	Tau          float64 `json:"tau"` // 0 for the estimators without a temperature
	Part         string  `json:"part"`
	Draws        int     `json:"draws"`
	Var          float64 `json:"var"`
	Log10Var     float64 `json:"log10_var"`
	SNR          float64 `json:"snr"`
	RelBias      float64 `json:"rel_bias"`
	RelBiasNoise float64 `json:"rel_bias_noise"`
	Cosine       float64 `json:"cosine"`
	MsPerDraw    float64 `json:"ms_per_draw"`
}

// GradVarReport is the result of GradVar.
type GradVarReport struct {
	// Reference is "exact" (enumeration) or "muprop" (the mean of RefDraws
	// draws); RefRelSE is, per part, the reference's own relative standard
	// error sqrt(sum_i Var_i / RefDraws) / |g*| (0 when exact).
	Reference string             `json:"reference"`
	RefDraws  int                `json:"ref_draws"`
	RefRelSE  map[string]float64 `json:"ref_rel_se"`
	Stats     []GradStat         `json:"stats"`
}

// reportedParts are the parts of the model GradVar describes: a learned
// prior's gradient is exact in every estimator, and the baseline network
// is not part of the model.
var reportedParts = []string{model.PartEncoder, model.PartDecoder}

// GradVar measures the estimators' variance and bias at the weights p on
// the minibatch x (rows of cfg.Input pixels), with score-function variance
// normalisation off, so that every estimator is measured as an estimator of
// the same gradient. nvil needs cfg.Baseline > 0 (and a fitted baseline
// network to be meaningful). progress, if not nil, is called with the
// number of draws done and the total.
func GradVar(ctx context.Context, cfg model.Config, p *model.Params, x []float32, opt GradVarOptions, progress func(done, total int)) (*GradVarReport, error) {
	rows := len(x) / cfg.Input
	if rows < 1 || rows*cfg.Input != len(x) {
		return nil, fmt.Errorf("eval: gradvar: %d pixels is not a batch of %d-pixel images", len(x), cfg.Input)
	}
	if opt.Draws < 2 {
		return nil, fmt.Errorf("eval: gradvar: %d draws: need at least 2 for a variance", opt.Draws)
	}
	for _, name := range opt.Estimators {
		if err := estimator.Check(name); err != nil {
			return nil, err
		}
	}
	for _, tau := range opt.Taus {
		if !(tau > 0) {
			return nil, fmt.Errorf("eval: gradvar: temperature %v is not positive", tau)
		}
	}
	type job struct {
		name string
		tau  float64
	}
	var jobs []job
	for _, name := range opt.Estimators {
		if !estimator.Tempered(name) {
			jobs = append(jobs, job{name, 0})
			continue
		}
		for _, tau := range opt.Taus {
			jobs = append(jobs, job{name, tau})
		}
	}
	total := len(jobs) * (opt.Draws + opt.Warmup)
	exact := estimator.Enumerable(cfg, rows)
	if !exact {
		total += opt.RefDraws + opt.Warmup
	}
	done := 0
	tick := func() {
		done++
		if progress != nil {
			progress(done, total)
		}
	}
	parts := partIndex(cfg, p)
	rep := &GradVarReport{RefRelSE: map[string]float64{}}
	var ref []float64
	if exact {
		ex, err := estimator.NewExact(cfg, p, rows)
		if err != nil {
			return nil, err
		}
		copy(ex.X.Float32s(), x)
		if err := ex.Estimate(1, nil); err != nil {
			return nil, err
		}
		ref = flatten(ex.Grads())
		rep.Reference = "exact"
	} else {
		if opt.RefDraws < 2 {
			return nil, fmt.Errorf("eval: gradvar: %d reference draws: need at least 2", opt.RefDraws)
		}
		m, err := drawMoments(ctx, cfg, p, x, estimator.MuProp, 1, opt.RefDraws, opt.Warmup, opt.Seed^0x5eed, tick)
		if err != nil {
			return nil, err
		}
		ref = m.mean
		rep.Reference, rep.RefDraws = estimator.MuProp, opt.RefDraws
		for _, part := range reportedParts {
			var v, n float64
			for _, i := range parts[part] {
				v += m.variance(i) / float64(opt.RefDraws)
				n += ref[i] * ref[i]
			}
			rep.RefRelSE[part] = math.Sqrt(v / n)
		}
	}
	for ji, j := range jobs {
		tau := j.tau
		if tau == 0 {
			tau = 1 // not read by the estimators without a temperature
		}
		m, err := drawMoments(ctx, cfg, p, x, j.name, tau, opt.Draws, opt.Warmup, opt.Seed+uint64(ji), tick)
		if err != nil {
			return nil, err
		}
		for _, part := range reportedParts {
			s := m.stat(parts[part], ref)
			s.Estimator, s.Tau, s.Part, s.Draws, s.MsPerDraw = j.name, j.tau, part, opt.Draws, m.msPerDraw
			rep.Stats = append(rep.Stats, s)
		}
	}
	return rep, nil
}

// partIndex lists, for every reported part, the indices of its entries in
// the flattened gradient.
func partIndex(cfg model.Config, p *model.Params) map[string][]int {
	idx := map[string][]int{}
	off := 0
	for ti, t := range p.Tensors {
		part := cfg.Part(ti)
		for i := range t.Len() {
			idx[part] = append(idx[part], off+i)
		}
		off += t.Len()
	}
	return idx
}

// moments accumulates per-entry sums of draws of a flattened gradient.
type moments struct {
	n         int
	mean, m2  []float64 // running mean and sum of squared deviations (Welford)
	msPerDraw float64
}

func (m *moments) add(g []float64) {
	if m.mean == nil {
		m.mean, m.m2 = make([]float64, len(g)), make([]float64, len(g))
	}
	m.n++
	for i, v := range g {
		d := v - m.mean[i]
		m.mean[i] += d / float64(m.n)
		m.m2[i] += d * (v - m.mean[i])
	}
}

// variance returns the sample variance of entry i.
func (m *moments) variance(i int) float64 { return m.m2[i] / float64(m.n-1) }

// stat computes the statistics of GradStat over the entries idx.
func (m *moments) stat(idx []int, ref []float64) GradStat {
	var s GradStat
	var sumVar, diff, refSq, meanSq, dotp float64
	for _, i := range idx {
		sumVar += m.variance(i)
		d := m.mean[i] - ref[i]
		diff += d * d
		refSq += ref[i] * ref[i]
		meanSq += m.mean[i] * m.mean[i]
		dotp += m.mean[i] * ref[i]
	}
	s.Var = sumVar / float64(len(idx))
	s.Log10Var = math.Log10(s.Var)
	s.SNR = math.Sqrt(meanSq / sumVar)
	s.RelBias = math.Sqrt(diff / refSq)
	s.RelBiasNoise = math.Sqrt(sumVar / float64(m.n) / refSq)
	s.Cosine = dotp / math.Sqrt(meanSq*refSq)
	return s
}

// drawMoments draws warmup then n estimates of the named estimator at
// temperature tau on the batch x and returns their moments.
func drawMoments(ctx context.Context, cfg model.Config, p *model.Params, x []float32, name string, tau float64, n, warmup int, seed uint64, tick func()) (*moments, error) {
	est, err := estimator.New(name, cfg, p, estimator.Options{Batch: len(x) / cfg.Input})
	if err != nil {
		return nil, err
	}
	copy(est.X.Float32s(), x)
	rng := rand.New(rand.NewPCG(seed, 0x9a7))
	m := &moments{}
	start := time.Now()
	for i := range warmup + n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if i == warmup {
			start = time.Now()
		}
		if err := est.Estimate(tau, rng); err != nil {
			return nil, fmt.Errorf("%s at tau %g: %w", name, tau, err)
		}
		if i >= warmup {
			m.add(flatten(est.Grads()))
		}
		tick()
	}
	m.msPerDraw = 1000 * time.Since(start).Seconds() / float64(n)
	return m, nil
}

// flatten concatenates gradient tensors into one float64 vector.
func flatten(ts []*tensor.Dense) []float64 {
	var out []float64
	for _, t := range ts {
		out = append(out, op.Float64s(nil, t)...)
	}
	return out
}

// SortStats orders statistics by estimator (in the order of
// estimator.Names), temperature and part.
func SortStats(s []GradStat) {
	slices.SortStableFunc(s, func(a, b GradStat) int {
		if c := slices.Index(estimator.Names, a.Estimator) - slices.Index(estimator.Names, b.Estimator); c != 0 {
			return c
		}
		if a.Tau != b.Tau {
			if a.Tau < b.Tau {
				return -1
			}
			return 1
		}
		return slices.Index(reportedParts, a.Part) - slices.Index(reportedParts, b.Part)
	})
}
