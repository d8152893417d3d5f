package gumbel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mathext"
	G "gorgonia.org/gorgonia"
)

// TestSampleMoments checks the float64 noise against the standard Gumbel
// distribution: mean = the Euler-Mascheroni constant 0.5772156649...,
// variance = pi^2/6 (both from the distribution's definition; gonum's
// distuv.Gumbel{Mu: 0, Beta: 1} has the same). With n = 200,000 draws the
// standard error of the mean is sqrt(pi^2/6 / n) = 0.0029; that of the
// sample variance is sqrt((mu4 - var^2) / n) with mu4 = (3 + 12/5) var^2
// (Gumbel excess kurtosis 12/5), 0.0076. Five standard errors are
// allowed: a false alarm has probability below 1e-6 per moment. No draw
// may be infinite.
func TestSampleMoments(t *testing.T) {
	const n = 200000
	g := make([]float64, n)
	Sample(g, rand.New(rand.NewPCG(1, 1)))
	if !isFinite(g) {
		t.Fatal("non-finite draw")
	}
	var mean, m2 float64
	for _, v := range g {
		mean += v / n
	}
	for _, v := range g {
		m2 += (v - mean) * (v - mean) / n
	}
	variance := math.Pi * math.Pi / 6
	seMean := math.Sqrt(variance / n)
	seVar := math.Sqrt((3 + 12.0/5 - 1) * variance * variance / n)
	t.Logf("mean %.5f (want %.5f +- %.4f), variance %.5f (want %.5f +- %.4f)", mean, 0.5772156649, seMean, m2, variance, seVar)
	if math.Abs(mean-0.5772156649) > 5*seMean {
		t.Errorf("mean %v, want 0.5772 +- %v", mean, 5*seMean)
	}
	if math.Abs(m2-variance) > 5*seVar {
		t.Errorf("variance %v, want %v +- %v", m2, variance, 5*seVar)
	}
}

// TestUniformFromBitsEnds checks the uniforms' range at the extreme bit
// patterns: strictly inside (0, 1), 2^-53 and 1 - 2^-53 exactly, with
// finite noise -log(-log u), inside Sample's documented -3.61 < g < 36.74.
func TestUniformFromBitsEnds(t *testing.T) {
	for _, tc := range []struct {
		bits uint64
		u, g float64
	}{
		// g = -log(-log u): -3.6037789929704576 = -log(53 log 2) and
		// 36.7368005696771 = -log(-log1p(-2^-53)), both by Python's math.
		{0, math.Exp2(-53), -math.Log(53 * math.Ln2)},
		{math.MaxUint64, 1 - math.Exp2(-53), 36.7368005696771},
	} {
		u := uniformFromBits(tc.bits)
		g := -math.Log(-math.Log(u))
		if u != tc.u || math.Abs(g-tc.g) > 1e-12 {
			t.Errorf("bits %#x: u = %v, g = %v; want %v, %v", tc.bits, u, g, tc.u, tc.g)
		}
	}
}

// gumbelLogUlps bounds the error of each logarithm of kernels.Gumbel32,
// in float64 ulps of its result, as internal/kernels' TestNegLogKernel
// checks; math.Log's error is below 1 ulp.
const gumbelLogUlps = 4

// gumbelTol returns how far a float32 Gumbel value may lie from want =
// float32(g), g = -math.Log(-math.Log(u)) in float64 (as in
// internal/kernels' test of the kernel). The kernel's inner log,
// -log u = y (1 + e1), and its outer log, -log y (1 + e2), each have
// |e| <= gumbelLogUlps float64 ulps (2^-52 each, relative), and math.Log's
// are below 1 ulp; as g = -log y, the inner error becomes an absolute one
// in g, so the two float64 values differ by at most
// D = (gumbelLogUlps + 1) 2^-52 (1 + |g|). Rounding each to float32 adds
// at most 1 float32 ulp between them. For |g| above about 1e-8, D is a
// small fraction of that ulp, so the tolerance allows exactly one ulp;
// below, where g crosses 0 at u = exp(-1), D decides.
func gumbelTol(g float64, want float32) float64 {
	return ulp32(want) + (gumbelLogUlps+1)*math.Exp2(-52)*(1+math.Abs(g))
}

// TestSampleFloat32MatchesFloat64 draws the same uniforms (two generators
// with one seed) into float32 and float64 noise and checks each float32
// value against the float64 one within gumbelTol. The length, not a
// multiple of 4 and above the 2 x 65536 values from which Sample splits
// float32 work across 2 CPUs (GOMAXPROCS is raised to 2 for the test if
// lower), gives pieces that start unaligned and end in tails.
func TestSampleFloat32MatchesFloat64(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	const n = 200003
	g32, g64 := make([]float32, n), make([]float64, n)
	Sample(g32, rand.New(rand.NewPCG(5, 6)))
	Sample(g64, rand.New(rand.NewPCG(5, 6)))
	diffs := 0
	for i, g := range g64 {
		want := float32(g)
		d := math.Abs(float64(g32[i]) - float64(want))
		if d != 0 {
			diffs++
		}
		if d > gumbelTol(g, want) {
			t.Errorf("i %d: float32 noise %v, float64 noise %v (tolerance %.3g)", i, g32[i], g, gumbelTol(g, want))
		}
	}
	t.Logf("%d of %d float32 values differ from the rounded float64 ones", diffs, n)
}

// TestSampleFloat64Exact checks that float64 noise does not use the
// kernel and draws in order: it equals -math.Log(-math.Log(u)) bit for
// bit, with u = uniformFromBits of the generator's successive Uint64s, for
// a length above the 2 x 4096 values from which Sample splits the
// logarithms across 2 CPUs (GOMAXPROCS is raised to 2 for the test if
// lower). A second call continues the generator's stream.
func TestSampleFloat64Exact(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	const n = 10007
	g := make([]float64, n)
	rng := rand.New(rand.NewPCG(3, 4))
	Sample(g[:n-7], rng)
	Sample(g[n-7:], rng)
	ref := rand.New(rand.NewPCG(3, 4))
	for i, v := range g {
		if want := -math.Log(-math.Log(uniformFromBits(ref.Uint64()))); v != want {
			t.Fatalf("i %d: %v, want %v", i, v, want)
		}
	}
}

// chiSquareThreshold returns the (1 - 1e-6) quantile of the chi-square
// distribution with df degrees of freedom, 2 P^-1(df/2, 1 - 1e-6) with P
// the regularised lower incomplete gamma function: a correct sampler
// exceeds it with probability 1e-6 (for the seeds fixed here, never). It
// is what gonum's distuv.ChiSquared{K: df}.Quantile computes, called
// directly from gonum's mathext: importing stat/distuv pulls in
// golang.org/x/exp/rand, which go.mod does not list.
func chiSquareThreshold(df int) float64 {
	return 2 * mathext.GammaIncRegInv(float64(df)/2, 1-1e-6)
}

// TestGumbelMaxFrequencies checks that Gumbel-max samples are draws from
// softmax(logits): OneHotSample and the GumbelMax op, in float64 and
// float32, each draw n samples of a row of three variables (k = 5: random
// logits, one dominant class, equal logits) laid out as n rows of 15
// logits, and the class counts O_nj are compared with their expectations
// E_nj = n softmax(logits_n)_j (computed with math.Exp) by Pearson's
// statistic sum (O - E)^2 / E, chi-square with 3 (k - 1) = 12 degrees of
// freedom for a correct sampler, against the quantile at a false-alarm
// rate of 1e-6 (chiSquareThreshold: 50.8). The smallest E is about 460, so the
// chi-square approximation holds. Every sample must also be exactly
// one-hot.
func TestGumbelMaxFrequencies(t *testing.T) {
	const n, nv, k = 30000, 3, 5
	logits := []float64{
		0.3, -1.2, 0.8, 0, -0.5, // random
		3, 0, 0, -1, 0.5, // class 0 has probability 0.83
		1, 1, 1, 1, 1, // uniform
	}
	prob := make([]float64, len(logits))
	for v := range nv {
		var sum float64
		for j := range k {
			sum += math.Exp(logits[v*k+j])
		}
		for j := range k {
			prob[v*k+j] = math.Exp(logits[v*k+j]) / sum
		}
	}
	threshold := chiSquareThreshold(nv * (k - 1))
	type sampler func(t *testing.T, logits, noise []float64) []float64
	oneHot32 := func(t *testing.T, logits, noise []float64) []float64 {
		z := make([]float32, len(logits))
		OneHotSample(z, to32(logits), to32(noise), k)
		return floats(t, mat(1, z))
	}
	oneHot64 := func(t *testing.T, logits, noise []float64) []float64 {
		z := make([]float64, len(logits))
		OneHotSample(z, logits, noise, k)
		return z
	}
	graph := func(f32 bool) sampler {
		return func(t *testing.T, logits, noise []float64) []float64 {
			in := []input{{"logits", mat(n, logits)}, {"noise", mat(n, noise)}}
			if f32 {
				in = []input{{"logits", mat(n, to32(logits))}, {"noise", mat(n, to32(noise))}}
			}
			p := newProbe(t, in, func(in G.Nodes) (*G.Node, error) { return GumbelMax(in[0], in[1], k) }, nil, rand.New(rand.NewPCG(0, 0)), nil)
			z, _ := p.run(t)
			return z
		}
	}
	for i, tc := range []struct {
		name string
		f    sampler
	}{
		{"OneHotSample float64", oneHot64},
		{"OneHotSample float32", oneHot32},
		{"GumbelMax float64", graph(false)},
		{"GumbelMax float32", graph(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, uint64(i)))
			all := make([]float64, 0, n*len(logits))
			for range n {
				all = append(all, logits...)
			}
			z := tc.f(t, all, gumbelSlice(rng, len(all)))
			count := make([]float64, len(logits))
			for r := range n {
				for v := range nv {
					ones := 0
					for j := range k {
						switch x := z[r*len(logits)+v*k+j]; x {
						case 1:
							ones++
							count[v*k+j]++
						case 0:
						default:
							t.Fatalf("row %d: z = %v is not one-hot", r, z[r*len(logits):(r+1)*len(logits)])
						}
					}
					if ones != 1 {
						t.Fatalf("row %d variable %d: %d ones", r, v, ones)
					}
				}
			}
			var chi2 float64
			for j, c := range count {
				e := n * prob[j]
				chi2 += (c - e) * (c - e) / e
			}
			t.Logf("chi-square %.2f, threshold %.2f; counts %v", chi2, threshold, count)
			if chi2 > threshold {
				t.Errorf("chi-square %.2f above %.2f: counts %v, probabilities %v", chi2, threshold, count, prob)
			}
		})
	}
}

// TestOneHotSampleTiesAndClearing checks the documented details of
// OneHotSample on hand-made groups: the argmax of logits + noise, ties to
// the first index, and every other entry of z cleared (z starts full of
// garbage).
func TestOneHotSampleTiesAndClearing(t *testing.T) {
	for _, tc := range []struct {
		logits, noise, want []float64
		k                   int
	}{
		{[]float64{0, 1, 2}, []float64{0, 0, 0}, []float64{0, 0, 1}, 3},
		{[]float64{0, 1, 2}, []float64{3, 0, 0}, []float64{1, 0, 0}, 3},
		{[]float64{1, 1, 1}, []float64{0, 0, 0}, []float64{1, 0, 0}, 3},                            // tie: first index
		{[]float64{0, 2, 2, 5, 1, 1}, []float64{0, 0, 0, 0, 0, 0}, []float64{0, 1, 0, 1, 1, 0}, 2}, // three groups, a tie in the last
		{[]float64{-1e300, 1e300}, []float64{0, 0}, []float64{0, 1}, 2},
	} {
		z := make([]float64, len(tc.logits))
		for i := range z {
			z[i] = 7
		}
		OneHotSample(z, tc.logits, tc.noise, tc.k)
		if fmt.Sprint(z) != fmt.Sprint(tc.want) {
			t.Errorf("OneHotSample(%v + %v, k=%d) = %v, want %v", tc.logits, tc.noise, tc.k, z, tc.want)
		}
	}
}

// BenchmarkSample times the Gumbel noise of one training step: 20000
// float32 values (batch 100, 20 variables of 10 classes).
func BenchmarkSample(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	dst := make([]float32, 100*20*10)
	b.SetBytes(int64(4 * len(dst)))
	for b.Loop() {
		Sample(dst, rng)
	}
}
