package gumbel_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
)

// Standard Gumbel noise from a seeded generator: its mean is the
// Euler-Mascheroni constant 0.5772 and its variance pi^2/6 = 1.645.
func ExampleSample() {
	rng := rand.New(rand.NewPCG(1, 2))
	g := make([]float64, 100000)
	gumbel.Sample(g, rng)
	var mean, variance float64
	for _, v := range g {
		mean += v / float64(len(g))
	}
	for _, v := range g {
		variance += (v - mean) * (v - mean) / float64(len(g))
	}
	fmt.Printf("first draws %.3f\n", g[:3])
	fmt.Printf("mean %.2f, variance %.2f\n", mean, variance)
	// Output:
	// first draws [1.339 0.726 1.416]
	// mean 0.58, variance 1.65
}

// The Gumbel-max trick: the one-hot argmax of logits plus Gumbel noise
// is an exact draw from softmax(logits). Here two variables of three
// classes, one draw, then the frequencies of 100,000 draws of the first
// variable against softmax([1, 2, 3]).
func ExampleOneHotSample() {
	const k = 3
	rng := rand.New(rand.NewPCG(3, 4))
	logits := []float64{1, 2, 3, 0, 0, 5}
	noise, z := make([]float64, len(logits)), make([]float64, len(logits))
	gumbel.Sample(noise, rng)
	gumbel.OneHotSample(z, logits, noise, k)
	fmt.Println("z =", z)

	freq := make([]float64, k)
	for range 100000 {
		gumbel.Sample(noise, rng)
		gumbel.OneHotSample(z, logits, noise, k)
		for j := range k {
			freq[j] += z[j] / 100000
		}
	}
	p := make([]float64, k)
	gumbel.SoftmaxGroups(p, logits[:k], k, 1)
	fmt.Printf("frequencies %.3f\n", freq)
	fmt.Printf("softmax     %.3f\n", p)
	// Output:
	// z = [0 1 0 0 0 1]
	// frequencies [0.091 0.246 0.663]
	// softmax     [0.090 0.245 0.665]
}

// A graph that draws a relaxed sample y = softmax((logits + g)/tau) of
// one variable of three classes, run at two temperatures with the same
// noise: at tau = 5 y is close to uniform, at tau = 0.1 close to the
// one-hot Gumbel-max sample. The temperature is a scalar node set with
// G.Let before each run; the machine needs Reset after each RunAll.
func ExampleGumbelSoftmax() {
	g := G.NewGraph()
	// Every input node gets its own name: gorgonia merges unnamed input
	// nodes of one type and shape into one.
	logits := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 3), G.WithName("logits"),
		G.WithValue(tensor.New(tensor.WithShape(1, 3), tensor.WithBacking([]float64{1, 2, 3}))))
	noiseVal := make([]float64, 3)
	gumbel.Sample(noiseVal, rand.New(rand.NewPCG(5, 6)))
	noise := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 3), G.WithName("noise"),
		G.WithValue(tensor.New(tensor.WithShape(1, 3), tensor.WithBacking(noiseVal))))
	tau := G.NewScalar(g, tensor.Float64, G.WithName("tau"))
	y, err := gumbel.GumbelSoftmax(logits, noise, tau, 3) // (1, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	for _, t := range []float64{5, 0.1} {
		if err := G.Let(tau, t); err != nil {
			fmt.Println(err)
			return
		}
		if err := vm.RunAll(); err != nil {
			fmt.Println(err)
			return
		}
		vm.Reset()
		fmt.Printf("tau %-3v y = %.3f\n", t, y.Value().Data())
	}
	// Output:
	// tau 5   y = [0.253 0.315 0.432]
	// tau 0.1 y = [0.000 0.000 1.000]
}

// The straight-through Gumbel-Softmax estimator: the loss sees the
// one-hot sample z = GumbelMax(logits, g) while the logits get the
// gradient of the relaxed sample y = GumbelSoftmax(logits, g, tau). With
// the loss sum(c * out), dL/dlogits = y (c - <y, c>) / tau: here
// logits + g = (0.7, 0.4, 0.1), y = softmax((1.4, 0.8, 0.2)) and
// <y, c> = 1.622.
func ExampleStraightThrough() {
	g := G.NewGraph()
	mat := func(name string, v []float64) *G.Node {
		return G.NewMatrix(g, tensor.Float64, G.WithShape(1, len(v)), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(1, len(v)), tensor.WithBacking(v))))
	}
	logits := mat("logits", []float64{0.5, 1, 0})
	noise := mat("noise", []float64{0.2, -0.6, 0.1})
	c := mat("c", []float64{1, 2, 3})
	tau := G.NewScalar(g, tensor.Float64, G.WithName("tau"), G.WithValue(0.5))
	soft := G.Must(gumbel.GumbelSoftmax(logits, noise, tau, 3))
	hard := G.Must(gumbel.GumbelMax(logits, noise, 3))
	z := G.Must(gumbel.StraightThrough(soft, hard))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(z, c))))
	grads, err := G.Grad(loss, logits)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The machine may overwrite an intermediate node's value in place once
	// its last reader has run: G.Read keeps a copy of the soft sample.
	var y G.Value
	G.Read(soft, &y)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("soft y         %.3f\n", y.Data())
	fmt.Printf("forward z      %.0f\n", z.Value().Data())
	fmt.Printf("loss           %.0f\n", loss.Value().Data())
	fmt.Printf("dL/dlogits     %.3f\n", grads[0].Value().Data())
	// Output:
	// soft y         [0.541 0.297 0.163]
	// forward z      [1 0 0]
	// loss           1
	// dL/dlogits     [-0.673 0.224 0.449]
}

// The analytic KL of two rows of two variables of three classes, to the
// uniform prior and to a learned prior given by its logits (1, N*k),
// shared by the rows. To the uniform prior a uniform posterior costs
// nothing, a certain one log 3 = 1.0986 nats, and softmax([1 2 3])
// log 3 - H = 0.2662 nats. The learned prior is certain of class 0 for the
// first variable (log p = 0, -50, -50) and uniform for the second: a
// uniform first variable then costs -log 3 + 100/3 = 32.2347 nats, a
// first variable certain of class 0 nothing.
func ExampleCategoricalKL() {
	g := G.NewGraph()
	mat := func(name string, rows int, v []float64) *G.Node {
		return G.NewMatrix(g, tensor.Float64, G.WithShape(rows, len(v)/rows), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(rows, len(v)/rows), tensor.WithBacking(v))))
	}
	logits := mat("logits", 2, []float64{
		0, 0, 0, 0, 0, 0, // two uniform variables
		50, 0, 0, 1, 2, 3, // one certain, one softmax([1 2 3])
	})
	prior := mat("prior", 1, []float64{50, 0, 0, 0, 0, 0})
	uniform := G.Must(gumbel.CategoricalKL(logits, 3, nil))   // (2)
	learned := G.Must(gumbel.CategoricalKL(logits, 3, prior)) // (2)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("KL to the uniform prior %.4f\n", uniform.Value().Data())
	fmt.Printf("KL to the learned prior %.4f\n", learned.Value().Data())
	// Output:
	// KL to the uniform prior [0.0000 1.3648]
	// KL to the learned prior [32.2347 0.2662]
}

// A tiny model built from scratch: learn the logits of one categorical
// variable of k = 4 classes to minimise E_z[f(z)] = sum_j softmax(logits)_j
// f_j for the cost vector f = (3, 1, 0.5, 2), through relaxed samples y:
// the loss is f . y, whose gradient gorgonia's Grad takes through
// GumbelSoftmax. The temperature is annealed as tau = max(0.5,
// exp(-0.005 t)) (Jang et al. 2017) and a gorgonia Adam solver updates the
// logits, bound with BindDualValues. The machine adds each run's gradient
// into the bound logits' dual value, and AdamSolver.Step sets it back to
// zero after each update (package gumbel's TestSolverStepZeroesGradients
// checks it), so the gradients do not add up across steps. In the end
// softmax(logits) puts most of its mass on the cheapest class, 2.
func Example() {
	const k, steps = 4, 400
	rng := rand.New(rand.NewPCG(7, 8))
	g := G.NewGraph()
	logitsVal := tensor.New(tensor.WithShape(1, k), tensor.WithBacking(make([]float64, k)))
	logits := G.NewMatrix(g, tensor.Float64, G.WithShape(1, k), G.WithName("logits"), G.WithValue(logitsVal))
	noiseVal := make([]float64, k)
	noise := G.NewMatrix(g, tensor.Float64, G.WithShape(1, k), G.WithName("noise"),
		G.WithValue(tensor.New(tensor.WithShape(1, k), tensor.WithBacking(noiseVal))))
	cost := G.NewMatrix(g, tensor.Float64, G.WithShape(1, k), G.WithName("cost"),
		G.WithValue(tensor.New(tensor.WithShape(1, k), tensor.WithBacking([]float64{3, 1, 0.5, 2}))))
	tau := G.NewScalar(g, tensor.Float64, G.WithName("tau"))

	y := G.Must(gumbel.GumbelSoftmax(logits, noise, tau, k)) // (1, k) relaxed sample
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, cost))))   // f . y
	if _, err := G.Grad(loss, logits); err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(logits))
	defer vm.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(0.05))
	for step := range steps {
		gumbel.Sample(noiseVal, rng) // new noise, in the bound tensor
		if err := G.Let(tau, math.Max(0.5, math.Exp(-0.005*float64(step)))); err != nil {
			fmt.Println(err)
			return
		}
		if err := vm.RunAll(); err != nil {
			fmt.Println(err)
			return
		}
		if err := solver.Step(G.NodesToValueGrads(G.Nodes{logits})); err != nil {
			fmt.Println(err)
			return
		}
		vm.Reset()
	}
	p := make([]float64, k)
	gumbel.SoftmaxGroups(p, logitsVal.Float64s(), k, 1)
	var expected float64
	for j, f := range []float64{3, 1, 0.5, 2} {
		expected += p[j] * f
	}
	fmt.Printf("softmax(logits) = %.2f\n", p)
	fmt.Printf("E[f(z)] = %.2f (cheapest class: 0.5)\n", expected)
	// Output:
	// softmax(logits) = [0.00 0.00 1.00 0.00]
	// E[f(z)] = 0.50 (cheapest class: 0.5)
}
