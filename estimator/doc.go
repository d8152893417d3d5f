// Package estimator provides the gradient estimators that Jang, Gu & Poole
// (2017, Table 1) compare, for the discrete VAE and for the two-layer
// stochastic binary network (SBN) of their structured output prediction
// task: each draws one stochastic estimate of the gradient of the
// minibatch loss for every parameter.
//
// # The losses
//
// VAE, one stochastic layer z with logits l = enc(x):
//
//	L = 1/B sum_b ( E_q(z|x_b)[f_b(z)] + KL(q(z|x_b) || p(z)) ),   f_b(z) = -log p(x_b|z).
//
// SBN, two stochastic layers h1 ~ p(h1 | x_upper) (logits l1) and
// h2 ~ p(h2 | h1) (logits l2 = W2 h1 + b2):
//
//	L = 1/B sum_b E[f_b(h2)],   f_b(h2) = -log p(x_lower,b | h2).
//
// The KL keeps its analytic gradient in every estimator; the network after
// the last stochastic layer (the decoder) gets the pathwise gradient of f
// at whatever code it was given. The estimators differ in the gradient
// they send to each layer's logits l.
//
// # One stochastic layer
//
// With mu = softmax(l) per variable, g Gumbel noise, z =
// one_hot(argmax(l + g)) a sample of q (the Gumbel-max trick),
// y = softmax((l + g)/tau) and d = df/dz back-propagated through the
// decoder, and J_v^T u = v (u - <v, u>) / t the backward pass through
// v = softmax(./t):
//
//	gs          y into the decoder, dL/dl = J_y^T df/dy (Jang et al. 2017;
//	            Maddison et al. 2017). Biased; the bias vanishes as tau -> 0
//	            while the variance grows.
//	st-gs       z into the decoder, dL/dl = J_y^T df/dz (Jang et al. 2017,
//	            straight-through Gumbel-Softmax).
//	st          z into the decoder, dL/dl = J_mu^T df/dz: backward as if z
//	            were mu (Bengio et al. 2013).
//	annealed-st z into the decoder, dL/dl = J^T df/dz through softmax(l/tau),
//	            the slope annealed with the temperature (Chung et al. 2016).
//	sf          dL/dl = (f(z) - c) (z - mu): the score function (REINFORCE)
//	            with a moving-average baseline c (Williams 1992; Mnih &
//	            Gregor 2014). Unbiased.
//	nvil        sf with the baseline c + b(x), b a network trained to regress
//	            f(z) - c (Mnih & Gregor 2014). Unbiased.
//	muprop      dL/dl = (f(z) - f(mu) - f'(mu).(z - mu) - c) (z - mu)
//	            + J_mu^T f'(mu): the first-order Taylor expansion of f
//	            around the mean-field point mu as a control variate, with its
//	            expectation added back analytically (Gu et al. 2016).
//	            Unbiased.
//	darn        dL/dl_n = (f'(z)_n.(z_n - zbar) - c/N) (z_n - mu_n) for
//	            each variable n, zbar = 1/K in every coordinate (1/2 for
//	            Bernoulli variables): variable n's own learning signal
//	            f(z) - f(z with z_n = zbar) replaced by its first-order
//	            expansion around the sample (Gregor et al. 2014; zbar = 1/K
//	            is our reading of the categorical extension of Jang et al.),
//	            and the baseline c shared out over the N variables. Biased.
//	            One signal for the whole row, f'(z).(z - zbar) (the sum
//	            over n), in every variable's score, as we first read Gu et
//	            al. 2016, adds the other variables' terms, which depend on
//	            z_n through f'(z): at two trained linear Bernoulli VAEs its
//	            encoder gradient had cosine 0.31 and -0.01 with the exact
//	            one (eval gradvar), the per-variable form's 0.995 and 0.94.
//
// # Two stochastic layers (the SBN)
//
// Each layer i has logits l_i, sample z_i, mu_i = softmax(l_i):
//
//	gs, st-gs, st, annealed-st
//	            the layer rule above at both layers; the gradient of layer
//	            2's logits flows on through W2 into layer 1's code (relaxed,
//	            or straight through).
//	sf, nvil    each layer its score term with the one learning signal of
//	            the network, f(z_2) - c_i (- b(x_upper) for nvil):
//	            dL/dl_i = (f - c_i - b) (z_i - mu_i); no gradient passes
//	            between the layers (Williams 1992; Mnih & Gregor 2014).
//	muprop      the mean-field pass of the whole network from the input
//	            (Gu et al. 2016, Sec. 3 and Algorithm 1): mubar_1 = mu_1,
//	            mubar_2 = softmax(W2 mubar_1 + b2), fbar = f(mubar_2), and
//	            fbar'_i = dfbar/dmubar_i by back-propagation through it. Layer
//	            i's estimate is
//	            (f - fbar - fbar'_i.(z_i - mubar_i) - c_i) (z_i - mu_i)
//	            + J_{mu_i}^T fbar'_i, with mu_2 = softmax(l_2) the mean of
//	            layer 2 given the SAMPLED z_1: the control variate is linear
//	            in z_i with coefficients that do not depend on z_i, so the
//	            estimate stays unbiased. The weights of the mean-field copy
//	            get no gradient.
//	darn        layer i's per-variable signals f'(z_i)_n.(z_i,n - zbar),
//	            with f'(z_i) back-propagated from the decoder through the
//	            later layer straight through (softmax(l_2) in place of the
//	            sample), our reading of DARN for deep networks.
//
// # Variance normalisation and the moving averages
//
// For the score-function estimators (sf, nvil, muprop, darn)
// Options.Normalize divides every gradient that reaches layer i's logits,
// the KL's included, by max(1, sqrt(v_i)), v_i a moving average of the
// variance of the layer's centred learning signal ("variance
// normalisation", Mnih & Gregor 2014, who divide the whole learning signal
// of the inference network; the paper needed it for SF, DARN and MuProp).
// Dividing the reconstruction part alone would weight the KL up by the
// same factor and pull q towards the prior. The decoder's and a learned
// prior's gradients are not normalised. The moving averages c_i and v_i
// use the rate 0.8 of Mnih & Gregor and are updated after each estimate,
// so the baseline never depends on the sample it centres, but one: with
// normalisation on, the first estimate starts them from its own batch
// (the mean of its learning signals and their variance around it),
// computing the batch's signals in a first pass. From c = 0 and v = 1
// instead, the first estimate of sf or nvil would score the whole
// negative log-likelihood, hundreds of nats, uncentred and unscaled, and
// at the paper's SGD learning rates that one step saturates the encoder
// for good (sf at lr 3e-3 on the linear Bernoulli VAE: the KL from near 0
// to 70 nats in one step, 1 nat with the started averages).
//
// # Implementation
//
// Every estimator is one gorgonia graph (see New): the network's forward
// pass (model.Net.Forward) with the estimator's rule at every stochastic
// layer, the surrogate terms of the score-function estimators (ops.go,
// ops_darn.go, ops_muprop.go), and gorgonia's backward pass, run once per
// estimate. NewExact builds the exact gradient by enumerating every code,
// the reference of the tests and of eval.GradVar.
//
// Bernoulli latents use the same formulas in the categorical view of
// model.Config.Bernoulli (pairs (l, 0)), where they reduce to the binary
// ones: z - mu = (z - sigmoid(l), ...) and J^T d = sigmoid'(l) d.
package estimator
