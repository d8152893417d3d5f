// Package gumbel provides the Gumbel-Softmax (Concrete) relaxation of
// categorical variables as gorgonia ops, with the stable softmax,
// log-softmax and categorical KL it needs, for any gorgonia graph.
//
// For N categorical variables of k classes, laid out as rows of N*k logits
// (k consecutive values per variable), Gumbel noise g_j = -log(-log u_j),
// u_j ~ U(0,1) (Sample), gives
//
//	z = onehot(argmax_j logits_j + g_j)      an exact sample of softmax(logits)  (GumbelMax, OneHotSample)
//	y = softmax((logits + g) / tau)          its relaxation at temperature tau    (GumbelSoftmax)
//
// (Jang, Gu & Poole 2017, "Categorical Reparameterization with
// Gumbel-Softmax", eq. 2; Maddison, Mnih & Teh 2017, "The Concrete
// Distribution"). y is differentiable in the logits and tends to z as
// tau -> 0. StraightThrough(y, z) feeds the one-hot z forward and passes
// the gradient to y (Sec. 2.2 of Jang et al.). CategoricalKL is the
// analytic KL of the variables to a uniform or learned prior; RelaxedKL and
// LogExpConcrete give the relaxed variables' density (Maddison et al.,
// Appendix C), which keeps a relaxed objective a bound.
//
// Every op computes with max-shifts so that it is finite for finite
// inputs: gorgonia v0.9's built-in SoftMax returns NaN once a row's
// entries differ by more than about 88 in float32, which logits divided by
// a small temperature reach. Ops work in float32 (fast kernels) or float64
// (math package accuracy, for gradient checks); gradients come from
// gorgonia's own Grad.
//
// Each function builds a new op, so a graph may use any of them any number
// of times, on any inputs. gorgonia merges nodes whose ops and inputs are
// equal: two calls with the same inputs and parameters give one node
// (which computes the same), while calls that differ in k, in the
// temperature node or the prior are distinct nodes. The functions return
// an error for k < 1; rows whose length is not a multiple of k, and
// temperatures that are not positive, make RunAll return an error. The
// ops give first derivatives: G.Grad of a loss that depends on one of
// their gradients returns an error.
// As with gorgonia's own ops, a tape machine may overwrite the value of
// an intermediate node in place once its last reader has run: read such
// values with G.Read.
//
// A reader new to the package can start with the examples, then
// ops_softmax.go (the relaxation), ops_hard.go (sampling and straight
// through), ops_kl.go and ops_concrete.go; noise.go and softmax.go hold the
// same math on plain slices.
package gumbel
