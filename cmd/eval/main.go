// Eval measures a trained model: a VAE or an SBN (train -task sbn).
//
// Usage:
//
//	eval bound -ckpt checkpoints/default -split test -samples 1 -iw 1000
//	eval gradvar | curves | table | toy ...   (eval -h lists them)
//
// bound prints and writes (to eval.json beside the checkpoint) the negative
// ELBO with discrete latent samples and the importance-weighted bound of
// Burda et al. (2016) on a data split, in nats per image; for an SBN, the
// one-sample loss and the m-sample estimate -log (1/m) sum_i p(x_lower|h_i)
// of Jang et al. (2017, Sec. 4.1).
package main

import "gsvae/internal/cli"

func main() { cli.Main("eval", run) }
