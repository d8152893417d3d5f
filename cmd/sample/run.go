package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/data"
	"gsvae/gumbel"
	"gsvae/internal/cli"
	"gsvae/internal/op"
	"gsvae/model"
)

const usage = `sample: draw images from a trained model into a PNG grid.

Usage:
  sample -ckpt DIR|FILE [-mode prior|recon|complete] [-n 64] [-samples 7] [-seed 1] [-out samples.png]

prior:    (VAE) every latent variable drawn from the prior (uniform, or the
          learned one) as a one-hot vector, decoded; the grid shows each
          pixel's Bernoulli mean (white = on).
recon:    (VAE) the first n test digits (fixed binarization), each row of
          originals followed by a row of their reconstructions from one
          discrete sample z ~ q(z|x).
complete: (SBN) the first n test digits, one per row: the digit, then
          -samples completions, each the digit's upper half above the
          lower half's pixel means for one sample h ~ p(h | x_upper).
The default mode is prior for a VAE and complete for an SBN.`

// options are the flags of sample.
type options struct {
	ckpt, mode, out, data string
	n, samples            int
	seed                  uint64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := options{ckpt: "checkpoints/default", out: "samples.png", n: 64, samples: 7, seed: 1}
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	fs.StringVar(&o.ckpt, "ckpt", o.ckpt, "checkpoint `path`: a run folder (its model.ckpt is used) or a .ckpt file")
	fs.StringVar(&o.mode, "mode", o.mode, "`mode`: prior or recon for a VAE (default prior), complete for an SBN (default)")
	fs.IntVar(&o.n, "n", o.n, "`number` of images (prior, recon) or of digits to complete (1 to 1024)")
	fs.IntVar(&o.samples, "samples", o.samples, "`completions` per digit in complete mode (1 to 32)")
	fs.Uint64Var(&o.seed, "seed", o.seed, "random `seed` of the latent draws")
	fs.StringVar(&o.out, "out", o.out, "PNG `file` to write")
	fs.StringVar(&o.data, "data", o.data, "`folder` with the MNIST idx .gz files for recon and complete (default: the GoMNIST module's)")
	if err := cli.Parse(fs, args, usage, stdout); err != nil {
		return err
	}
	switch {
	case o.mode != "" && o.mode != "prior" && o.mode != "recon" && o.mode != "complete":
		return cli.Usagef("-mode %q: want prior, recon or complete", o.mode)
	case o.n < 1 || o.n > 1024:
		return cli.Usagef("-n %d: want 1 to 1024 images", o.n)
	case o.samples < 1 || o.samples > 32:
		return cli.Usagef("-samples %d: want 1 to 32 completions", o.samples)
	case o.out == "":
		return cli.Usagef("-out: need a file name")
	}
	path := cli.CheckpointPath(o.ckpt)
	cfg, p, err := model.Load(path)
	if err != nil {
		return err
	}
	if cfg.Input != data.Pixels {
		return fmt.Errorf("%s: a model of %d-pixel images, MNIST's have %d", path, cfg.Input, data.Pixels)
	}
	if o.mode == "" {
		o.mode = "prior"
		if cfg.SBN() {
			o.mode = "complete"
		}
	}
	if cfg.SBN() != (o.mode == "complete") {
		return cli.Usagef("-mode %s: %s holds %s, whose modes are %s", o.mode, path, cfg.Describe(), map[bool]string{true: "complete", false: "prior and recon"}[cfg.SBN()])
	}
	rng := rand.New(rand.NewPCG(o.seed, 0))
	var g *grid
	switch o.mode {
	case "prior":
		g, err = priorGrid(cfg, p, o.n, rng)
	case "recon":
		g, err = reconGrid(ctx, cfg, p, o, rng)
	default:
		g, err = completeGrid(ctx, cfg, p, o, rng)
	}
	if err != nil {
		return err
	}
	if err := g.writePNG(o.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d %s images of %s from %s to %s\n", o.n, o.mode, cfg.Describe(), path, o.out)
	return nil
}

// priorGrid decodes n latent codes drawn from the prior: each of the N
// variables one-hot at a Gumbel-max draw from the prior (uniform, or the
// learned one).
func priorGrid(cfg model.Config, p *model.Params, n int, rng *rand.Rand) (*grid, error) {
	g := G.NewGraph()
	net, err := model.NewNet(g, cfg, p)
	if err != nil {
		return nil, err
	}
	z := tensor.New(tensor.WithShape(n, cfg.Latent()), tensor.Of(tensor.Float32))
	logits, err := net.PixelLogits(G.NewMatrix(g, tensor.Float32, G.WithName("z"), G.WithValue(z)), false, false)
	if err != nil {
		return nil, err
	}
	prior := p.PriorLogits(cfg)
	noise := make([]float64, cfg.Latent())
	zs, code := z.Float32s(), make([]float64, cfg.Latent())
	for b := range n {
		gumbel.Sample(noise, rng)
		gumbel.OneHotSample(code, prior, noise, cfg.K)
		for i, v := range code {
			zs[b*cfg.Latent()+i] = float32(v)
		}
	}
	if err := runGraph(g); err != nil {
		return nil, err
	}
	out := newGrid(n, 1)
	l := op.Float64s(nil, logits.Value())
	for b := range n {
		out.put(b, 0, means(l[b*cfg.Input:(b+1)*cfg.Input]))
	}
	return out, nil
}

// forward builds the discrete forward pass of the network for rows
// images (one-hot Gumbel-max samples at every stochastic layer) and
// returns a function that runs it on images x and returns the predicted
// pixels' logits.
func forward(cfg model.Config, p *model.Params, rows int, rng *rand.Rand) (func(x []float32) ([]float64, error), error) {
	g := G.NewGraph()
	net, err := model.NewNet(g, cfg, p)
	if err != nil {
		return nil, err
	}
	in := tensor.New(tensor.WithShape(rows, cfg.In()), tensor.Of(tensor.Float32))
	tgt := tensor.New(tensor.WithShape(rows, cfg.Out()), tensor.Of(tensor.Float32))
	var noise []*tensor.Dense
	var noiseNodes G.Nodes
	for i := range cfg.Layers() {
		noise = append(noise, tensor.New(tensor.WithShape(rows, cfg.Latent()), tensor.Of(tensor.Float32)))
		noiseNodes = append(noiseNodes, G.NewMatrix(g, tensor.Float32, G.WithName(fmt.Sprintf("gumbel%d", i)), G.WithValue(noise[i])))
	}
	code := func(i int, l *G.Node) (*G.Node, error) { return gumbel.GumbelMax(l, noiseNodes[i], cfg.K) }
	pass, err := net.Forward(G.NewMatrix(g, tensor.Float32, G.WithName("x"), G.WithValue(in)),
		G.NewMatrix(g, tensor.Float32, G.WithName("target"), G.WithValue(tgt)), code, model.Options{})
	if err != nil {
		return nil, err
	}
	return func(x []float32) ([]float64, error) {
		model.Split(cfg, x, in.Float32s(), tgt.Float32s(), rows)
		for _, n := range noise {
			gumbel.Sample(n.Float32s(), rng)
		}
		if err := runGraph(g); err != nil {
			return nil, err
		}
		return op.Float64s(nil, pass.PixelLogits.Value()), nil
	}, nil
}

// testImages returns the first n test images of the fixed binarization.
func testImages(dataDir string, n int) ([]float32, error) {
	dir, err := data.FindDir(dataDir)
	if err != nil {
		return nil, err
	}
	_, _, test, err := data.Load(dir, 0)
	if err != nil {
		return nil, err
	}
	x := make([]float32, n*data.Pixels)
	for i, v := range test.Binary[:n*data.Pixels] {
		x[i] = float32(v)
	}
	return x, nil
}

// reconGrid encodes the first n test images, draws one discrete z per image
// and decodes it.
func reconGrid(ctx context.Context, cfg model.Config, p *model.Params, o options, rng *rand.Rand) (*grid, error) {
	x, err := testImages(o.data, o.n)
	if err != nil {
		return nil, err
	}
	fwd, err := forward(cfg, p, o.n, rng)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logits, err := fwd(x)
	if err != nil {
		return nil, err
	}
	g := newGrid(o.n, 2)
	for b := range o.n {
		g.put(b, 0, float64s(x[b*cfg.Input:(b+1)*cfg.Input]))
		g.put(b, 1, means(logits[b*cfg.Input:(b+1)*cfg.Input]))
	}
	return g, nil
}

// completeGrid draws, for each of the first n test digits, o.samples
// completions of its lower half given its upper half.
func completeGrid(ctx context.Context, cfg model.Config, p *model.Params, o options, rng *rand.Rand) (*grid, error) {
	x, err := testImages(o.data, o.n)
	if err != nil {
		return nil, err
	}
	s := o.samples
	rep := make([]float32, o.n*s*cfg.Input) // every digit s times
	for b := range o.n {
		for j := range s {
			copy(rep[(b*s+j)*cfg.Input:], x[b*cfg.Input:(b+1)*cfg.Input])
		}
	}
	fwd, err := forward(cfg, p, o.n*s, rng)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lower, err := fwd(rep)
	if err != nil {
		return nil, err
	}
	g := newGridCols(o.n*(s+1), s+1)
	up := cfg.In()
	for b := range o.n {
		img := float64s(x[b*cfg.Input : (b+1)*cfg.Input])
		g.put(b*(s+1), 0, img)
		for j := range s {
			r := b*s + j
			done := append(append([]float64{}, img[:up]...), means(lower[r*cfg.Out():(r+1)*cfg.Out()])...)
			g.put(b*(s+1)+1+j, 0, done)
		}
	}
	return g, nil
}

// runGraph runs every node of g once.
func runGraph(g *G.ExprGraph) error {
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	return vm.RunAll()
}

// means maps Bernoulli logits to probabilities, sigmoid(l).
func means(logits []float64) []float64 {
	p := make([]float64, len(logits))
	for i, l := range logits {
		p[i] = 1 / (1 + math.Exp(-l))
	}
	return p
}

// float64s converts pixels to float64.
func float64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
