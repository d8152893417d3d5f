package estimator

import (
	"fmt"

	"gorgonia.org/tensor"

	"gsvae/model"
)

// exact names the enumeration "estimator" of NewExact.
const exact = "exact"

// MaxCodes bounds K^N, the number of joint codes NewExact enumerates per
// row.
const MaxCodes = 4096

// NewExact returns an Estimator whose every estimate is the exact gradient
// of the minibatch loss, computed by enumerating all K^N joint codes z of
// each row:
//
//	d/dtheta E_q[f] = sum_z q(z|x) d/dtheta f(z)       (decoder)
//	d/dl     E_q[f] = sum_z q(z|x) f(z) (z - mu)       (logits; the score
//	                  identity, exact as a finite sum)
//
// plus the analytic KL gradient. It is the reference that tests and the
// gradient-variance report hold the estimators against on models small
// enough (K^N <= MaxCodes). It ignores the temperature and draws no noise.
func NewExact(cfg model.Config, p *model.Params, batch int) (*Estimator, error) {
	if n := Codes(cfg); n == 0 || n > MaxCodes {
		return nil, fmt.Errorf("estimator: %d^%d codes per image: exact enumeration handles at most %d", cfg.K, cfg.N, MaxCodes)
	}
	s, err := newSplit(exact, cfg, p, Options{Batch: batch})
	if err != nil {
		return nil, err
	}
	return &Estimator{name: exact, cfg: cfg, opt: Options{Batch: batch}, split: s, X: s.encFwd.X, rows: batch}, nil
}

// Codes returns K^N, the number of joint codes of one image, or 0 when it
// exceeds MaxCodes.
func Codes(cfg model.Config) int {
	n := 1
	for range cfg.N {
		n *= cfg.K
		if n > MaxCodes {
			return 0
		}
	}
	return n
}

// estimateExact decodes every code of every row in one batch, weighting
// row (b, c) by w_b q_b(c), and fills s.g and s.rec with the exact
// quantities (s.rec holds E_q[f]).
func (s *split) estimateExact(x *tensor.Dense, rows int) error {
	k, n, nk, m := s.cfg.K, s.cfg.N, s.cfg.Latent(), Codes(s.cfg)
	in := s.cfg.Input
	z := make([]float64, rows*m*nk)
	q := make([]float64, rows*m)
	weight := make([]float64, len(q))
	for b := 0; b < rows; b++ {
		for c := 0; c < m; c++ {
			row := b*m + c
			q[row] = 1
			for v, code := 0, c; v < n; v, code = v+1, code/k {
				j := v*k + code%k
				z[row*nk+j] = 1
				q[row] *= s.mu[b*nk+j]
			}
			weight[row] = s.w[b] * q[row]
		}
	}
	xs := make([]float64, rows*m*in)
	xb := model.Float64s(x)
	for row := range q {
		b := row / m
		copy(xs[row*in:(row+1)*in], xb[b*in:(b+1)*in])
	}
	setDense(s.dec.X, xs)
	setDense(s.dec.Z, z)
	setDense(s.dec.Weights(), weight)
	if err := s.dec.Run(); err != nil {
		return err
	}
	f := s.dec.Rec()
	clear(s.g)
	s.rec = make([]float64, rows)
	for b := 0; b < rows; b++ {
		gb, mub := s.g[b*nk:(b+1)*nk], s.mu[b*nk:(b+1)*nk]
		for c := 0; c < m; c++ {
			row := b*m + c
			s.rec[b] += q[row] * f[row]
			addScore(gb, z[row*nk:(row+1)*nk], mub, s.w[b]*q[row]*f[row])
		}
	}
	return nil
}
