package sweep_test

import (
	"fmt"
	"strings"

	"gsvae/sweep"
)

// A grid is a fixed list of cells: cell 67 of the paper grid is the
// Bernoulli VAE's Gumbel-Softmax at the setting validation chose.
func ExampleLookup() {
	g, err := sweep.Lookup("paper")
	if err != nil {
		fmt.Println(err)
		return
	}
	c := g.Cells[67]
	fmt.Println(len(g.Cells), "cells; cell", c.Index, c.Name)
	fmt.Println(c.Row, c.Estimator, "|", c.Setting)
	fmt.Println("train", strings.Join(c.TrainArgs("runs/"+c.Name), " "))
	// Output:
	// 336 cells; cell 67 vae-bernoulli-linear-gs-lr3e-3-n1000-r1e-4
	// vae/linear/bernoulli gs | lr 3e-3, N 1000, r 1e-4
	// train -hidden none -latent bernoulli -estimator gs -optimizer momentum -lr 3e-3 -tau0 1 -tau-min 0.5 -anneal-rate 1e-4 -anneal-every 1000 -epochs 100 -batch 100 -seed 1 -out runs/vae-bernoulli-linear-gs-lr3e-3-n1000-r1e-4
}
