package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/data"
	"gsvae/estimator"
	"gsvae/gumbel"
	"gsvae/model"
)

// trainSteps makes steps updates of cfg.Batch images from trainSet the
// way a run does (State.update, the temperature of cfg's schedule from
// step 0, one random stream seeded by cfg.Seed) and returns the state. It
// starts from cfg's initialisation with the tensors of the model part
// warm (model.PartDecoder, say) copied from the weights from (none if from
// is nil), and puts the tensors of the part keep ("" for none) back after
// every update: the run with learning rate 0 on that part.
func trainSteps(t *testing.T, cfg Config, from *model.Params, warm string, trainSet *data.Split, steps int, keep string) *State {
	t.Helper()
	st, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kept := make([][]float32, len(st.Params.Tensors))
	for i, p := range st.Params.Tensors {
		if from != nil && cfg.Model.Part(i) == warm {
			copy(p.Float32s(), from.Tensors[i].Float32s())
		}
		if cfg.Model.Part(i) == keep {
			kept[i] = slices.Clone(p.Float32s())
		}
	}
	est := newEstimator(t, st)
	rng := rand.New(st.RNG)
	batches := data.NewBatches(trainSet, cfg.Batch, data.Fixed, rng)
	x := est.X.Float32s()
	for range steps {
		rows := batches.Next(x)
		if rows == 0 {
			batches.Shuffle()
			rows = batches.Next(x)
		}
		if _, err := st.update(est, rows, cfg.temperature(st.Step), rng); err != nil {
			t.Fatal(err)
		}
		for i, w := range kept {
			if w != nil {
				copy(st.Params.Tensors[i].Float32s(), w)
			}
		}
	}
	return st
}

// exactNegELBO returns the exact mean -ELBO of the model of st on the
// images x (for the SBN, the exact E[-log p(x_lower | h)]), every code of
// every stochastic layer enumerated, with no sampling noise: the network
// runs forward once (the first layer's logits of every image, and the
// pixel logits and, for the SBN, the second layer's logits of every code)
// and the sums over codes are taken here:
//
//	VAE:  sum_z q(z|x) rec(x, z) + KL(q(z|x) || p(z))
//	SBN:  sum_h1 p(h1|x_upper) sum_h2 p(h2|h1) rec(x_lower, h2)
//
// with rec(x, z) = sum_i softplus(l_i) - x_i l_i for the pixel logits l
// of z.
func exactNegELBO(t *testing.T, st *State, x []float32) float64 {
	t.Helper()
	cfg, p := st.Config.Model, st.Params
	rows, nk, k := len(x)/cfg.Input, cfg.Latent(), cfg.K
	m := estimator.Codes(cfg)
	if m == 0 {
		t.Fatalf("%s: too many codes to enumerate", cfg.Describe())
	}
	g := G.NewGraph()
	net, err := model.NewNet(g, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, rows*cfg.In())
	target := make([]float32, rows*cfg.Out())
	model.Split(cfg, x, in, target, rows)
	codes := make([]float32, m*nk) // code c: variable v in class (c / K^v) mod K
	for c := range m {
		for v, r := 0, c; v < cfg.N; v, r = v+1, r/k {
			codes[c*nk+v*k+r%k] = 1
		}
	}
	inNode := G.NewMatrix(g, tensor.Float32, G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(rows, cfg.In()), tensor.WithBacking(in))))
	codeNode := G.NewMatrix(g, tensor.Float32, G.WithName("codes"), G.WithValue(tensor.New(tensor.WithShape(m, nk), tensor.WithBacking(codes))))
	l1, err := net.Logits(0, inNode, false) // (rows, N*K)
	if err != nil {
		t.Fatal(err)
	}
	pix, err := net.PixelLogits(codeNode, false, false) // (m, Out)
	if err != nil {
		t.Fatal(err)
	}
	var l2, kl *G.Node
	if cfg.SBN() {
		l2, err = net.Logits(1, codeNode, false) // (m, N*K): h2's logits given each h1
	} else {
		kl, err = net.KL(l1) // (rows)
	}
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// logProb returns log q(code c) under each row of logits.
	logProb := func(logits []float32) [][]float64 {
		out := make([][]float64, len(logits)/nk)
		lq := make([]float64, nk)
		for r := range out {
			for j := range lq {
				lq[j] = float64(logits[r*nk+j])
			}
			gumbel.LogSoftmaxGroups(lq, lq, k)
			out[r] = make([]float64, m)
			for c := range m {
				for j := range nk {
					out[r][c] += float64(codes[c*nk+j]) * lq[j]
				}
			}
		}
		return out
	}
	logq1 := logProb(l1.Value().Data().([]float32))
	var logq2 [][]float64
	if l2 != nil {
		logq2 = logProb(l2.Value().Data().([]float32))
	}
	pl := pix.Value().Data().([]float32)
	out := cfg.Out()
	softplus := make([]float64, m) // sum_i softplus(l_i) of each code
	for c := range m {
		for _, v := range pl[c*out : (c+1)*out] {
			l := float64(v)
			softplus[c] += math.Max(l, 0) + math.Log1p(math.Exp(-math.Abs(l)))
		}
	}
	var total float64
	for b := range rows {
		rec := make([]float64, m) // rec(x_b, code c)
		for c := range m {
			rec[c] = softplus[c]
			for i, xi := range target[b*out : (b+1)*out] {
				rec[c] -= float64(xi) * float64(pl[c*out+i])
			}
		}
		var e float64
		for c1 := range m {
			f := rec[c1]
			if logq2 != nil {
				f = 0
				for c2 := range m {
					f += math.Exp(logq2[c1][c2]) * rec[c2]
				}
			}
			e += math.Exp(logq1[b][c1]) * f
		}
		if kl != nil {
			e += float64(kl.Value().Data().([]float32)[b])
		}
		total += e
	}
	return total / float64(rows)
}

// TestEveryEstimatorTrainsTheEncoder checks, for every estimator, that
// its gradient trains the encoder: that the loss falls through the
// encoder's weights. Small models (784-32-(3x4) categorical and
// 784-32-(6 Bernoulli) VAEs, a 392-(3x4)-(3x4)-392 SBN, whose "encoder" is
// the maps to its two stochastic layers) are first trained whole with gs
// for 200 updates of 50 of 500 training images (Adam, 3e-3), so that their
// decoders read the codes. Each estimator then trains a freshly
// initialised encoder, which codes every image almost uniformly at random,
// against that decoder, frozen (see trainSteps), for 40 updates (Adam,
// 1e-2): the exact -ELBO of 100 of the training images (see exactNegELBO:
// no sampling noise) must fall by at least 1 nat from its value at the
// start, which is what the same run with the encoder frozen too ends
// with. Correct gradients gain 2.5 (sf and nvil on the SBN) to 31 nats;
// the score term's sign flipped (in estimator's scoreOp or darnOp) loses
// 2.6 to 148 nats, and an encoder gradient of zero gains nothing. (The
// old check, "the loss falls by 10%", was met by the decoder alone,
// which learns the mean image whatever the codes.) The temperature falls
// fast (by exp(-0.05) per update, to 0.2), so annealed-st, whose softmax
// takes it, must end with other weights than st.
func TestEveryEstimatorTrainsTheEncoder(t *testing.T) {
	const warmSteps, steps, evalRows, minGain = 200, 40, 100, 1.0 // see above
	trainSet, _, _, err := data.Load(rawData(t), 500)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, evalRows*data.Pixels)
	data.Sequential(trainSet, evalRows).Next(x)
	for _, m := range []struct {
		name  string
		model model.Config
	}{
		{"vae-categorical", model.Config{N: 3, K: 4, Hidden: []int{32}, Input: model.Pixels}},
		{"vae-bernoulli", model.Config{N: 6, K: 2, Hidden: []int{32}, Input: model.Pixels, Kind: model.LatentBernoulli}},
		{"sbn-categorical", tinySBN},
	} {
		cfg := Defaults()
		cfg.Model, cfg.Batch, cfg.LR, cfg.Out = m.model, 50, 3e-3, t.TempDir()
		cfg.AnnealEvery, cfg.AnnealRate, cfg.TauMin = 1, 0.05, 0.2
		warm := trainSteps(t, cfg, nil, "", trainSet, warmSteps, "")
		cfg.Seed = 2 // another initialisation, other batches and noise
		start := exactNegELBO(t, trainSteps(t, cfg, warm.Params, model.PartDecoder, trainSet, 0, ""), x)
		encoders := map[string][]float32{}
		for _, name := range estimator.Names {
			t.Run(m.name+"/"+name, func(t *testing.T) {
				cfg := cfg.WithEstimator(name)
				cfg.LR = 1e-2
				st := trainSteps(t, cfg, warm.Params, model.PartDecoder, trainSet, steps, model.PartDecoder)
				end := exactNegELBO(t, st, x)
				t.Logf("%s %s: exact -ELBO %.2f after %d encoder updates, %.2f before: gain %.2f nats", m.name, name, end, steps, start, start-end)
				if !(start-end >= minGain) {
					t.Errorf("%d updates of the encoder took the exact -ELBO from %.2f to %.2f: want a gain of %.2f nats at least", steps, start, end, minGain)
				}
				encoders[name] = slices.Clone(st.Params.Tensors[0].Float32s())
			})
		}
		if st, ann := encoders[estimator.ST], encoders[estimator.AnnealedST]; st != nil && slices.Equal(st, ann) {
			t.Errorf("%s: st and annealed-st trained the same first layer: the temperature never reached annealed-st", m.name)
		}
	}
}
