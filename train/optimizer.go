package train

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"gsvae/internal/kernels"
	"gsvae/internal/parallel"
)

// Optimizer names accepted by Config.Optimizer.
const (
	OptAdam     = "adam"     // Adam, the default (as in the authors' notebook)
	OptMomentum = "momentum" // SGD with momentum 0.9 (as in Jang et al. 2017)
)

// Optimizer updates float32 parameter slices in place from their
// gradients, with one of two rules. Adam (Kingma & Ba 2015, beta1 = 0.9,
// beta2 = 0.999, eps = 1e-8), at step t = 1, 2, ...:
//
//	m = beta1 m + (1 - beta1) g
//	v = beta2 v + (1 - beta2) g^2
//	w = w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
//
// SGD with momentum mu = 0.9, the paper's optimiser (the velocity form of
// PyTorch and TensorFlow):
//
//	m = mu m + g
//	w = w - lr m
//
// Its state (M, V, T) is saved in checkpoints, so a resumed run continues
// exactly.
type Optimizer struct {
	// Kind is OptAdam or OptMomentum.
	Kind string
	// LR is the learning rate.
	LR float64
	// M holds Adam's first moments or the momentum velocity, and V Adam's
	// second moments (nil for momentum), one slice per parameter tensor.
	M, V [][]float32
	// T is the number of steps taken.
	T int
}

const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
	momentum  = 0.9
)

// NewOptimizer returns an optimiser of the given kind with zero state for
// parameter tensors of the given sizes.
func NewOptimizer(kind string, lr float64, sizes []int) (*Optimizer, error) {
	if kind != OptAdam && kind != OptMomentum {
		return nil, fmt.Errorf("unknown optimizer %q: want %s or %s", kind, OptAdam, OptMomentum)
	}
	o := &Optimizer{Kind: kind, LR: lr}
	for _, n := range sizes {
		o.M = append(o.M, make([]float32, n))
		if kind == OptAdam {
			o.V = append(o.V, make([]float32, n))
		}
	}
	return o, nil
}

// Step updates every params[i] in place from its gradient grads[i] and
// returns -1, or else the index of a tensor whose gradient holds a NaN or
// an infinity. The update rules check the gradients as they apply them,
// so the check costs no pass of its own; a non-finite gradient therefore
// stops the update part way, leaving params partly updated: the caller
// must discard them (training stops, keeping the last checkpoint).
func (o *Optimizer) Step(params, grads [][]float32) int {
	o.T++
	var update func(w, g, m, v []float32) bool
	switch o.Kind {
	case OptMomentum:
		lr := float32(o.LR)
		update = func(w, g, m, _ []float32) bool { return kernels.Momentum(momentum, lr, w, g, m) }
	default:
		r := kernels.NewAdamRule(o.LR, adamBeta1, adamBeta2, adamEps, o.T)
		update = func(w, g, m, v []float32) bool { return kernels.Adam(r, w, g, m, v) }
	}
	// Every element is updated independently, so splitting the work
	// across CPUs changes no result. Each CPU takes one contiguous range
	// of all the parameters, laid end to end.
	total := 0
	for _, w := range params {
		total += len(w)
	}
	workers := min(runtime.GOMAXPROCS(0), 1+total/(1<<15))
	var bad atomic.Int64 // 1 + the lowest index of a non-finite gradient, or 0
	part := func(p int) {
		lo, hi := p*total/workers, (p+1)*total/workers
		off := 0 // offset of params[i] in the whole
		for i, w := range params {
			a, b := max(lo-off, 0), min(hi-off, len(w))
			off += len(w)
			if a >= b {
				continue
			}
			var v []float32
			if o.V != nil {
				v = o.V[i][a:b]
			}
			if !update(w[a:b], grads[i][a:b], o.M[i][a:b], v) {
				for old := bad.Load(); old == 0 || int64(i) < old-1; old = bad.Load() {
					if bad.CompareAndSwap(old, int64(i)+1) {
						break
					}
				}
				return
			}
		}
	}
	parallel.Run(workers, part)
	return int(bad.Load()) - 1
}
