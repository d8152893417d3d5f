package eval

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
	"gsvae/internal/op"
	"gsvae/model"
)

// sampler runs a network forward on batches of images with a one-hot
// Gumbel-max sample (an exact draw) at every stochastic layer, and no
// gradients: the discrete model the paper evaluates.
type sampler struct {
	cfg   model.Config
	vm    G.VM
	x     []float32       // (rows, Input) images; fill, then run
	in    *tensor.Dense   // what the network reads
	tgt   *tensor.Dense   // what it predicts
	noise []*tensor.Dense // (rows, N*K) per stochastic layer
	pass  *model.Pass
	rows  int
}

// newSampler builds the sampling graph of cfg over the float32 weights p
// for batches of rows images.
func newSampler(cfg model.Config, p *model.Params, rows int) (*sampler, error) {
	if len(p.Tensors) == 0 || p.Tensors[0].Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("eval: want float32 parameters")
	}
	g := G.NewGraph()
	net, err := model.NewNet(g, cfg, p)
	if err != nil {
		return nil, err
	}
	s := &sampler{cfg: cfg, x: make([]float32, rows*cfg.Input), rows: rows}
	s.in = tensor.New(tensor.WithShape(rows, cfg.In()), tensor.Of(tensor.Float32))
	s.tgt = tensor.New(tensor.WithShape(rows, cfg.Out()), tensor.Of(tensor.Float32))
	in := G.NewMatrix(g, tensor.Float32, G.WithName("x"), G.WithValue(s.in))
	tgt := G.NewMatrix(g, tensor.Float32, G.WithName("target"), G.WithValue(s.tgt))
	noise := make(G.Nodes, cfg.Layers())
	for i := range noise {
		s.noise = append(s.noise, tensor.New(tensor.WithShape(rows, cfg.Latent()), tensor.Of(tensor.Float32)))
		noise[i] = G.NewMatrix(g, tensor.Float32, G.WithName(fmt.Sprintf("gumbel%d", i)), G.WithValue(s.noise[i]))
	}
	code := func(i int, l *G.Node) (*G.Node, error) { return gumbel.GumbelMax(l, noise[i], cfg.K) }
	if s.pass, err = net.Forward(in, tgt, code, model.Options{}); err != nil {
		return nil, fmt.Errorf("eval: build the sampling graph: %w", err)
	}
	s.vm = G.NewTapeMachine(g)
	return s, nil
}

// run splits the images in s.x, draws the noise of every layer from rng in
// turn and runs the graph.
func (s *sampler) run(rng *rand.Rand) error {
	model.Split(s.cfg, s.x, s.in.Float32s(), s.tgt.Float32s(), s.rows)
	for _, n := range s.noise {
		gumbel.Sample(n.Float32s(), rng)
	}
	defer s.vm.Reset()
	if err := s.vm.RunAll(); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return nil
}

// rec and kl return the terms of every row of the last run (kl is zero
// for the SBN).
func (s *sampler) rec() []float64 { return op.Float64s(nil, s.pass.Rec.Value()) }
func (s *sampler) kl() []float64 {
	if s.pass.KL == nil {
		return make([]float64, s.rows)
	}
	return op.Float64s(nil, s.pass.KL.Value())
}
