package train

import (
	"math"
	"runtime"
	"sync"
)

// Adam is the optimiser of Kingma & Ba (2015) over float32 parameter slices,
// with the usual defaults beta1 = 0.9, beta2 = 0.999, eps = 1e-8. For
// every parameter w with gradient g at step t = 1, 2, ...:
//
//	m = beta1 m + (1 - beta1) g
//	v = beta2 v + (1 - beta2) g^2
//	w = w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
//
// Its state (M, V, T) is saved in checkpoints, so a resumed run continues
// exactly.
type Adam struct {
	// LR is the learning rate.
	LR float64
	// M and V are the first and second moment estimates, one slice per
	// parameter tensor.
	M, V [][]float32
	// T is the number of steps taken.
	T int
}

const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// NewAdam returns an optimiser with zero moments for parameter tensors of
// the given sizes.
func NewAdam(lr float64, sizes []int) *Adam {
	a := &Adam{LR: lr}
	for _, n := range sizes {
		a.M = append(a.M, make([]float32, n))
		a.V = append(a.V, make([]float32, n))
	}
	return a
}

// Step updates every params[i] in place from its gradient grads[i].
func (a *Adam) Step(params, grads [][]float32) {
	a.T++
	c1 := 1 - math.Pow(adamBeta1, float64(a.T))
	c2 := 1 - math.Pow(adamBeta2, float64(a.T))
	// w -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps), folded into two constants.
	step := float32(a.LR / c1)
	invSqrtC2 := float32(1 / math.Sqrt(c2))
	update := func(w, g, m, v []float32) {
		for j := range w {
			m[j] = adamBeta1*m[j] + (1-adamBeta1)*g[j]
			v[j] = adamBeta2*v[j] + (1-adamBeta2)*g[j]*g[j]
			w[j] -= step * m[j] / (sqrt32(v[j])*invSqrtC2 + adamEps)
		}
	}
	// Every element is updated independently, so splitting the work
	// across CPUs changes no result.
	var wg sync.WaitGroup
	for i, w := range params {
		g, m, v := grads[i], a.M[i], a.V[i]
		parts := min(runtime.GOMAXPROCS(0), 1+len(w)/(1<<15))
		for p := range parts {
			lo, hi := p*len(w)/parts, (p+1)*len(w)/parts
			wg.Add(1)
			go func() {
				defer wg.Done()
				update(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi])
			}()
		}
	}
	wg.Wait()
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
