// Sample draws images from a trained Gumbel-Softmax VAE and writes them as
// one PNG grid: from the prior (one-hot latents drawn from the uniform or
// learned prior, through the decoder) or as test digits beside their
// reconstructions.
//
// Usage:
//
//	sample -ckpt checkpoints/default -mode prior|recon -n 64 -seed 1 -out samples.png
package main

import "gsvae/internal/cli"

func main() { cli.Main("sample", run) }
