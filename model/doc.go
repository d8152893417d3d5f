// Package model provides the discrete-latent VAE of Jang, Gu & Poole (2017),
// "Categorical Reparameterization with Gumbel-Softmax" (arXiv:1611.01144), as
// gorgonia graphs: an MLP encoder to categorical logits, the Gumbel-Softmax
// relaxation, an MLP decoder to Bernoulli pixel logits, and the negative ELBO.
//
// For one image x with N latent variables of K classes each:
//
//	logits      = enc(x)                                  (N*K values, K per variable)
//	q_n(k)      = softmax(logits_n)_k                     (the posterior of variable n)
//	y_n         = softmax((logits_n + g_n) / tau),  g_nk = -log(-log u_nk), u_nk ~ U(0,1)
//	xlogits     = dec(y)                                  (784 Bernoulli logits)
//	rec(x)      = sum_i softplus(xlogits_i) - x_i * xlogits_i        (= -log p(x|y))
//	KL(x)       = sum_n sum_k q_n(k) (log q_n(k) - log p_n(k))       (= KL(q || p))
//	loss        = mean over the batch of rec(x) + KL(x)              (the negative ELBO)
//
// The prior p_n is uniform (log p_n(k) = -log K) or learned (softmax of
// trained logits). Options.RelaxedKL replaces this analytic KL of the
// discrete variables by a single-sample KL of the relaxed ones (see
// relaxedKLOp), which keeps the relaxed objective a bound.
//
// As tau -> 0 the relaxed sample y_n approaches the one-hot sample
// argmax_k(logits_nk + g_nk), which is an exact draw from q_n (the Gumbel-max
// trick). In hard (straight-through) mode the decoder sees that one-hot vector
// while the gradient is the relaxed sample's.
//
// The package builds graphs and does no I/O. Softmax, KL and the Bernoulli
// likelihood are custom gorgonia ops: the built-in SoftMax of gorgonia v0.9.18
// returns NaN when rows differ by more than about 88 in float32, and fused
// kernels avoid materialising intermediate tensors.
package model
