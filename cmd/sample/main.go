// Sample draws images from a trained model and writes them as one PNG
// grid. For a VAE: from the prior (one-hot latents drawn from the uniform
// or learned prior, through the decoder), or test digits beside their
// reconstructions. For an SBN (train -task sbn): test digits, each followed
// by completions of its lower half drawn given its upper half.
//
// Usage:
//
//	sample -ckpt checkpoints/default -mode prior|recon|complete -n 64 -samples 7 -seed 1 -out samples.png
package main

import (
	_ "gsvae/backend" // the BLAS the build chose, for gorgonia too
	"gsvae/internal/cli"
)

func main() { cli.Main("sample", run) }
