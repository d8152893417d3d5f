package gumbel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// sharedValues are the inputs of sharedGraph: two latent layers (logits
// and noise of 2 variables of 3 and of 4 classes, each with its own
// temperature), values x for the plain softmaxes and the logits of a
// learned prior of the second layer.
type sharedValues struct {
	l1, g1, l2, g2, x, prior []float64
	tau1, tau2               float64
}

const sharedRows = 2

func newSharedValues(rng *rand.Rand) sharedValues {
	return sharedValues{
		l1: randomSlice(rng, sharedRows*6, 2), g1: gumbelSlice(rng, sharedRows*6),
		l2: randomSlice(rng, sharedRows*8, 2), g2: gumbelSlice(rng, sharedRows*8),
		x: randomSlice(rng, sharedRows*12, 3), prior: randomSlice(rng, 8, 1),
		tau1: 0.7, tau2: 0.3,
	}
}

// sharedGraph is one float64 graph using the package's ops side by side
// as a model would: GumbelSoftmax on both layers, GumbelMax and
// StraightThrough on the first, Softmax (k = 3, k = 4, and k = 3 with a
// temperature) and LogSoftmax on the same input x, CategoricalKL of both
// layers (uniform and learned prior) and RelaxedKL of the first. Its loss
// is sum_i sum(c_i * out_i) with random c_i; G.Grad adds its gradients
// with respect to l1, l2, x and the prior.
type sharedGraph struct {
	vm    G.VM
	in    map[string]*G.Node
	outs  []G.Value
	c     [][]float64 // the loss's weights of each output
	names []string
	loss  G.Value
	grads []G.Value
}

// sharedWRT are the inputs sharedGraph differentiates, in order.
var sharedWRT = []string{"l1", "l2", "x", "prior"}

func newSharedGraph(t *testing.T, v sharedValues, c *rand.Rand) *sharedGraph {
	t.Helper()
	g := G.NewGraph()
	s := &sharedGraph{in: map[string]*G.Node{}}
	for name, d := range map[string][]float64{"l1": v.l1, "g1": v.g1, "l2": v.l2, "g2": v.g2, "x": v.x} {
		s.in[name] = G.NodeFromAny(g, mat(sharedRows, append([]float64(nil), d...)), G.WithName(name))
	}
	s.in["prior"] = G.NodeFromAny(g, mat(1, append([]float64(nil), v.prior...)), G.WithName("prior"))
	s.in["tau1"] = G.NodeFromAny(g, v.tau1, G.WithName("tau1"))
	s.in["tau2"] = G.NodeFromAny(g, v.tau2, G.WithName("tau2"))
	in := s.in
	y1 := G.Must(GumbelSoftmax(in["l1"], in["g1"], in["tau1"], 3))
	z1 := G.Must(GumbelMax(in["l1"], in["g1"], 3))
	outs := G.Nodes{
		y1,
		G.Must(GumbelSoftmax(in["l2"], in["g2"], in["tau2"], 4)),
		G.Must(Softmax(in["x"], 3, nil)),
		G.Must(LogSoftmax(in["x"], 3)),
		G.Must(Softmax(in["x"], 4, nil)),
		G.Must(Softmax(in["x"], 3, in["tau1"])),
		z1,
		G.Must(StraightThrough(y1, z1)),
		G.Must(CategoricalKL(in["l1"], 3, nil)),
		G.Must(CategoricalKL(in["l2"], 4, in["prior"])),
		G.Must(RelaxedKL(in["l1"], in["g1"], in["tau1"], 3, 0.5)),
	}
	s.names = []string{"GumbelSoftmax 1", "GumbelSoftmax 2", "Softmax k=3", "LogSoftmax k=3", "Softmax k=4", "Softmax k=3 tau1", "GumbelMax 1", "StraightThrough 1", "CategoricalKL 1", "CategoricalKL 2", "RelaxedKL 1"}
	var loss *G.Node
	s.outs = make([]G.Value, len(outs))
	for i, o := range outs {
		ci := randomSlice(c, o.Shape().TotalSize(), 1)
		s.c = append(s.c, ci)
		cn := G.NodeFromAny(g, tensor.New(tensor.WithShape(o.Shape()...), tensor.WithBacking(append([]float64(nil), ci...))), G.WithName(fmt.Sprint("c", i)))
		term := G.Must(G.Sum(G.Must(G.HadamardProd(o, cn))))
		if loss == nil {
			loss = term
		} else {
			loss = G.Must(G.Add(loss, term))
		}
		G.Read(o, &s.outs[i])
	}
	G.Read(loss, &s.loss)
	var wrt G.Nodes
	for _, name := range sharedWRT {
		wrt = append(wrt, in[name])
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	s.grads = make([]G.Value, len(grads))
	for i, gn := range grads {
		G.Read(gn, &s.grads[i])
	}
	s.vm = G.NewTapeMachine(g)
	t.Cleanup(func() { s.vm.Close() })
	return s
}

func (s *sharedGraph) run(t *testing.T) float64 {
	t.Helper()
	if err := s.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	s.vm.Reset()
	return floats(t, s.loss)[0]
}

// checkOutputs compares every output of s with the slice functions on v
// (SoftmaxGroups, LogSoftmaxGroups, OneHotSample, RelaxedKLGroup, and the
// KL's definition sum_j q_j (log q_j - log p_j) with log-probabilities
// from LogSoftmaxGroups). Most ops call these very functions on the same
// float64 values; the KL takes its logarithms with kernels.NegLog64
// (1 float64 ulp): tolerance 1e-12 for values below 10.
func (s *sharedGraph) checkOutputs(t *testing.T, v sharedValues) {
	t.Helper()
	add := func(a, b []float64) []float64 {
		out := make([]float64, len(a))
		for i := range a {
			out[i] = a[i] + b[i]
		}
		return out
	}
	softmax := func(z []float64, k int, tau float64) []float64 {
		y := make([]float64, len(z))
		SoftmaxGroups(y, z, k, tau)
		return y
	}
	logSoftmax := func(z []float64, k int) []float64 {
		y := make([]float64, len(z))
		LogSoftmaxGroups(y, z, k)
		return y
	}
	kl := func(l []float64, k int, logp []float64) []float64 {
		cols := len(logp)
		logq := logSoftmax(l, k)
		out := make([]float64, len(l)/cols)
		for i, lq := range logq {
			out[i/cols] += math.Exp(lq) * (lq - logp[i%cols])
		}
		return out
	}
	uniform := make([]float64, 6)
	for i := range uniform {
		uniform[i] = -math.Log(3)
	}
	z1 := make([]float64, len(v.l1))
	OneHotSample(z1, v.l1, v.g1, 3)
	relaxed := make([]float64, sharedRows)
	for i := 0; i < len(v.l1); i += 3 {
		relaxed[i/6] += RelaxedKLGroup(v.l1[i:i+3], v.g1[i:i+3], v.tau1, 0.5, nil)
	}
	want := [][]float64{
		softmax(add(v.l1, v.g1), 3, v.tau1),
		softmax(add(v.l2, v.g2), 4, v.tau2),
		softmax(v.x, 3, 1),
		logSoftmax(v.x, 3),
		softmax(v.x, 4, 1),
		softmax(v.x, 3, v.tau1),
		z1,
		z1,
		kl(v.l1, 3, uniform),
		kl(v.l2, 4, logSoftmax(v.prior, 4)),
		relaxed,
	}
	for i, w := range want {
		got := floats(t, s.outs[i])
		if len(got) != len(w) {
			t.Fatalf("%s: %d values, want %d", s.names[i], len(got), len(w))
		}
		for j := range w {
			if math.Abs(got[j]-w[j]) > 1e-12 {
				t.Errorf("%s[%d] = %.15g, slice functions %.15g", s.names[i], j, got[j], w[j])
			}
		}
	}
}

// TestOpsShareAGraph checks that the package's ops are safe in anyone's
// graph: in sharedGraph (two latent layers, softmaxes of different k and
// temperature and a log-softmax on one input, KLs, straight-through) every
// output equals the slice functions' (checkOutputs) and the gradient of the
// loss with respect to each input matches central differences (fdStep,
// fdTol), once the straight-through term is accounted for: the loss is flat
// in l1 through the one-hot sample (the finite differences see nothing of
// it, as of GumbelMax's term), while the gradient carries the surrogate y1
// (dy = c of that output), which the test adds to the finite differences
// with SoftmaxGroupsGrad. Then it gives the machine new values, some
// written into the bound tensors in place, some bound with G.Let, and the
// temperatures changed, and reruns it: the outputs must follow the new
// values, and the gradients must equal bit for bit those of a new graph
// built on them, so no op keeps a stale buffer or result.
func TestOpsShareAGraph(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	v := newSharedValues(rng)
	s := newSharedGraph(t, v, rand.New(rand.NewPCG(17, 2)))
	s.run(t)
	s.checkOutputs(t, v)
	const stOut = 7 // StraightThrough(y1, z1)
	surrogate := make([]float64, len(v.l1))
	SoftmaxGroupsGrad(surrogate, floats(t, s.outs[0]), s.c[stOut], 3, v.tau1)
	for gi, name := range sharedWRT {
		grad := floats(t, s.grads[gi])
		vals := s.in[name].Value().(*tensor.Dense).Float64s()
		for i := range vals {
			orig := vals[i]
			vals[i] = orig + fdStep
			up := s.run(t)
			vals[i] = orig - fdStep
			down := s.run(t)
			vals[i] = orig
			fd := (up - down) / (2 * fdStep)
			if name == "l1" {
				fd += surrogate[i]
			}
			if math.Abs(grad[i]-fd) > fdTol*math.Max(1, math.Abs(fd)) {
				t.Errorf("d loss / d %s[%d] = %.10g, finite difference (+ straight-through term) %.10g", name, i, grad[i], fd)
			}
		}
	}

	w := newSharedValues(rng)
	w.tau1, w.tau2 = 2, 0.1
	copy(s.in["l1"].Value().(*tensor.Dense).Float64s(), w.l1)
	copy(s.in["g1"].Value().(*tensor.Dense).Float64s(), w.g1)
	copy(s.in["prior"].Value().(*tensor.Dense).Float64s(), w.prior)
	for name, d := range map[string][]float64{"l2": w.l2, "g2": w.g2, "x": w.x} {
		if err := G.Let(s.in[name], mat(sharedRows, append([]float64(nil), d...))); err != nil {
			t.Fatal(err)
		}
	}
	for name, tau := range map[string]float64{"tau1": w.tau1, "tau2": w.tau2} {
		if err := G.Let(s.in[name], tau); err != nil {
			t.Fatal(err)
		}
	}
	s.run(t)
	s.checkOutputs(t, w)
	fresh := newSharedGraph(t, w, rand.New(rand.NewPCG(17, 2)))
	fresh.run(t)
	for gi, name := range sharedWRT {
		got, want := floats(t, s.grads[gi]), floats(t, fresh.grads[gi])
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("after new values, d loss / d %s[%d] = %.17g, new graph %.17g", name, i, got[i], want[i])
			}
		}
	}
}

// TestOpsDoNotMerge checks the package's ops against gorgonia's
// hash-consing, which makes one node of two whose ops hash equal and
// whose inputs are the same: nodes built with the same function, inputs
// and parameters are one node (harmless: they compute the same), but
// nodes that differ in k, in having a temperature or which one, in
// the prior or its temperature, or in the function, must stay apart. The
// values of a few pairs confirm it (softmaxes of k = 3 and k = 6 differ).
func TestOpsDoNotMerge(t *testing.T) {
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(19, 1))
	m := func(name string, rows int) *G.Node {
		return G.NodeFromAny(g, mat(rows, randomSlice(rng, rows*6, 1)), G.WithName(name))
	}
	x, l, noise, prior := m("x", 2), m("logits", 2), m("noise", 2), m("prior", 1)
	tau := G.NodeFromAny(g, 0.5, G.WithName("tau"))
	tau2 := G.NodeFromAny(g, 0.25, G.WithName("tau2"))
	nodes := map[string]*G.Node{
		"Softmax k=3":                G.Must(Softmax(x, 3, nil)),
		"Softmax k=6":                G.Must(Softmax(x, 6, nil)),
		"Softmax k=3 tau":            G.Must(Softmax(x, 3, tau)),
		"Softmax k=3 tau2":           G.Must(Softmax(x, 3, tau2)),
		"LogSoftmax k=3":             G.Must(LogSoftmax(x, 3)),
		"LogSoftmax k=6":             G.Must(LogSoftmax(x, 6)),
		"GumbelSoftmax k=3":          G.Must(GumbelSoftmax(x, noise, tau, 3)),
		"GumbelSoftmax k=6":          G.Must(GumbelSoftmax(x, noise, tau, 6)),
		"GumbelMax k=3":              G.Must(GumbelMax(x, noise, 3)),
		"GumbelMax k=6":              G.Must(GumbelMax(x, noise, 6)),
		"CategoricalKL k=3":          G.Must(CategoricalKL(x, 3, nil)),
		"CategoricalKL k=6":          G.Must(CategoricalKL(x, 6, nil)),
		"CategoricalKL k=3 prior":    G.Must(CategoricalKL(x, 3, prior)),
		"RelaxedKL k=3 0.5":          G.Must(RelaxedKL(x, noise, tau, 3, 0.5)),
		"RelaxedKL k=3 0.6":          G.Must(RelaxedKL(x, noise, tau, 3, 0.6)),
		"RelaxedKL k=6 0.5":          G.Must(RelaxedKL(x, noise, tau, 6, 0.5)),
		"LogExpConcrete k=3":         G.Must(LogExpConcrete(x, l, tau, 3)),
		"LogExpConcrete k=6":         G.Must(LogExpConcrete(x, l, tau, 6)),
		"LogExpConcrete k=3 swapped": G.Must(LogExpConcrete(l, x, tau, 3)),
	}
	seen := map[*G.Node]string{}
	for name, n := range nodes {
		if other, ok := seen[n]; ok {
			t.Errorf("%s and %s are one node", name, other)
		}
		seen[n] = name
	}
	if again := G.Must(Softmax(x, 3, nil)); again != nodes["Softmax k=3"] {
		t.Errorf("Softmax(x, 3) built twice gave two nodes (gorgonia merges equal nodes: did hashing change?)")
	}
	reads := map[string]*G.Value{}
	for _, name := range []string{"Softmax k=3", "Softmax k=6", "Softmax k=3 tau", "LogSoftmax k=3"} {
		reads[name] = new(G.Value)
		G.Read(nodes[name], reads[name])
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	xs := x.Value().(*tensor.Dense).Float64s()
	for name, want := range map[string]func([]float64){
		"Softmax k=3":     func(y []float64) { SoftmaxGroups(y, xs, 3, 1) },
		"Softmax k=6":     func(y []float64) { SoftmaxGroups(y, xs, 6, 1) },
		"Softmax k=3 tau": func(y []float64) { SoftmaxGroups(y, xs, 3, 0.5) },
		"LogSoftmax k=3":  func(y []float64) { LogSoftmaxGroups(y, xs, 3) },
	} {
		w := make([]float64, len(xs))
		want(w)
		got := floats(t, *reads[name])
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s[%d] = %v, slice function %v", name, i, got[i], w[i])
			}
		}
	}
}

// TestSolverStepZeroesGradients checks the gradient-accumulation trap of
// gorgonia with BindDualValues, which the package's Example relies on
// avoiding: the machine adds each run's gradient into the bound
// node's dual value, so two runs without a solver step give twice the
// gradient, while VanillaSolver's and AdamSolver's Step set it to zero
// after the update, so that every run after a step starts afresh.
func TestSolverStepZeroesGradients(t *testing.T) {
	for _, solver := range []struct {
		name string
		s    G.Solver
	}{
		{"vanilla", G.NewVanillaSolver(G.WithLearnRate(0))},
		{"adam", G.NewAdamSolver(G.WithLearnRate(1e-300))},
	} {
		t.Run(solver.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(23, 1))
			g := G.NewGraph()
			l := G.NodeFromAny(g, mat(1, randomSlice(rng, 4, 1)), G.WithName("logits"))
			noise := G.NodeFromAny(g, mat(1, gumbelSlice(rng, 4)), G.WithName("noise"))
			tau := G.NodeFromAny(g, 0.5, G.WithName("tau"))
			c := G.NodeFromAny(g, mat(1, []float64{3, 1, 0.5, 2}), G.WithName("c"))
			y := G.Must(GumbelSoftmax(l, noise, tau, 4))
			loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, c))))
			if _, err := G.Grad(loss, l); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g, G.BindDualValues(l))
			defer vm.Close()
			grad := func() []float64 {
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				vm.Reset()
				d, err := l.Grad()
				if err != nil {
					t.Fatal(err)
				}
				return floats(t, d)
			}
			once := grad()
			twice := grad()
			for i := range once {
				if twice[i] != 2*once[i] {
					t.Errorf("second run without a step: gradient[%d] = %v, want twice %v (the gorgonia.md trap)", i, twice[i], once[i])
				}
			}
			if err := solver.s.Step(G.NodesToValueGrads(G.Nodes{l})); err != nil {
				t.Fatal(err)
			}
			d, _ := l.Grad()
			for i, v := range floats(t, d) {
				if v != 0 {
					t.Errorf("after Step, gradient[%d] = %v, want 0", i, v)
				}
			}
			again := grad()
			for i := range once {
				if math.Abs(again[i]-once[i]) > 1e-15 {
					t.Errorf("run after Step: gradient[%d] = %v, want %v", i, again[i], once[i])
				}
			}
		})
	}
}

// TestOpsSplitRowsAcrossCPUs checks the ops that split a batch's rows
// across CPUs (GumbelSoftmax, Softmax and their gradient from 32 rows,
// CategoricalKL and its logits gradient and RelaxedKL and its gradient
// from 32, GumbelMax from 128; GOMAXPROCS is raised to 2 for the test if
// lower) in float32 and float64: on 130 rows, every row of the output and
// of the gradient of sum(c * out) equals bit for bit that of the same op
// on that row alone (a one-row graph rerun with each row's values), as
// each row is computed the same way wherever the split falls.
func TestOpsSplitRowsAcrossCPUs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	const rows, k = 130, 4
	const cols = 3 * k
	ops := []struct {
		name  string
		build func(in G.Nodes) (*G.Node, error)
		grad  bool
	}{
		{"GumbelSoftmax", func(in G.Nodes) (*G.Node, error) { return GumbelSoftmax(in[0], in[1], in[2], k) }, true},
		{"Softmax", func(in G.Nodes) (*G.Node, error) { return Softmax(in[0], k, in[2]) }, true},
		{"GumbelMax", func(in G.Nodes) (*G.Node, error) { return GumbelMax(in[0], in[1], k) }, false},
		{"CategoricalKL", func(in G.Nodes) (*G.Node, error) { return CategoricalKL(in[0], k, nil) }, true},
		{"RelaxedKL", func(in G.Nodes) (*G.Node, error) { return RelaxedKL(in[0], in[1], in[2], k, 0.5) }, true},
	}
	for _, o := range ops {
		for _, f32 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s float32=%t", o.name, f32), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(31, 1))
				l, g := randomSlice(rng, rows*cols, 2), gumbelSlice(rng, rows*cols)
				inputs := func(l, g []float64) []input {
					r := len(l) / cols
					if f32 {
						return []input{{"logits", mat(r, to32(l))}, {"noise", mat(r, to32(g))}, {"tau", float32(0.6)}}
					}
					return []input{{"logits", mat(r, l)}, {"noise", mat(r, g)}, {"tau", 0.6}}
				}
				var wrt []int
				if o.grad {
					wrt = []int{0}
				}
				batch := newProbe(t, inputs(l, g), o.build, wrt, rng, nil)
				out, _ := batch.run(t)
				per := len(out) / rows
				var grad []float64
				if o.grad {
					grad = batch.grad(t, 0)
				}
				cs := batch.c
				single := newProbe(t, inputs(make([]float64, cols), make([]float64, cols)), o.build, wrt, nil, cs[:per])
				for r := range rows {
					setRow := func(v G.Value, src []float64) {
						switch d := v.(*tensor.Dense).Data().(type) {
						case []float32:
							copy(d, to32(src))
						case []float64:
							copy(d, src)
						}
					}
					setRow(single.in[0], l[r*cols:(r+1)*cols])
					setRow(single.in[1], g[r*cols:(r+1)*cols])
					setRow(single.cIn, cs[r*per:(r+1)*per])
					so, _ := single.run(t)
					for j := range so {
						if so[j] != out[r*per+j] {
							t.Fatalf("row %d: output %v alone, %v in the batch", r, so, out[r*per:(r+1)*per])
						}
					}
					if o.grad {
						sg := single.grad(t, 0)
						for j := range sg {
							if sg[j] != grad[r*cols+j] {
								t.Fatalf("row %d: gradient %v alone, %v in the batch", r, sg, grad[r*cols:(r+1)*cols])
							}
						}
					}
				}
			})
		}
	}
}
