// Train trains a discrete-latent VAE with the Gumbel-Softmax relaxation on
// binarized MNIST (Jang, Gu & Poole 2017) and writes config.json,
// metrics.jsonl, model.ckpt and best.ckpt to its -out folder after every
// epoch.
//
// Usage:
//
//	train [flags]
//	train -resume -out DIR [-epochs E]
//
// Ctrl-C stops after the current update and saves the position reached to
// model.ckpt, from which -resume continues exactly; a second Ctrl-C exits at
// once.
package main

import "gsvae/internal/cli"

func main() { cli.Main("train", run) }
