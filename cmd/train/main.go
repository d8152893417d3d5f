// Train trains a discrete-latent model with the Gumbel-Softmax relaxation
// or another gradient estimator on binarized MNIST (Jang, Gu & Poole 2017):
// the VAE of their Sec. 4.2 (-task vae, the default) or the stochastic
// binary network of their structured output prediction task (-task sbn).
// It writes config.json, metrics.jsonl, model.ckpt and best.ckpt to its
// -out folder after every epoch.
//
// Usage:
//
//	train [flags]
//	train -resume -out DIR [-epochs E]
//
// Ctrl-C (or SIGTERM) stops after the current update and saves the
// position reached to model.ckpt, from which -resume continues exactly; a
// second Ctrl-C exits at once.
package main

import "gsvae/internal/cli"

func main() { cli.Main("train", run) }
