// Package estimator provides the gradient estimators that Jang, Gu & Poole
// (2017, Table 1) compare for the discrete VAE: each draws one stochastic
// estimate of the gradient of the minibatch loss
//
//	L = 1/B sum_b ( E_q(z|x_b)[f_b(z)] + KL(q(z|x_b) || p(z)) ),
//	f_b(z) = -log p(x_b|z),
//
// for every parameter. The KL term keeps its analytic gradient in every
// estimator; they differ in how they differentiate E_q[f(z)] with respect
// to the logits l of q (the decoder's parameters get the pathwise gradient
// of f at whatever code the decoder was given). With mu = softmax(l) per
// variable, g Gumbel noise, z = one_hot(argmax(l + g)) a sample of q and
// d = df/dz (back-propagated through the decoder):
//
//	gs          y = softmax((l + g)/tau) into the decoder, dL/dl = J_y^T df/dy
//	            (Jang et al. 2017; Maddison et al. 2017). Biased; the bias
//	            vanishes as tau -> 0 while the variance grows.
//	st-gs       z into the decoder, dL/dl = J_y^T df/dz (Jang et al. 2017,
//	            straight-through Gumbel-Softmax).
//	st          z into the decoder, dL/dl = J_mu^T df/dz: backward as if z
//	            were mu = softmax(l) (Bengio et al. 2013).
//	annealed-st z into the decoder, dL/dl = J^T df/dz through softmax(l/tau),
//	            the slope annealed with the temperature (Chung et al. 2016).
//	sf          dL/dl = (f(z) - c) (z - mu): the score function
//	            (REINFORCE) with a moving-average baseline c (Mnih & Gregor
//	            2014). Unbiased.
//	nvil        sf with the baseline c + b(x), b a network trained to
//	            regress f(z) - c (Mnih & Gregor 2014). Unbiased.
//	muprop      dL/dl = (f(z) - f(mu) - f'(mu).(z - mu) - c) (z - mu)
//	            + J_mu^T f'(mu): the first-order Taylor expansion of f
//	            around the mean-field point mu as a control variate, with
//	            its expectation added back analytically (Gu et al. 2016).
//	            Unbiased.
//	darn        dL/dl = (f'(z).(z - zbar) - c) (z - mu) with zbar = 1/K in
//	            every coordinate (1/2 for Bernoulli): the learning signal
//	            f(z) - f(zbar) replaced by its first-order expansion around
//	            the sample (Gregor et al. 2014, as described by Gu et al.
//	            2016; zbar = 1/K is our reading of the categorical extension
//	            of Jang et al.). Biased: f'(z).(z - zbar) is not f(z) minus
//	            a z-independent baseline.
//
// Here J_v^T u denotes the gradient back-propagated through v = softmax(.)
// of its argument, v (u - <v, u>) / tau per variable. For the score-function
// estimators (sf, nvil, muprop, darn) Options.Normalize divides the whole
// gradient of the encoder, its exact KL part included, by max(1, sqrt(v)),
// v a moving average of the variance of the centred learning signal
// ("variance normalisation", Mnih & Gregor 2014, who divide the whole
// learning signal of the inference network; the paper needed it for SF,
// DARN and MuProp). Dividing the reconstruction part alone would weight the
// KL up by the same factor and pull q towards the prior. The decoder's and
// a learned prior's gradients are not normalised. The moving averages use
// the rate 0.8 of Mnih & Gregor and are updated after each estimate, so the
// baseline never depends on the sample it centres.
//
// Bernoulli latents use the same formulas in the categorical view of
// model.Config.Bernoulli (pairs (l, 0)), where they reduce to the binary
// ones: z - mu = (z - sigmoid(l), ...) and J^T d = sigmoid'(l) d.
package estimator
