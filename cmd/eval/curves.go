package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gsvae/estimator"
	"gsvae/internal/chart"
	"gsvae/internal/cli"
	"gsvae/model"
)

// runCurves draws a run's metrics.jsonl against the training step:
// elbo.png (training and validation -ELBO), tau.png (the temperature) and,
// when the run was trained with -track-gradvar, gradvar-encoder.png and
// gradvar-decoder.png (each estimator's log10 gradient variance).
func runCurves(args []string, stdout io.Writer) error {
	dir, out := "checkpoints/default", ""
	fs := flag.NewFlagSet("eval curves", flag.ContinueOnError)
	fs.StringVar(&dir, "run", dir, "run `folder` (its metrics.jsonl)")
	fs.StringVar(&out, "out", out, "output `folder` (default: curves/ in the run folder)")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(dir, "curves")
	}
	ms, err := readMetrics(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("curves: %w", err)
	}
	var train, valid, tau chart.Series
	train.Name, valid.Name, tau.Name = "train -ELBO (as trained)", "valid -ELBO (discrete)", "tau"
	for _, m := range ms {
		x := float64(m.Step)
		train.X, train.Y = append(train.X, x), append(train.Y, m.TrainNegELBO)
		valid.X, valid.Y = append(valid.X, x), append(valid.Y, m.ValidNegELBO)
		tau.X, tau.Y = append(tau.X, x), append(tau.Y, m.Tau)
	}
	charts := map[string]chart.Line{
		"elbo.png": {Title: "negative ELBO", XLabel: "step", YLabel: "nats per image", Series: []chart.Series{train, valid}},
		"tau.png":  {Title: "temperature", XLabel: "step", YLabel: "tau", Series: []chart.Series{tau}},
	}
	tracked := 0
	for _, part := range []string{model.PartEncoder, model.PartDecoder} {
		c := chart.Line{Title: part + " gradient variance along training", XLabel: "step", YLabel: "log10 variance"}
		for _, name := range estimator.Names {
			s := chart.Series{Name: name}
			for _, m := range ms {
				if m.GradVar == nil {
					continue
				}
				for _, st := range m.GradVar.Stats {
					if st.Estimator == name && st.Part == part {
						s.X, s.Y = append(s.X, float64(m.Step)), append(s.Y, st.Log10Var)
					}
				}
			}
			if len(s.X) > 0 {
				c.Series = append(c.Series, s)
				tracked = max(tracked, len(s.X))
			}
		}
		if len(c.Series) > 0 {
			charts["gradvar-"+part+".png"] = c
		}
	}
	for name, c := range charts {
		if err := c.Save(filepath.Join(out, name)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s: %d epochs, %d gradient-variance measurements; wrote %d charts to %s\n", dir, len(ms), tracked, len(charts), out)
	return nil
}
