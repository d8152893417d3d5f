// Package model provides the networks of Jang, Gu & Poole (2017),
// "Categorical Reparameterization with Gumbel-Softmax" (arXiv:1611.01144),
// as gorgonia graphs: the discrete-latent VAE of Sec. 4.2 and the
// two-layer stochastic binary network of the structured output prediction
// task of Sec. 4.1.
//
// For one image x of the VAE with N latent variables of K classes each:
//
//	logits      = enc(x)                                  (N*K values, K per variable)
//	q_n(k)      = softmax(logits_n)_k                     (the posterior of variable n)
//	z           = what the gradient estimator passes on   (e.g. y_n = softmax((logits_n + g_n) / tau))
//	xlogits     = dec(z)                                  (784 Bernoulli logits)
//	rec(x)      = sum_i softplus(xlogits_i) - x_i xlogits_i          (= -log p(x|z))
//	KL(x)       = sum_n sum_k q_n(k) (log q_n(k) - log p_n(k))       (= KL(q || p))
//	loss        = mean over the batch of rec(x) + KL(x)              (the negative ELBO)
//
// The SBN predicts the lower half of an image from the upper half through
// two stochastic layers, x_upper -> h1 -> h2 -> x_lower, each layer a
// linear map to the next layer's logits; its loss is rec = -log
// p(x_lower | h2) with no KL.
//
// Reading path: config.go (the settings, checked once by Validate, and the
// parameter layout), params.go (the weights outside any graph and their
// initialisation), net.go (the networks as graph pieces and Forward, the
// one place they are composed), linear.go, likelihood.go, pairs.go and
// loss.go (the ops they are built from), file.go (model files). The
// Gumbel-Softmax relaxation and the KL come from package gumbel; how the
// gradient passes each stochastic layer is the business of package
// estimator, which hands Forward a Coder. The package builds graphs and
// does no I/O but reading and writing model files.
package model
