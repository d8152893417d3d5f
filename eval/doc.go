// Package eval provides the measurements of a trained VAE: the negative
// ELBO of a data split with discrete latent samples, and the
// importance-weighted bound on its negative log-likelihood.
package eval
