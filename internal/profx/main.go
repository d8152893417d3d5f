package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"time"

	_ "gsvae/backend"
	"gsvae/estimator"
	"gsvae/train"
)

func main() {
	hidden := flag.Bool("linear", true, "")
	name := flag.String("e", "gs", "")
	task := flag.String("task", "vae", "")
	steps := flag.Int("n", 500, "")
	prof := flag.String("prof", "", "")
	flag.Parse()
	cfg := train.Defaults()
	cfg.Model.Task = *task
	if *hidden {
		cfg.Model.Hidden = []int{}
	}
	cfg = cfg.WithEstimator(*name)
	st, err := train.NewState(cfg)
	if err != nil {
		panic(err)
	}
	est, err := estimator.New(*name, cfg.Model, st.Params, estimator.Options{Batch: 100, Normalize: true})
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	x := est.X.Float32s()
	for i := range x {
		x[i] = float32(rng.IntN(2))
	}
	step := func() {
		if err := est.Estimate(1, rng); err != nil {
			panic(err)
		}
		var ps, gs [][]float32
		for i, g := range est.Grads() {
			ps, gs = append(ps, st.Params.Tensors[i].Float32s()), append(gs, g.Float32s())
		}
		st.Opt.Step(ps, gs)
	}
	for range 20 {
		step()
	}
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	t := time.Now()
	for range *steps {
		step()
	}
	fmt.Printf("%s %s linear=%v: %.3f ms/step\n", *task, *name, *hidden, time.Since(t).Seconds()*1e3/float64(*steps))
}
