package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"gsvae/data"
	"gsvae/internal/cli"
	"gsvae/model"
	"gsvae/train"
)

const usage = `sample: draw images from a trained Gumbel-Softmax VAE into a PNG grid.

Usage:
  sample -ckpt DIR|FILE [-mode prior|recon] [-n 64] [-seed 1] [-out samples.png]

prior: every latent variable drawn from the prior (uniform, or the learned
       one) as a one-hot vector, decoded;
       the grid shows each pixel's Bernoulli mean (white = on).
recon: the first n test digits (fixed binarization), each row of originals
       followed by a row of their reconstructions from one discrete sample
       z ~ q(z|x).`

// options are the flags of sample.
type options struct {
	ckpt, mode, out, data string
	n                     int
	seed                  uint64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := options{ckpt: "checkpoints/default", mode: "prior", out: "samples.png", n: 64, seed: 1}
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	fs.StringVar(&o.ckpt, "ckpt", o.ckpt, "checkpoint `path`: a run folder (its model.ckpt is used) or a .ckpt file")
	fs.StringVar(&o.mode, "mode", o.mode, "`prior` (images from the prior) or recon (test digits and reconstructions)")
	fs.IntVar(&o.n, "n", o.n, "`number` of images (1 to 1024)")
	fs.Uint64Var(&o.seed, "seed", o.seed, "random `seed` of the latent draws")
	fs.StringVar(&o.out, "out", o.out, "PNG `file` to write")
	fs.StringVar(&o.data, "data", o.data, "`folder` with the MNIST idx .gz files for recon (default: the checkpoint's, else the GoMNIST module's)")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	switch {
	case o.mode != "prior" && o.mode != "recon":
		return cli.Usagef("-mode %q: want prior or recon", o.mode)
	case o.n < 1 || o.n > 1024:
		return cli.Usagef("-n %d: want 1 to 1024 images", o.n)
	case o.out == "":
		return cli.Usagef("-out: need a file name")
	}
	path := train.CheckpointPath(o.ckpt)
	st, err := train.Load(path)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.seed, 0))
	var g *grid
	if o.mode == "prior" {
		g, err = priorGrid(st, o.n, rng)
	} else {
		g, err = reconGrid(ctx, st, o, rng)
	}
	if err != nil {
		return err
	}
	if err := g.writePNG(o.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d %s images from %s (epoch %d) to %s\n", o.n, o.mode, path, st.Epoch, o.out)
	return nil
}

// priorGrid decodes n latent codes drawn from the prior: each of the N
// variables one-hot at a class drawn from the prior (uniform, or the
// learned one).
func priorGrid(st *train.State, n int, rng *rand.Rand) (*grid, error) {
	cfg := st.Config.Model
	dec, err := model.NewDecoder(cfg, st.Params, model.Options{Batch: n})
	if err != nil {
		return nil, err
	}
	prior := st.Params.PriorLogits(cfg)
	z := dec.Z.Float32s()
	for b := 0; b < n; b++ {
		for v := 0; v < cfg.N; v++ {
			z[b*cfg.Latent()+v*cfg.K+drawCategorical(prior[v*cfg.K:(v+1)*cfg.K], rng)] = 1
		}
	}
	if err := dec.Run(); err != nil {
		return nil, err
	}
	g := newGrid(n, 1)
	logits := dec.PixelLogits()
	for b := 0; b < n; b++ {
		g.put(b, 0, means(logits[b*cfg.Input:(b+1)*cfg.Input]))
	}
	return g, nil
}

// reconGrid encodes the first n test images, draws one discrete z per image
// and decodes it.
func reconGrid(ctx context.Context, st *train.State, o options, rng *rand.Rand) (*grid, error) {
	cfg := st.Config.Model
	dataDir := o.data
	if dataDir == "" {
		dataDir = st.Config.Data
	}
	dir, err := data.FindDir(dataDir)
	if err != nil {
		return nil, err
	}
	_, _, test, err := data.Load(dir, 0)
	if err != nil {
		return nil, err
	}
	gr, err := model.NewGraph(cfg, st.Params, model.Options{Batch: o.n, Hard: true})
	if err != nil {
		return nil, err
	}
	x := gr.X.Data().([]float32)
	for i, v := range test.Binary[:o.n*data.Pixels] {
		x[i] = float32(v)
	}
	model.SampleGumbel(gr.Noise.Data().([]float32), rng)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := gr.Run(); err != nil {
		return nil, err
	}
	g := newGrid(o.n, 2)
	logits := gr.PixelLogits()
	for b := 0; b < o.n; b++ {
		orig := make([]float64, cfg.Input)
		for i := range orig {
			orig[i] = float64(x[b*cfg.Input+i])
		}
		g.put(b, 0, orig)
		g.put(b, 1, means(logits[b*cfg.Input:(b+1)*cfg.Input]))
	}
	return g, nil
}

// drawCategorical draws a class from softmax(logits) by inverting its
// cumulative distribution.
func drawCategorical(logits []float64, rng *rand.Rand) int {
	lse := model.LogSumExp(logits)
	u := rng.Float64()
	for j, l := range logits {
		if u -= math.Exp(l - lse); u < 0 {
			return j
		}
	}
	return len(logits) - 1
}

// means maps Bernoulli logits to probabilities, sigmoid(l).
func means(logits []float64) []float64 {
	p := make([]float64, len(logits))
	for i, l := range logits {
		p[i] = 1 / (1 + math.Exp(-l))
	}
	return p
}
