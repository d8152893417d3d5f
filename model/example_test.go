package model_test

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"gsvae/model"
)

// A training step: build the graph once, then per batch fill X and Noise
// in place, set the temperature and run; Loss and Grads hold the results.
func ExampleNewGraph() {
	cfg := model.Config{N: 2, K: 3, Hidden: []int{8}, Input: 4}
	rng := rand.New(rand.NewPCG(1, 1))
	p, err := model.NewParams(cfg, tensor.Float64, rng)
	if err != nil {
		fmt.Println(err)
		return
	}
	gr, err := model.NewGraph(cfg, p, model.Options{Batch: 2, Grad: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	copy(gr.X.Data().([]float64), []float64{1, 0, 0, 1, 0, 1, 1, 0})
	model.SampleGumbel(gr.Noise.Data().([]float64), rng)
	if err := gr.SetTau(0.5); err != nil {
		fmt.Println(err)
		return
	}
	if err := gr.Run(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.4f nats over %d rows, %d gradient tensors\n", gr.Loss(), len(gr.Rec()), len(gr.Grads()))
	// Output: loss 2.8618 nats over 2 rows, 8 gradient tensors
}
