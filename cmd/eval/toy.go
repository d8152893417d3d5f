package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gsvae/estimator"
	"gsvae/gumbel"
	"gsvae/internal/chart"
	"gsvae/internal/cli"
)

// toyFlags are the settings of `eval toy`.
type toyFlags struct {
	k                 int
	t, lr, optTau     float64
	estimators, taus  string
	draws, steps      int
	seed              uint64
	out               string
	names             []string
	tauList           []float64
	problem           estimator.Toy
	exactAtStart, mu0 []float64
}

// toyStat is one row of the toy's table: an estimator's draws at the
// uniform logits l = 0, against the exact gradient g*.
type toyStat struct {
	name      string
	tau       float64 // 0 for the estimators without a temperature
	bias      float64 // |mean - g*|
	variance  float64 // sum_i Var(g_i)
	mse       float64 // mean |g - g*|^2 = bias^2 + variance
	finalBest float64 // q(best class), averaged over the last 10% of the SGD steps
	finalLoss float64 // and the exact loss, averaged likewise
}

func runToy(ctx context.Context, args []string, stdout io.Writer) error {
	f := toyFlags{k: 2, t: 0.45, lr: 0.1, optTau: 0.5, estimators: strings.Join(estimator.Names, ","), taus: "0.1,0.25,0.5,1,2",
		draws: 10000, steps: 10000, seed: 1, out: "checkpoints/toy"}
	fs := flag.NewFlagSet("eval toy", flag.ContinueOnError)
	fs.IntVar(&f.k, "K", f.k, "`classes` of the toy's categorical variable (2: the Bernoulli problem)")
	fs.Float64Var(&f.t, "t", f.t, "`target` t_0 (the others get (1-t)/(K-1)); 0.45 and 0.499 are the usual ones")
	fs.StringVar(&f.estimators, "estimators", f.estimators, "comma-separated estimator `names`")
	fs.StringVar(&f.taus, "taus", f.taus, "comma-separated `temperatures` for gs, st-gs and annealed-st")
	fs.IntVar(&f.draws, "draws", f.draws, "gradient draws per estimator and temperature (2 to 10000000)")
	fs.IntVar(&f.steps, "steps", f.steps, "SGD `steps` of the optimisation run per estimator (1 to 10000000)")
	fs.Float64Var(&f.lr, "lr", f.lr, "SGD learning `rate` of the optimisation runs")
	fs.Float64Var(&f.optTau, "opt-tau", f.optTau, "`temperature` of the tempered estimators in the optimisation runs")
	fs.Uint64Var(&f.seed, "seed", f.seed, "random `seed`")
	fs.StringVar(&f.out, "out", f.out, "output `folder` for toy.md, toy.csv and the plots")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	if err := f.parse(); err != nil {
		return err
	}
	var stats []toyStat
	for i, name := range f.names {
		taus := []float64{0}
		if estimator.Tempered(name) {
			taus = f.tauList
		}
		for j, tau := range taus {
			if err := ctx.Err(); err != nil {
				return err
			}
			s, err := f.measure(name, tau, rand.New(rand.NewPCG(f.seed, uint64(100*i+j))))
			if err != nil {
				return err
			}
			stats = append(stats, s)
		}
	}
	curves, err := f.optimise(ctx, stats)
	if err != nil {
		return err
	}
	return f.write(stats, curves, stdout)
}

// parse checks the flags and sets up the problem.
func (f *toyFlags) parse() error {
	var err error
	if f.problem, err = estimator.NewToy(f.k, f.t); err != nil {
		return cli.UsageError{Err: err}
	}
	if f.names, err = parseEstimators(f.estimators); err != nil {
		return err
	}
	if f.tauList, err = parseTaus(f.taus); err != nil {
		return err
	}
	switch {
	case f.draws < 2 || f.draws > 10000000:
		return cli.Usagef("-draws %d: want 2 to 10000000", f.draws)
	case f.steps < 1 || f.steps > 10000000:
		return cli.Usagef("-steps %d: want 1 to 10000000", f.steps)
	case !(f.lr > 0) || f.lr > 1e4:
		return cli.Usagef("-lr %v: want 0 < lr <= 1e4", f.lr)
	case !(f.optTau > 0) || f.optTau > 1e4:
		return cli.Usagef("-opt-tau %v: want 0 < tau <= 1e4", f.optTau)
	}
	f.exactAtStart = f.problem.Gradient(make([]float64, f.k))
	return nil
}

// measure draws the estimator at l = 0 and returns its bias, variance and
// mean squared error.
func (f *toyFlags) measure(name string, tau float64, rng *rand.Rand) (toyStat, error) {
	s, err := f.problem.NewSampler(name)
	if err != nil {
		return toyStat{}, err
	}
	run := tau
	if run == 0 {
		run = 1 // not read
	}
	logits := make([]float64, f.k)
	mean, sq := make([]float64, f.k), make([]float64, f.k)
	var mse float64
	for range f.draws {
		g := s.Grad(logits, run, rng)
		for i, v := range g {
			mean[i] += v / float64(f.draws)
			sq[i] += v * v / float64(f.draws)
			mse += (v - f.exactAtStart[i]) * (v - f.exactAtStart[i]) / float64(f.draws)
		}
	}
	st := toyStat{name: name, tau: tau, mse: mse}
	for i := range mean {
		st.bias += (mean[i] - f.exactAtStart[i]) * (mean[i] - f.exactAtStart[i])
		st.variance += (sq[i] - mean[i]*mean[i]) * float64(f.draws) / float64(f.draws-1)
	}
	st.bias = math.Sqrt(st.bias)
	return st, nil
}

// optimise runs SGD from l = 0 with every estimator (the tempered ones at
// -opt-tau), records q(best class) along the way, and fills the final
// values into stats.
func (f *toyFlags) optimise(ctx context.Context, stats []toyStat) ([]chart.Series, error) {
	bestClass := f.problem.Best()
	var curves []chart.Series
	for i, name := range f.names {
		s, err := f.problem.NewSampler(name)
		if err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(f.seed, uint64(1_000_000+i)))
		logits := make([]float64, f.k)
		curve := chart.Series{Name: name}
		mu := make([]float64, f.k)
		every := max(1, f.steps/200)
		tail := max(1, f.steps/10) // the steps averaged into the final values
		var best, loss float64
		for step := 0; step <= f.steps; step++ {
			gumbel.SoftmaxGroups(mu, logits, f.k, 1)
			if step%every == 0 || step == f.steps {
				curve.X, curve.Y = append(curve.X, float64(step)), append(curve.Y, mu[bestClass])
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			if step > f.steps-tail {
				best += mu[bestClass] / float64(tail)
				loss += f.problem.Loss(logits) / float64(tail)
			}
			if step == f.steps {
				break
			}
			for j, v := range s.Grad(logits, f.optTau, rng) {
				logits[j] -= f.lr * v
			}
		}
		curves = append(curves, curve)
		for j := range stats {
			if stats[j].name == name {
				stats[j].finalBest, stats[j].finalLoss = best, loss
			}
		}
	}
	return curves, nil
}

// write prints the table and writes toy.md, toy.csv and the plots.
func (f *toyFlags) write(stats []toyStat, curves []chart.Series, stdout io.Writer) error {
	best := f.problem.Best()
	optimum := f.problem.Loss(func() []float64 { l := make([]float64, f.k); l[best] = 50; return l }())
	var md strings.Builder
	fmt.Fprintf(&md, "# Toy problem: K = %d, t = %g\n\nminimise E[sum_k (z_k - t_k)^2], z ~ Cat(softmax(l)); the best code is class %d (loss %.4f). ", f.k, f.t, best, optimum)
	fmt.Fprintf(&md, "Statistics of %d draws at l = 0, where the exact gradient is %s; then %d SGD steps (rate %g, tempered estimators at tau = %g) from l = 0.\n\n",
		f.draws, fmtVec(f.exactAtStart), f.steps, f.lr, f.optTau)
	md.WriteString("| estimator | tau | bias | variance | MSE | q(best), last 10% of SGD | loss, last 10% of SGD |\n|---|---|---|---|---|---|---|\n")
	rows := [][]string{{"estimator", "tau", "bias", "variance", "mse", "final_q_best", "final_loss"}}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, s := range stats {
		tau := "-"
		if s.tau > 0 {
			tau = g(s.tau)
		}
		after := fmt.Sprintf("%.4f | %.4f", s.finalBest, s.finalLoss)
		if s.tau > 0 && s.tau != f.optTau {
			after = " | " // the optimisation ran at -opt-tau only
		}
		fmt.Fprintf(&md, "| %s | %s | %.3g | %.3g | %.3g | %s |\n", s.name, tau, s.bias, s.variance, s.mse, after)
		rows = append(rows, []string{s.name, tau, g(s.bias), g(s.variance), g(s.mse), g(s.finalBest), g(s.finalLoss)})
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("toy: %w", err)
	}
	if err := os.WriteFile(filepath.Join(f.out, "toy.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("toy: %w", err)
	}
	var c strings.Builder
	if err := csv.NewWriter(&c).WriteAll(rows); err != nil {
		return fmt.Errorf("toy: %w", err)
	}
	if err := os.WriteFile(filepath.Join(f.out, "toy.csv"), []byte(c.String()), 0o644); err != nil {
		return fmt.Errorf("toy: %w", err)
	}
	for _, q := range []struct {
		file, label string
		logY        bool
		value       func(toyStat) float64
	}{
		{"toy-bias.png", "bias |mean - g*|", true, func(s toyStat) float64 { return s.bias }},
		{"toy-variance.png", "log10 variance", false, func(s toyStat) float64 { return math.Log10(s.variance) }},
	} {
		ch := chart.Line{Title: fmt.Sprintf("toy K=%d t=%g: %s", f.k, f.t, q.label), XLabel: "temperature tau", YLabel: q.label, LogX: true, LogY: q.logY}
		for _, name := range f.names {
			ser := chart.Series{Name: name}
			for _, s := range stats {
				if s.name == name {
					ser.X, ser.Y = append(ser.X, s.tau), append(ser.Y, q.value(s))
				}
			}
			ch.Series = append(ch.Series, ser)
		}
		if err := ch.Save(filepath.Join(f.out, q.file)); err != nil {
			return err
		}
	}
	opt := chart.Line{Title: fmt.Sprintf("toy K=%d t=%g: SGD from l = 0", f.k, f.t), XLabel: "step", YLabel: fmt.Sprintf("q(class %d), the best", best), Series: curves}
	if err := opt.Save(filepath.Join(f.out, "toy-sgd.png")); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, md.String())
	return err
}

func fmtVec(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', 4, 64)
	}
	return "(" + strings.Join(s, ", ") + ")"
}
