package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/data"
	"gsvae/gumbel"
	"gsvae/internal/kernels"
	"gsvae/internal/op"
	"gsvae/internal/parallel"
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

// sampleRows is the fewest rows of samples worth drawing on a CPU of their
// own.
const sampleRows = 64

// NegIWBound computes, for every image x of s, a K-sample bound on
// -log p(x) (or, for the SBN, on -log p(x_lower | x_upper)) with exact
// one-hot samples drawn with rng by inversion of each variable's
// distribution, one uniform per variable (see sampleRow and sampleLater).
//
// VAE: the importance-weighted bound of Burda et al. (2016) with k samples
// z_i ~ q(z|x),
//
//	L_k(x) = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)  <=  log p(x),
//
// with the model's prior p(z) = prod_n p_n(z_n) (uniform, or learned) and
// q(z|x) = prod_n softmax(logits_n). L_1 is the discrete ELBO; L_k rises
// towards log p(x) as k grows.
//
// SBN: the m-sample estimate of Jang et al. (2017, Sec. 4.1) with
// h_i = (h1_i, h2_i) ~ p(h1 | x_upper) p(h2 | h1),
//
//	L_m(x) = log (1/m) sum_i p(x_lower | h2_i)  <=  log p(x_lower | x_upper).
//
// progress, if not nil, is called with the number of images done. It
// stops early with ctx's error when ctx is cancelled.
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
	iw, err := newImportance(cfg, p, min(batchRows, s.N), min(k, iwRows))
	if err != nil {
		return IWBound{}, err
	}
	var sum, sumSq float64
	x := make([]float32, min(batchRows, s.N)*cfg.Input)
	done := 0
	batches := data.Sequential(s, min(batchRows, s.N))
	for rows := batches.Next(x); rows > 0; rows = batches.Next(x) {
		model.Split(cfg, x, iw.first.in.Float32s(), iw.targets, rows)
		if err := iw.first.run(); err != nil { // the first layer's logits of every image
			return IWBound{}, err
		}
		logits := op.Float64s(nil, iw.first.out.Value())
		for b := range rows {
			if err := ctx.Err(); err != nil {
				return IWBound{}, err
			}
			l, err := iw.image(b, logits[b*cfg.Latent():(b+1)*cfg.Latent()], k, rng)
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

// importance holds the graphs of NegIWBound: the first layer's logits of a
// batch of images, the logits of every later layer from the samples of the
// one below, and the loss of the samples of the last layer.
type importance struct {
	cfg      model.Config
	first    *piece    // logits of layer 0 from the data, (batch, N*K)
	later    []*piece  // logits of layer i > 0 from layer i-1's samples, (chunk, N*K)
	dec      *piece    // -log p(target | z) of the last layer's samples, (chunk)
	decX     []float32 // the decoder's target pixels, one image repeated
	targets  []float32 // the batch's target pixels
	logPrior []float64 // the VAE's log p_n(k), (N*K)
}

// piece is one compiled graph: an input tensor (and a second for the
// decoder's pixels) and the output node.
type piece struct {
	vm  G.VM
	in  *tensor.Dense
	out *G.Node
}

func (pc *piece) run() error {
	defer pc.vm.Reset()
	if err := pc.vm.RunAll(); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return nil
}

// newImportance builds the graphs for batches of batch images and chunks
// of chunk samples.
func newImportance(cfg model.Config, p *model.Params, batch, chunk int) (*importance, error) {
	iw := &importance{cfg: cfg, targets: make([]float32, batch*cfg.Out())}
	build := func(rows, width int, f func(net *model.Net, in *G.Node) (*G.Node, error)) (*piece, error) {
		g := G.NewGraph()
		net, err := model.NewNet(g, cfg, p)
		if err != nil {
			return nil, err
		}
		pc := &piece{in: tensor.New(tensor.WithShape(rows, width), tensor.Of(tensor.Float32))}
		in := G.NewMatrix(g, tensor.Float32, G.WithName("in"), G.WithValue(pc.in))
		if pc.out, err = f(net, in); err != nil {
			return nil, fmt.Errorf("eval: build graph: %w", err)
		}
		pc.vm = G.NewTapeMachine(g)
		return pc, nil
	}
	var err error
	if iw.first, err = build(batch, cfg.In(), func(net *model.Net, in *G.Node) (*G.Node, error) { return net.Logits(0, in, false) }); err != nil {
		return nil, err
	}
	for i := 1; i < cfg.Layers(); i++ {
		pc, err := build(chunk, cfg.Latent(), func(net *model.Net, in *G.Node) (*G.Node, error) { return net.SampledLogits(i, in) })
		if err != nil {
			return nil, err
		}
		iw.later = append(iw.later, pc)
	}
	decX := tensor.New(tensor.WithShape(chunk, cfg.Out()), tensor.Of(tensor.Float32))
	iw.decX = decX.Float32s()
	if iw.dec, err = build(chunk, cfg.Latent(), func(net *model.Net, z *G.Node) (*G.Node, error) {
		x := G.NewMatrix(net.Graph(), tensor.Float32, G.WithName("target"), G.WithValue(decX))
		return net.SampledNegLogLik(z, x)
	}); err != nil {
		return nil, err
	}
	if !cfg.SBN() {
		iw.logPrior = make([]float64, cfg.Latent())
		gumbel.LogSoftmaxGroups(iw.logPrior, p.PriorLogits(cfg), cfg.K)
	}
	return iw, nil
}

// image returns L_k(x) of image b of the batch, whose first layer's
// logits are given (N*K values), running the later graphs in chunks.
func (iw *importance) image(b int, logits []float64, k int, rng *rand.Rand) (float64, error) {
	cfg := iw.cfg
	nk, chunk := cfg.Latent(), iw.dec.in.Shape()[0]
	out := cfg.Out()
	for r := range chunk {
		copy(iw.decX[r*out:(r+1)*out], iw.targets[b*out:(b+1)*out])
	}
	logq := make([]float64, nk)
	gumbel.LogSoftmaxGroups(logq, logits, cfg.K)
	cdf := cumulative(logq, cfg.K)
	logw := make([]float64, 0, k)
	logqz, logpz := make([]float64, chunk), make([]float64, chunk)
	groups := nk / cfg.K
	u := make([]float64, chunk*groups)
	var expl []float32 // a later layer's exp(l_j - max_i l_i), per group
	if len(iw.later) > 0 {
		expl = make([]float32, chunk*nk)
	}
	for len(logw) < k {
		// The first layer: samples of q(z|x) (VAE) or p(h1 | x_upper),
		// whose distribution is the same for every sample of the image.
		// The uniforms are drawn first, so that the rows' draws, each on
		// its own range of rows, do not depend on the number of CPUs.
		z := iw.laterInput(0)
		for i := range u {
			u[i] = rng.Float64()
		}
		parallel.Rows(chunk, sampleRows, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				logqz[r], logpz[r] = sampleRow(z[r*nk:(r+1)*nk], u[r*groups:(r+1)*groups], cdf, logq, iw.logPrior, cfg.K)
			}
		})
		if cfg.SBN() { // samples of the model itself: weight p(x_lower | h) alone
			clear(logqz)
			clear(logpz)
		}
		// Later layers (SBN): samples of p(h_i | h_{i-1}), whose logits
		// differ from sample to sample, drawn by inversion too (sampleLater),
		// from the exponentials of each group's logits less their maximum.
		for i, pc := range iw.later {
			if err := pc.run(); err != nil {
				return 0, err
			}
			li, err := op.Data[float32](pc.out.Value())
			if err != nil {
				return 0, fmt.Errorf("eval: %w", err)
			}
			z := iw.laterInput(i + 1)
			for j := range u {
				u[j] = rng.Float64()
			}
			parallel.Rows(chunk, sampleRows, func(lo, hi int) {
				kernels.GroupShift(expl[lo*nk:hi*nk], li[lo*nk:hi*nk], cfg.K, 1, nil)
				kernels.ExpNeg32(expl[lo*nk : hi*nk])
				for r := lo; r < hi; r++ {
					sampleLater(z[r*nk:(r+1)*nk], u[r*groups:(r+1)*groups], expl[r*nk:(r+1)*nk], cfg.K)
				}
			})
		}
		if err := iw.dec.run(); err != nil {
			return 0, err
		}
		for r, rec := range op.Float64s(nil, iw.dec.out.Value()) {
			if len(logw) == k {
				break
			}
			logw = append(logw, -rec+logpz[r]-logqz[r])
		}
	}
	return gumbel.LogSumExp(logw) - math.Log(float64(k)), nil
}

// laterInput returns the tensor that the samples of layer i go into: the
// input of layer i+1's logits, or of the decoder for the last layer.
func (iw *importance) laterInput(i int) []float32 {
	if i < len(iw.later) {
		return iw.later[i].in.Float32s()
	}
	return iw.dec.in.Float32s()
}

// cumulative returns, for each group of k log-probabilities logq, the
// cumulative sums of their probabilities divided by the group's total, so
// that the last of every group is exactly 1.
func cumulative(logq []float64, k int) []float64 {
	cdf := make([]float64, len(logq))
	for g := 0; g < len(logq); g += k {
		var s float64
		for j, v := range logq[g : g+k] {
			s += math.Exp(v)
			cdf[g+j] = s
		}
		for j := range k {
			cdf[g+j] /= s
		}
	}
	return cdf
}

// sampleRow writes into z a one-hot sample of every group of k classes,
// drawn by inversion with one uniform u_g in [0,1) per group: the first
// class j whose cumulative probability cdf_j exceeds u_g, so class j is
// drawn with probability cdf_j - cdf_{j-1}, the class's probability up to
// float64 rounding (a class of probability 0 is never drawn). It returns
// log q of the sample and, when logPrior is not nil, log p of it under the
// prior, summed in float64.
//
// Inversion takes one uniform per variable where Gumbel-max takes k
// Gumbel variables, two logarithms each: on one CPU, BenchmarkIWBound's
// linear 20x10 VAE takes 63 s per test set instead of 101 with
// Gumbel-max, the default VAE 212 instead of 261.
func sampleRow(z []float32, u, cdf, logq, logPrior []float64, k int) (lq, lp float64) {
	clear(z)
	for g, ug := range u {
		i := g * k
		for cdf[i] <= ug {
			i++
		}
		z[i] = 1
		lq += logq[i]
		if logPrior != nil {
			lp += logPrior[i]
		}
	}
	return lq, lp
}

// sampleLater writes into z a one-hot sample of every group of k classes
// whose unnormalised probabilities e_j = exp(l_j - max_i l_i) are given
// (float32, relative error about 2e-7: kernels.ExpNeg32), drawn by
// inversion with one uniform u_g in [0,1) per group: the first class j
// with u_g sum_i e_i < e_1 + ... + e_j (sums in float64, in the same
// order, so the last class's partial sum is the whole sum, which u_g < 1
// keeps above u_g sum_i e_i). A class with e_j = 0 is never drawn: its
// partial sum is the one before it.
func sampleLater(z []float32, u []float64, e []float32, k int) {
	clear(z)
	for g, ug := range u {
		eg := e[g*k : (g+1)*k]
		var sum float64
		for _, v := range eg {
			sum += float64(v)
		}
		t, cum, j := ug*sum, 0.0, 0
		for ; j < k-1; j++ {
			if cum += float64(eg[j]); t < cum {
				break
			}
		}
		z[g*k+j] = 1
	}
}
