// Eval measures a trained Gumbel-Softmax VAE.
//
// Usage:
//
//	eval bound -ckpt checkpoints/default -split test -samples 1 -iw 1000
//
// bound prints and writes (to eval.json beside the checkpoint) the negative
// ELBO with discrete latent samples and the importance-weighted bound of
// Burda et al. (2016) on a data split, in nats per image.
package main

import "gsvae/internal/cli"

func main() { cli.Main("eval", run) }
