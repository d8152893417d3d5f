package estimator

import (
	"fmt"
	"math/rand/v2"

	"gsvae/gumbel"
)

// Toy is the toy problem of REBAR (Tucker et al. 2017), RELAX (Grathwohl et
// al. 2018) and ARM (Yin & Zhou 2019), for one categorical variable with K
// logits l:
//
//	L(l) = E_{z ~ Cat(softmax(l))} f(z),   f(z) = sum_k (z_k - t_k)^2,
//
// with targets t_0 = t and t_k = (1 - t)/(K - 1) for k > 0. For K = 2 and
// z = (b, 1 - b), b ~ Bernoulli(sigmoid(l_0 - l_1)), f = 2 (b - t)^2: twice
// the Bernoulli problem of those papers, whose exact gradient is
// dL/dl_0 = 2 (1 - 2t) sigmoid (1 - sigmoid). The best z is e_0 when
// t > 1/2 and e_1 otherwise; with t close to 1/2 the two differ little,
// which is what makes biased estimators go the wrong way.
type Toy struct {
	T []float64 // the targets t_k
}

// NewToy returns the toy problem with K classes and target t for class 0.
func NewToy(k int, t float64) (Toy, error) {
	if k < 2 || k > 1000 {
		return Toy{}, fmt.Errorf("toy: K = %d: want 2 to 1000 classes", k)
	}
	if !(t >= 0 && t <= 1) {
		return Toy{}, fmt.Errorf("toy: target %v: want 0 <= t <= 1", t)
	}
	p := Toy{T: make([]float64, k)}
	p.T[0] = t
	for i := 1; i < k; i++ {
		p.T[i] = (1 - t) / float64(k-1)
	}
	return p, nil
}

// f returns sum_k (z_k - t_k)^2 and, into d if not nil, its gradient
// 2 (z - t).
func (p Toy) f(z, d []float64) float64 {
	var s float64
	for i, v := range z {
		s += (v - p.T[i]) * (v - p.T[i])
		if d != nil {
			d[i] = 2 * (v - p.T[i])
		}
	}
	return s
}

// Loss returns L(l), exactly, by enumerating the K classes.
func (p Toy) Loss(logits []float64) float64 {
	mu := make([]float64, len(logits))
	gumbel.SoftmaxGroups(mu, logits, len(logits), 1)
	var s float64
	for k := range mu {
		s += mu[k] * p.f(oneHot(len(mu), k), nil)
	}
	return s
}

// Gradient returns dL/dl exactly: with F_k = f(e_k), L = <mu, F> and
// dL/dl = J_mu^T F = mu (F - <mu, F>).
func (p Toy) Gradient(logits []float64) []float64 {
	k := len(logits)
	mu, fk, g := make([]float64, k), make([]float64, k), make([]float64, k)
	gumbel.SoftmaxGroups(mu, logits, k, 1)
	for i := range fk {
		fk[i] = p.f(oneHot(k, i), nil)
	}
	gumbel.SoftmaxGroupsGrad(g, mu, fk, k, 1)
	return g
}

// Best returns the class with the smallest f, the optimum's one-hot code.
func (p Toy) Best() int {
	best := 0
	for k := range p.T {
		if p.f(oneHot(len(p.T), k), nil) < p.f(oneHot(len(p.T), best), nil) {
			best = k
		}
	}
	return best
}

func oneHot(k, i int) []float64 {
	z := make([]float64, k)
	z[i] = 1
	return z
}

// ToySampler draws one estimator's gradient estimates for a Toy, with the
// same formulas as for the VAE (logitGrad) and no variance normalisation.
// The problem has no input, so nvil's baseline b(x) is a learned constant,
// moved by 0.1 of its error after every draw.
type ToySampler struct {
	name  string
	toy   Toy
	stats Stats
	base  float64
}

// NewSampler returns a sampler of the named estimator for p.
func (p Toy) NewSampler(name string) (*ToySampler, error) {
	if err := Check(name); err != nil {
		return nil, err
	}
	return &ToySampler{name: name, toy: p, stats: Stats{Var: 1}}, nil
}

// Grad returns one estimate of dL/dl at the logits, at temperature tau.
func (s *ToySampler) Grad(logits []float64, tau float64, rng *rand.Rand) []float64 {
	k := len(logits)
	r := row{k: k, tau: tau, logits: logits, z: make([]float64, k), mu: make([]float64, k), d: make([]float64, k), base: s.base}
	noise := make([]float64, k)
	gumbel.Sample(noise, rng)
	gumbel.OneHotSample(r.z, logits, noise, k)
	gumbel.SoftmaxGroups(r.mu, logits, k, 1)
	at := r.z
	if s.name == GS || s.name == STGS {
		r.y = make([]float64, k)
		for i := range r.y {
			r.y[i] = logits[i] + noise[i]
		}
		gumbel.SoftmaxGroups(r.y, r.y, k, tau)
		if s.name == GS {
			at = r.y
		}
	}
	r.f = s.toy.f(at, r.d)
	if s.name == MuProp {
		r.dMean = make([]float64, k)
		r.fMean = s.toy.f(r.mu, r.dMean)
	}
	g := make([]float64, k)
	signal, scored := logitGrad(s.name, r, s.stats.Mean, g)
	if scored {
		if s.name == NVIL {
			s.base += 0.1 * (signal - s.stats.Mean) // signal - c = f - c - b, the error of b
		}
		s.stats = s.stats.update([]float64{signal})
	}
	return g
}
