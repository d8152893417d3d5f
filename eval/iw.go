package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"gsvae/data"
	"gsvae/model"
)

// IWBound is the importance-weighted bound of a split, in nats per image.
type IWBound struct {
	// N is the number of images and K the samples per image.
	N, K int
	// NegBound is the mean over images of -L_K(x) (see NegIWBound), an
	// upper bound on the negative log-likelihood that tightens as K grows.
	NegBound float64
	// SE is its standard error over images.
	SE float64
}

// iwRows is the number of latent samples decoded per run.
const iwRows = 1000

// NegIWBound computes, for every image x of s, the importance-weighted
// bound of Burda et al. (2016) with k discrete samples z_i ~ q(z|x):
//
//	L_k(x) = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)  <=  log p(x),
//
// with the model's prior p(z) = prod_n p_n(z_n) (uniform, or learned) and
// q(z|x) = prod_n softmax(logits_n).
// L_1 is the discrete ELBO; L_k rises towards log p(x) as k grows. The
// samples are one-hot Gumbel-max draws from rng. progress, if not nil, is
// called with the number of images done. It stops early with ctx's error
// when ctx is cancelled.
func NegIWBound(ctx context.Context, cfg model.Config, p *model.Params, s *data.Split, k int, rng *rand.Rand, progress func(done int)) (IWBound, error) {
	if k < 1 {
		return IWBound{}, fmt.Errorf("eval: %d importance samples: need at least 1", k)
	}
	if s.N == 0 {
		return IWBound{}, fmt.Errorf("eval: split %q is empty", s.Name)
	}
	if len(p.Tensors) == 0 || p.Tensors[0].Dtype() != tensor.Float32 {
		return IWBound{}, fmt.Errorf("eval: want float32 parameters")
	}
	enc, err := model.NewGraph(cfg, p, model.Options{Batch: min(batchRows, s.N), Hard: true})
	if err != nil {
		return IWBound{}, err
	}
	dec, err := model.NewDecoder(cfg, p, model.Options{Batch: min(k, iwRows)})
	if err != nil {
		return IWBound{}, err
	}
	logPrior := model.LogSoftmaxGroups(p.PriorLogits(cfg), cfg.K)
	var sum, sumSq float64
	x := enc.X.Float32s()
	done := 0
	batches := data.Sequential(s, min(batchRows, s.N))
	for rows := batches.Next(x); rows > 0; rows = batches.Next(x) {
		if err := enc.SetRows(rows); err != nil {
			return IWBound{}, err
		}
		if err := enc.Run(); err != nil { // the posterior logits of every image
			return IWBound{}, fmt.Errorf("eval: %w", err)
		}
		logits := enc.Logits()
		for b := range rows {
			if err := ctx.Err(); err != nil {
				return IWBound{}, err
			}
			img := x[b*cfg.Input : (b+1)*cfg.Input]
			l, err := imageIW(dec, cfg, img, logits[b*cfg.Latent():(b+1)*cfg.Latent()], logPrior, k, rng)
			if err != nil {
				return IWBound{}, err
			}
			sum += -l
			sumSq += l * l
			done++
			if progress != nil {
				progress(done)
			}
		}
	}
	mean, se := meanSE(sum, sumSq, s.N)
	return IWBound{N: s.N, K: k, NegBound: mean, SE: se}, nil
}

// imageIW returns L_k(x) of one image with posterior logits and prior
// log-probabilities (N*K values each), decoding the k samples in runs of
// the decoder's batch size.
func imageIW(dec *model.Decoder, cfg model.Config, img []float32, logits, logPrior []float64, k int, rng *rand.Rand) (float64, error) {
	logq := model.LogSoftmaxGroups(logits, cfg.K)
	batch := dec.Z.Shape()[0]
	xs, zs := dec.X.Float32s(), dec.Z.Float32s()
	for r := range batch {
		copy(xs[r*cfg.Input:(r+1)*cfg.Input], img)
	}
	logw := make([]float64, 0, k)
	logqz, logpz := make([]float64, batch), make([]float64, batch)
	noise := make([]float64, batch*cfg.Latent())
	for len(logw) < k {
		clear(zs)
		model.SampleGumbel(noise, rng)
		for r := range batch {
			logqz[r], logpz[r] = 0, 0
			for v := 0; v < cfg.N; v++ {
				best, bestScore := 0, math.Inf(-1)
				for j := 0; j < cfg.K; j++ { // Gumbel-max: an exact draw from q_v
					i := v*cfg.K + j
					if s := logq[i] + noise[r*cfg.Latent()+i]; s > bestScore {
						best, bestScore = j, s
					}
				}
				zs[r*cfg.Latent()+v*cfg.K+best] = 1
				logqz[r] += logq[v*cfg.K+best]
				logpz[r] += logPrior[v*cfg.K+best]
			}
		}
		if err := dec.Run(); err != nil {
			return 0, fmt.Errorf("eval: %w", err)
		}
		for r, rec := range dec.Rec() {
			if len(logw) == k {
				break
			}
			logw = append(logw, -rec+logpz[r]-logqz[r])
		}
	}
	return model.LogSumExp(logw) - math.Log(float64(k)), nil
}
