package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gsvae/data"
	"gsvae/model"
)

// Bound is the negative ELBO of a split, in nats per image: for the SBN,
// whose loss has no KL, the expected -log p(x_lower | h) with one sample.
type Bound struct {
	// N is the number of images.
	N int
	// NegELBO is the mean over images of rec + KL, each image's value
	// averaged over its samples.
	NegELBO float64
	// SE is the standard error of NegELBO over images: sd / sqrt(N).
	SE float64
	// Rec and KL are the means of the two terms: -E_q[log p(x|z)] and
	// KL(q(z|x) || p(z)).
	Rec, KL float64
}

// batchRows is the number of images per forward pass: large enough to keep
// the matrix products efficient, small enough to bound memory.
const batchRows = 500

// NegELBO computes, for every image x of s, the negative ELBO with discrete
// latents,
//
//	-ELBO(x) = -log p(x|z) + KL(q(z|x) || p(z)),  z ~ q(z|x) one-hot,
//
// averaged over `samples` independent draws of z. The draws use the
// Gumbel-max trick, z_n = onehot(argmax_k logits_nk + g_nk), which samples
// q exactly, so the result is the ELBO of the discrete model that the paper
// reports, not the relaxed training objective. The noise comes from rng.
// It stops early with ctx's error when ctx is cancelled.
func NegELBO(ctx context.Context, cfg model.Config, p *model.Params, s *data.Split, samples int, rng *rand.Rand) (Bound, error) {
	if samples < 1 {
		return Bound{}, fmt.Errorf("eval: %d samples per image: need at least 1", samples)
	}
	if s.N == 0 {
		return Bound{}, fmt.Errorf("eval: split %q is empty", s.Name)
	}
	smp, err := newSampler(cfg, p, min(batchRows, s.N))
	if err != nil {
		return Bound{}, err
	}
	var sum, sumSq, rec, kl float64
	batches := data.Sequential(s, min(batchRows, s.N))
	for rows := batches.Next(smp.x); rows > 0; rows = batches.Next(smp.x) {
		if err := ctx.Err(); err != nil {
			return Bound{}, err
		}
		perImage := make([]float64, rows)
		for range samples {
			if err := smp.run(rng); err != nil {
				return Bound{}, err
			}
			r, k := smp.rec(), smp.kl()
			for b := range rows {
				perImage[b] += (r[b] + k[b]) / float64(samples)
				rec += r[b] / float64(samples)
				kl += k[b] / float64(samples)
			}
		}
		for _, v := range perImage {
			sum += v
			sumSq += v * v
		}
	}
	n := float64(s.N)
	mean, se := meanSE(sum, sumSq, s.N)
	return Bound{N: s.N, NegELBO: mean, SE: se, Rec: rec / n, KL: kl / n}, nil
}

// meanSE returns the mean of n values and its standard error, from their
// sum and sum of squares (with the n-1 variance).
func meanSE(sum, sumSq float64, n int) (mean, se float64) {
	fn := float64(n)
	mean = sum / fn
	variance := math.Max(sumSq/fn-mean*mean, 0) * fn / math.Max(fn-1, 1)
	return mean, math.Sqrt(variance / fn)
}
