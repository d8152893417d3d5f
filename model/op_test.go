package model

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// relaxProbe is a graph computing L = sum(c * y) for y = relaxOp(logits,
// noise, tau): a linear loss makes dL/dy = c for both soft and hard y, so the
// gradient of the logits isolates the op's own backward pass.
type relaxProbe struct {
	vm                    G.VM
	logits, noise, c      *tensor.Dense
	tau, y, loss, dlogits *G.Node
}

func newRelaxProbe[T Float](t *testing.T, rows, k int, hard bool, logits, noise, c []T) *relaxProbe {
	t.Helper()
	dt := tensor.Float64
	if _, ok := any(logits).([]float32); ok {
		dt = tensor.Float32
	}
	g := G.NewGraph()
	p := &relaxProbe{
		logits: tensor.New(tensor.WithShape(rows, k), tensor.WithBacking(logits)),
		noise:  tensor.New(tensor.WithShape(rows, k), tensor.WithBacking(noise)),
		c:      tensor.New(tensor.WithShape(rows, k), tensor.WithBacking(c)),
	}
	l := G.NewMatrix(g, dt, G.WithName("logits"), G.WithValue(p.logits))
	n := G.NewMatrix(g, dt, G.WithName("noise"), G.WithValue(p.noise))
	cn := G.NewMatrix(g, dt, G.WithName("c"), G.WithValue(p.c))
	p.tau = G.NewScalar(g, dt, G.WithName("tau"))
	var err error
	if p.y, err = G.ApplyOp(newRelaxOp(k, hard), l, n, p.tau); err != nil {
		t.Fatal(err)
	}
	prod, err := G.HadamardProd(p.y, cn)
	if err != nil {
		t.Fatal(err)
	}
	if p.loss, err = G.Sum(prod); err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(p.loss, l)
	if err != nil {
		t.Fatal(err)
	}
	p.dlogits = grads[0]
	p.vm = G.NewTapeMachine(g)
	return p
}

// run sets tau and runs the probe, returning y, L and dL/dlogits as float64.
func (p *relaxProbe) run(t *testing.T, tau float64) (y []float64, loss float64, dlogits []float64) {
	t.Helper()
	var err error
	if p.logits.Dtype() == tensor.Float32 {
		err = G.Let(p.tau, float32(tau))
	} else {
		err = G.Let(p.tau, tau)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := p.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	p.vm.Reset()
	return Float64s(p.y.Value()), scalarOf(p.loss.Value()), Float64s(p.dlogits.Value())
}

func randomSlice(rng *rand.Rand, n int, scale float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = scale * rng.NormFloat64()
	}
	return s
}

// TestRelaxGradientFiniteDifferences checks the backward pass of the
// Gumbel-Softmax layer against central differences in float64 (h = 1e-6,
// tolerance as in TestGraphGradientFiniteDifferences) over temperatures
// from 0.1 to 5.
func TestRelaxGradientFiniteDifferences(t *testing.T) {
	const rows, k, h, tol = 4, 5, 1e-6, 1e-6
	for _, tau := range []float64{0.1, 0.5, 1, 5} {
		rng := rand.New(rand.NewPCG(11, uint64(tau*1000)))
		logits := randomSlice(rng, rows*k, 2)
		noise := make([]float64, rows*k)
		SampleGumbel(noise, rng)
		p := newRelaxProbe(t, rows, k, false, logits, noise, randomSlice(rng, rows*k, 1))
		_, _, grad := p.run(t, tau)
		for i := range logits {
			orig := logits[i]
			logits[i] = orig + h
			_, up, _ := p.run(t, tau)
			logits[i] = orig - h
			_, down, _ := p.run(t, tau)
			logits[i] = orig
			fd := (up - down) / (2 * h)
			if math.Abs(grad[i]-fd) > tol*math.Max(1, math.Abs(fd)) {
				t.Errorf("tau=%v logit %d: gradient %.10g, finite difference %.10g", tau, i, grad[i], fd)
			}
		}
	}
}

// TestHardModeIsStraightThrough checks both halves of the straight-through
// Gumbel-Softmax: the forward value is exactly one-hot, at the argmax of the
// soft sample for the same noise; the gradient equals the soft sample's
// gradient exactly (a linear loss has the same dL/dy in both modes).
func TestHardModeIsStraightThrough(t *testing.T) {
	const rows, k = 6, 4
	rng := rand.New(rand.NewPCG(5, 5))
	logits := randomSlice(rng, rows*k, 3)
	noise := make([]float64, rows*k)
	SampleGumbel(noise, rng)
	c := randomSlice(rng, rows*k, 1)
	soft := newRelaxProbe(t, rows, k, false, logits, noise, c)
	hard := newRelaxProbe(t, rows, k, true, logits, noise, c)
	for _, tau := range []float64{0.1, 1, 10} {
		ys, _, gs := soft.run(t, tau)
		yh, _, gh := hard.run(t, tau)
		for r := 0; r < rows; r++ {
			best := 0
			for j := 0; j < k; j++ {
				if ys[r*k+j] > ys[r*k+best] {
					best = j
				}
			}
			for j := 0; j < k; j++ {
				if want := boolTo(j == best); yh[r*k+j] != want {
					t.Errorf("tau=%v row %d: hard y = %v, want one-hot at %d", tau, r, yh[r*k:(r+1)*k], best)
					break
				}
			}
		}
		for i := range gs {
			if gh[i] != gs[i] {
				t.Errorf("tau=%v: hard gradient[%d] = %v, soft %v", tau, i, gh[i], gs[i])
			}
		}
	}
}

// TestRelaxStableFloat32 feeds float32 rows whose entries differ by far more
// than the ~88 at which exp overflows (gorgonia's SoftMax returns NaN there)
// and logits/tau up to +-1e4: the output must be finite, sum to 1 per group
// (to float32 rounding, 1e-6) and put its mass on the largest entry; the
// gradient must be finite.
func TestRelaxStableFloat32(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logits []float32
		tau    float64
		argmax int
	}{
		{"[200,0,0]", []float32{200, 0, 0}, 1, 0},
		{"[0,-200,0.5] tau=0.01", []float32{0, -200, 0.5}, 0.01, 2},
		{"logits/tau=1e4", []float32{1, 0, -1}, 1e-4, 0},
		{"logits/tau=-1e4", []float32{-1e4, 0, -1e4}, 1, 1},
		{"logits=1e4, tau=1e4", []float32{1e4, -1e4, 0}, 1e4, 0},
		{"logits=+-1e4, tau=1e-4", []float32{-1e4, 1e4, 0}, 1e-4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := len(tc.logits)
			p := newRelaxProbe(t, 1, k, false, tc.logits, make([]float32, k), []float32{1, 2, 3})
			y, loss, grad := p.run(t, tc.tau)
			var sum float64
			for j, v := range y {
				sum += v
				if math.IsNaN(v) || math.IsInf(v, 0) || math.IsNaN(grad[j]) || math.IsInf(grad[j], 0) {
					t.Fatalf("y = %v, gradient %v: not finite", y, grad)
				}
			}
			if math.Abs(sum-1) > 1e-6 || math.IsNaN(loss) {
				t.Errorf("y = %v sums to %v, want 1", y, sum)
			}
			if tc.tau <= 1 && y[tc.argmax] < 0.99 {
				t.Errorf("y = %v: want its mass on entry %d", y, tc.argmax)
			}
		})
	}
}

// runSingleOp evaluates op on constant inputs and, if the op is
// differentiable in its first input, the gradient of sum(c * op(inputs)) for
// it, with c all ones.
func runSingleOp(t *testing.T, op G.Op, inputs ...*tensor.Dense) (out, grad []float64) {
	t.Helper()
	g := G.NewGraph()
	var nodes G.Nodes
	for i, in := range inputs {
		nodes = append(nodes, G.NodeFromAny(g, in, G.WithName(string(rune('a'+i)))))
	}
	y, err := G.ApplyOp(op, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := G.Sum(y)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(s, nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return Float64s(y.Value()), Float64s(grads[0].Value())
}

// TestKLMatchesEnumeration compares the analytic KL of N=2 variables with K=3
// classes to KL(q||p) summed over all 9 joint states z:
// sum_z q(z) log(q(z) / p(z)), q(z) = q_1(z_1) q_2(z_2), with the uniform
// prior p(z) = 1/9 and with a learned prior p(z) = p_1(z_1) p_2(z_2).
// Tolerance 1e-12: float64 rounding of a 9-term sum.
func TestKLMatchesEnumeration(t *testing.T) {
	const n, k = 2, 3
	rng := rand.New(rand.NewPCG(3, 1))
	for trial := 0; trial < 10; trial++ {
		learned := trial >= 5 // then the prior is softmax of random logits
		logits := randomSlice(rng, n*k, 2)
		prior := make([]float64, n*k) // zero logits: uniform
		if learned {
			prior = randomSlice(rng, n*k, 1)
		}
		q, p := make([]float64, n*k), make([]float64, n*k)
		SoftmaxGroups(q, logits, k, 1)
		SoftmaxGroups(p, prior, k, 1)
		var want float64
		for z1 := 0; z1 < k; z1++ {
			for z2 := 0; z2 < k; z2++ {
				qz, pz := q[z1]*q[k+z2], p[z1]*p[k+z2]
				want += qz * math.Log(qz/pz)
			}
		}
		inputs := []*tensor.Dense{tensor.New(tensor.WithShape(1, n*k), tensor.WithBacking(logits))}
		if learned {
			inputs = append(inputs, tensor.New(tensor.WithShape(1, n*k), tensor.WithBacking(prior)))
		}
		got, _ := runSingleOp(t, newKLOp(k, learned), inputs...)
		if math.Abs(got[0]-want) > 1e-12 {
			t.Errorf("trial %d (learned prior %t): KL = %.15g, enumeration %.15g", trial, learned, got[0], want)
		}
	}
}

// TestOpGradientsFiniteDifferences checks the KL and Bernoulli likelihood ops
// on their own against central differences (float64, h = 1e-6, tol 1e-6).
func TestOpGradientsFiniteDifferences(t *testing.T) {
	const rows, cols, h, tol = 3, 6, 1e-6, 1e-6
	rng := rand.New(rand.NewPCG(8, 8))
	pixels := make([]float64, rows*cols)
	for i := range pixels {
		pixels[i] = boolTo(rng.Float64() < 0.5)
	}
	x := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(pixels))
	for _, tc := range []struct {
		name  string
		op    G.Op
		extra []*tensor.Dense
	}{
		{"KL k=3", newKLOp(3, false), nil},
		{"KL k=2", newKLOp(2, false), nil},
		{"Bernoulli NLL", newNLLOp(), []*tensor.Dense{x}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := randomSlice(rng, rows*cols, 3)
			inputs := func() []*tensor.Dense {
				return append([]*tensor.Dense{tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(in))}, tc.extra...)
			}
			sum := func() float64 {
				out, _ := runSingleOp(t, tc.op, inputs()...)
				var s float64
				for _, v := range out {
					s += v
				}
				return s
			}
			_, grad := runSingleOp(t, tc.op, inputs()...)
			for i := range in {
				orig := in[i]
				in[i] = orig + h
				up := sum()
				in[i] = orig - h
				down := sum()
				in[i] = orig
				fd := (up - down) / (2 * h)
				if math.Abs(grad[i]-fd) > tol*math.Max(1, math.Abs(fd)) {
					t.Errorf("input %d: gradient %.10g, finite difference %.10g", i, grad[i], fd)
				}
			}
		})
	}
}

// TestExtremeLogitsFloat32 checks KL and the Bernoulli NLL at logits of
// +-1e4 in float32, where naive formulas give Inf or NaN. Expected values:
// KL of a one-hot posterior is log K; softplus(1e4) - 1e4 = 0 for x = 1 and
// softplus(-1e4) = 0 for x = 0, so those two pixels cost nothing while
// x = 0 at l = 1e4 costs 1e4 nats.
func TestExtremeLogitsFloat32(t *testing.T) {
	kl, dkl := runSingleOp(t, newKLOp(3, false),
		tensor.New(tensor.WithShape(1, 6), tensor.WithBacking([]float32{1e4, -1e4, 0, 200, 0, 0})))
	if want := 2 * math.Log(3); math.Abs(kl[0]-want) > 1e-5 {
		t.Errorf("KL = %v, want 2 log 3 = %v", kl[0], want)
	}
	nll, dnll := runSingleOp(t, newNLLOp(),
		tensor.New(tensor.WithShape(1, 3), tensor.WithBacking([]float32{1e4, -1e4, 1e4})),
		tensor.New(tensor.WithShape(1, 3), tensor.WithBacking([]float32{1, 0, 0})))
	if math.Abs(nll[0]-1e4) > 1e-2 {
		t.Errorf("NLL = %v, want 1e4", nll[0])
	}
	for _, v := range append(dkl, dnll...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("gradients %v %v: not finite", dkl, dnll)
		}
	}
}

// TestSampleGumbelMoments checks the noise against the standard Gumbel
// distribution: mean = Euler-Mascheroni gamma = 0.5772..., variance =
// pi^2/6. With n = 200,000 draws the standard error of the mean is
// sqrt(pi^2/6/n) = 0.0029; that of the variance follows from the Gumbel
// excess kurtosis 12/5. 5 standard errors are allowed. No draw, not even at
// the extreme uniforms, may be infinite.
func TestSampleGumbelMoments(t *testing.T) {
	const n = 200000
	rng := rand.New(rand.NewPCG(1, 1))
	g := make([]float64, n)
	SampleGumbel(g, rng)
	var mean, m2 float64
	for _, v := range g {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			t.Fatalf("non-finite draw %v", v)
		}
		mean += v / n
	}
	for _, v := range g {
		m2 += (v - mean) * (v - mean) / n
	}
	variance := math.Pi * math.Pi / 6
	// Var(sample variance) ~ (mu4 - var^2)/n with mu4 = (3 + 12/5) var^2.
	seVar := math.Sqrt((3 + 12.0/5 - 1) * variance * variance / n)
	if se := math.Sqrt(variance / n); math.Abs(mean-0.5772156649) > 5*se {
		t.Errorf("mean %v, want 0.5772 +- %v", mean, 5*se)
	}
	if math.Abs(m2-variance) > 5*seVar {
		t.Errorf("variance %v, want %v +- %v", m2, variance, 5*seVar)
	}
	for _, bits := range []uint64{0, math.MaxUint64} {
		u := uniformFromBits(bits)
		if v := -math.Log(-math.Log(u)); !(u > 0 && u < 1) || math.IsInf(v, 0) || math.IsNaN(v) {
			t.Errorf("bits %#x: u = %v gives g = %v", bits, u, v)
		}
	}
}
