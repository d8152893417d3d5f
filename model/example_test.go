package model_test

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
	"gsvae/model"
)

// A forward pass of a tiny VAE with the Gumbel-Softmax relaxation: wrap
// the parameters in a graph, compose the network with a coder that draws
// the relaxed sample at temperature 0.5, weight the rows into the loss
// (the mean negative ELBO), take its gradients and run the graph once.
// (The same model, data, noise and temperature gave the same 2.8618 nats
// in ExampleNewGraph before the redesign.)
func ExampleNet_Forward() {
	cfg := model.Config{N: 2, K: 3, Hidden: []int{8}, Input: 4}
	rng := rand.New(rand.NewPCG(1, 1))
	p, err := model.NewParams(cfg, tensor.Float64, rng)
	if err != nil {
		fmt.Println(err)
		return
	}
	g := G.NewGraph()
	net, err := model.NewNet(g, cfg, p)
	if err != nil {
		fmt.Println(err)
		return
	}
	const rows = 2
	x := G.NewMatrix(g, tensor.Float64, G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(rows, cfg.Input), tensor.WithBacking([]float64{1, 0, 0, 1, 0, 1, 1, 0}))))
	noise := make([]float64, rows*cfg.Latent())
	gumbel.Sample(noise, rng)
	g0 := G.NewMatrix(g, tensor.Float64, G.WithName("gumbel0"),
		G.WithValue(tensor.New(tensor.WithShape(rows, cfg.Latent()), tensor.WithBacking(noise))))
	tau := G.NewScalar(g, tensor.Float64, G.WithName("tau"), G.WithValue(0.5))
	w := G.NewVector(g, tensor.Float64, G.WithName("w"), G.WithValue(tensor.New(tensor.WithBacking([]float64{0.5, 0.5}))))

	code := func(_ int, logits *G.Node) (*G.Node, error) { return gumbel.GumbelSoftmax(logits, g0, tau, cfg.K) }
	pass, err := net.Forward(x, x, code, model.Options{CodeGrad: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	loss, err := model.WeightedSum(w, pass.Rec, pass.KL)
	if err != nil {
		fmt.Println(err)
		return
	}
	grads, err := G.Grad(loss, net.Params()...)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g)
	defer vm.Reset()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: loss %.4f nats, %d gradient tensors\n", cfg.Describe(), loss.Value().Data(), len(grads))
	// Output: 2x3 categorical VAE (4-8-6): loss 2.8618 nats, 8 gradient tensors
}
