package data

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// indexSplit returns a split of n <= 256 images whose Binary row i holds
// the value i in every pixel, so a batch row tells which image it came
// from. (Batches converts Binary to float32 without looking at it, so
// non-binary values are fine here.)
func indexSplit(n int) *Split {
	if n > 256 {
		panic("indexSplit: more images than byte values")
	}
	s := &Split{Name: "index", N: n, Intensity: make([]uint8, n*Pixels), Binary: make([]uint8, n*Pixels)}
	for i := range n {
		for j := range Pixels {
			s.Binary[i*Pixels+j] = uint8(i)
		}
	}
	return s
}

// epoch drains one epoch of b into the image indices it emitted and the
// batch sizes, checking that each row is one whole image.
func epoch(t *testing.T, b *Batches, size int) (indices, sizes []int) {
	t.Helper()
	dst := make([]float32, size*Pixels)
	for rows := b.Next(dst); rows > 0; rows = b.Next(dst) {
		sizes = append(sizes, rows)
		for r := range rows {
			row := dst[r*Pixels : (r+1)*Pixels]
			for _, v := range row {
				if v != row[0] {
					t.Fatalf("batch row %d mixes images %v and %v", r, row[0], v)
				}
			}
			indices = append(indices, int(row[0]))
		}
	}
	return indices, sizes
}

func TestBatchesEpochs(t *testing.T) {
	tests := []struct {
		name      string
		n, size   int
		wantSizes []int
	}{
		{"divisible", 12, 4, []int{4, 4, 4}},
		{"short last batch", 10, 3, []int{3, 3, 3, 1}},
		{"one short batch", 7, 10, []int{7}},
		{"batch of one", 3, 1, []int{1, 1, 1}},
		{"empty split", 0, 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mk := range []struct {
				name string
				new  func(*Split, int) *Batches
			}{
				{"shuffled", func(s *Split, size int) *Batches {
					return NewBatches(s, size, Fixed, rand.New(rand.NewPCG(1, 2)))
				}},
				{"sequential", Sequential},
			} {
				b := mk.new(indexSplit(tt.n), tt.size)
				if b.Len() != len(tt.wantSizes) {
					t.Errorf("%s: Len = %d, want %d", mk.name, b.Len(), len(tt.wantSizes))
				}
				for e := range 3 {
					b.Shuffle()
					indices, sizes := epoch(t, b, tt.size)
					if !slices.Equal(sizes, tt.wantSizes) {
						t.Errorf("%s epoch %d: batch sizes %v, want %v", mk.name, e, sizes, tt.wantSizes)
					}
					sorted := slices.Sorted(slices.Values(indices))
					for i, v := range sorted {
						if v != i {
							t.Fatalf("%s epoch %d: images %v, want each of 0..%d exactly once", mk.name, e, indices, tt.n-1)
						}
					}
					if len(sorted) != tt.n {
						t.Fatalf("%s epoch %d: %d images, want %d", mk.name, e, len(sorted), tt.n)
					}
					if mk.name == "sequential" && !slices.IsSorted(indices) {
						t.Errorf("sequential epoch %d: order %v, want stored order", e, indices)
					}
					if rows := b.Next(make([]float32, tt.size*Pixels)); rows != 0 {
						t.Errorf("%s epoch %d: Next after the end returned %d rows, want 0", mk.name, e, rows)
					}
				}
			}
		})
	}
}

// TestBatchesFirstEpochWithoutShuffle checks that creating Batches draws
// nothing: before the first Shuffle the rows come in stored order and the
// random stream is untouched.
func TestBatchesFirstEpochWithoutShuffle(t *testing.T) {
	src := rand.NewPCG(1, 2)
	before, _ := src.MarshalBinary()
	b := NewBatches(indexSplit(10), 4, Fixed, rand.New(src))
	after, _ := src.MarshalBinary()
	if !slices.Equal(before, after) {
		t.Error("NewBatches consumed random numbers")
	}
	indices, _ := epoch(t, b, 4)
	if !slices.Equal(indices, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("first epoch without Shuffle gave %v, want the stored order", indices)
	}
}

// TestBatchesSeek checks that Position and Seek continue an epoch exactly,
// and that Seek refuses orders that are not permutations.
func TestBatchesSeek(t *testing.T) {
	s := indexSplit(10)
	a := NewBatches(s, 3, Fixed, rand.New(rand.NewPCG(4, 4)))
	a.Shuffle()
	dst := make([]float32, 3*Pixels)
	a.Next(dst)
	order, next := a.Position()
	rest, _ := epoch(t, a, 3)
	b := NewBatches(s, 3, Fixed, rand.New(rand.NewPCG(9, 9)))
	if err := b.Seek(order, next); err != nil {
		t.Fatal(err)
	}
	if got, _ := epoch(t, b, 3); !slices.Equal(got, rest) {
		t.Errorf("after Seek: %v, want %v", got, rest)
	}
	for _, bad := range []struct {
		order []int
		next  int
	}{
		{[]int{0, 1, 2}, 0},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 8}, 0},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 10}, 0},
		{order, 11},
		{order, -1},
	} {
		if err := b.Seek(bad.order, bad.next); err == nil {
			t.Errorf("Seek(%v, %d): no error", bad.order, bad.next)
		}
	}
}

// order returns the image order of the next epochs of b.
func order(t *testing.T, b *Batches, size, epochs int) [][]int {
	t.Helper()
	var out [][]int
	for range epochs {
		b.Shuffle()
		indices, _ := epoch(t, b, size)
		out = append(out, indices)
	}
	return out
}

func TestBatchesOrder(t *testing.T) {
	const n, size = 100, 7
	s := indexSplit(n)
	a := order(t, NewBatches(s, size, Fixed, rand.New(rand.NewPCG(42, 7))), size, 3)
	same := order(t, NewBatches(s, size, Fixed, rand.New(rand.NewPCG(42, 7))), size, 3)
	other := order(t, NewBatches(s, size, Fixed, rand.New(rand.NewPCG(43, 7))), size, 3)
	identity := make([]int, n)
	for i := range identity {
		identity[i] = i
	}
	// With 100 images a repeated or unshuffled order has probability 1/100!.
	if slices.Equal(a[0], a[1]) || slices.Equal(a[1], a[2]) {
		t.Error("consecutive epochs have the same order")
	}
	if slices.Equal(a[0], identity) {
		t.Error("first epoch is not shuffled")
	}
	for e := range a {
		if !slices.Equal(a[e], same[e]) {
			t.Errorf("epoch %d: same seed gave different orders", e)
		}
		if slices.Equal(a[e], other[e]) {
			t.Errorf("epoch %d: different seeds gave the same order", e)
		}
	}
}

// constSplit returns one image with every grey level v (intensity v/255)
// and a fixed binarization drawn from it.
func constSplit(v uint8) *Split {
	s := &Split{Name: "const", N: 1, Intensity: make([]uint8, Pixels), Binary: make([]uint8, Pixels)}
	for j := range Pixels {
		s.Intensity[j] = v
	}
	binarizeFixed(s.Binary, s.Intensity, 1, testSeed)
	return s
}

func TestBatchesBinarization(t *testing.T) {
	s := constSplit(128) // intensity 128/255, about 1/2
	for _, bin := range []Binarization{Fixed, Dynamic} {
		b := NewBatches(s, 1, bin, rand.New(rand.NewPCG(3, 4)))
		rows := twoEpochRows(t, b)
		for e, row := range rows {
			for j, v := range row {
				if v != 0 && v != 1 {
					t.Fatalf("%v epoch %d: pixel %d = %v, want 0 or 1", bin, e, j, v)
				}
			}
		}
		differ := 0
		for j := range rows[0] {
			if rows[0][j] != rows[1][j] {
				differ++
			}
		}
		switch bin {
		case Fixed:
			if differ != 0 || !equalFloats(rows[0], toFloats(s.Binary)) {
				t.Errorf("fixed: epochs differ in %d pixels or differ from Binary, want identical", differ)
			}
		case Dynamic:
			// Each pixel differs with probability 1/2: expect ~392 of 784.
			if differ < 300 || differ > 484 {
				t.Errorf("dynamic: epochs differ in %d of %d pixels, want about %d", differ, Pixels, Pixels/2)
			}
		}
	}
}

// twoEpochRows returns the single row of a one-image split in two epochs.
func twoEpochRows(t *testing.T, b *Batches) [2][]float32 {
	t.Helper()
	var rows [2][]float32
	for e := range rows {
		b.Shuffle()
		rows[e] = make([]float32, Pixels)
		if n := b.Next(rows[e]); n != 1 {
			t.Fatalf("epoch %d: Next returned %d rows, want 1", e, n)
		}
	}
	return rows
}

func TestBatchesDynamicMean(t *testing.T) {
	const images, size, epochs = 4, 3, 200
	s := &Split{Name: "ramp", N: images, Intensity: make([]uint8, images*Pixels), Binary: make([]uint8, images*Pixels)}
	var sumP float64
	for i := range s.Intensity {
		s.Intensity[i] = uint8(i % Pixels * 255 / (Pixels - 1))
		sumP += float64(s.Intensity[i]) / 255
	}
	b := NewBatches(s, size, Dynamic, rand.New(rand.NewPCG(5, 6)))
	dst := make([]float32, size*Pixels)
	var ones, total int
	for range epochs {
		b.Shuffle()
		for rows := b.Next(dst); rows > 0; rows = b.Next(dst) {
			for _, v := range dst[:rows*Pixels] {
				if v == 1 {
					ones++
				}
			}
			total += rows * Pixels
		}
	}
	if total != images*Pixels*epochs {
		t.Fatalf("drew %d pixels, want %d", total, images*Pixels*epochs)
	}
	p := sumP / float64(len(s.Intensity))
	n := float64(total)
	tol := 5 * math.Sqrt(p*(1-p)/n)
	if d := math.Abs(float64(ones)/n - p); d >= tol {
		t.Errorf("dynamic mean %.5f vs intensity mean %.5f: |diff| %.2g >= 5 standard errors %.2g", float64(ones)/n, p, d, tol)
	}
}

func TestBatchesDynamicExtremes(t *testing.T) {
	for _, tt := range []struct {
		v    uint8
		want float32
	}{{0, 0}, {255, 1}} {
		b := NewBatches(constSplit(tt.v), 1, Dynamic, rand.New(rand.NewPCG(7, 8)))
		for e, row := range twoEpochRows(t, b) {
			for j, v := range row {
				if v != tt.want {
					t.Fatalf("grey level %d, epoch %d: pixel %d = %v, want %v", tt.v, e, j, v, tt.want)
				}
			}
		}
	}
}

func TestBatchesPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := indexSplit(3)
	tests := []struct {
		name, want string
		f          func()
	}{
		{"nil rng", "nil rng", func() { NewBatches(s, 2, Fixed, nil) }},
		{"nil split", "nil split", func() { NewBatches(nil, 2, Fixed, rng) }},
		{"zero size", "batch size 0", func() { NewBatches(s, 0, Fixed, rng) }},
		{"negative size", "batch size -1", func() { Sequential(s, -1) }},
		{"bad binarization", "invalid Binarization(7)", func() { NewBatches(s, 2, Binarization(7), rng) }},
		{"short split", "has N=3 but", func() { NewBatches(&Split{N: 3}, 2, Fixed, rng) }},
		{"short dst", "dst has len 10, want >= 1568", func() { NewBatches(s, 2, Fixed, rng).Next(make([]float32, 10)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, ok := r.(string)
				if !ok || !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "data: ") {
					t.Errorf("panic %v, want a message starting with \"data: \" containing %q", r, tt.want)
				}
			}()
			tt.f()
		})
	}
}

// TestBatchesOrderDependsOnlyOnRNGState checks what exact resume needs: a
// batcher whose rng is restored to a saved state produces the same next
// epoch as the batcher that kept running, whatever epochs came before.
func TestBatchesOrderDependsOnlyOnRNGState(t *testing.T) {
	const n, size = 50, 8
	s := indexSplit(n)
	src := rand.NewPCG(3, 4)
	running := NewBatches(s, size, Fixed, rand.New(src))
	order(t, running, size, 2) // two epochs of history
	state, err := src.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored := rand.NewPCG(0, 0)
	if err := restored.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	running.Shuffle()
	fresh := NewBatches(s, size, Fixed, rand.New(restored))
	fresh.Shuffle()
	a, _ := epoch(t, running, size)
	b, _ := epoch(t, fresh, size)
	if !slices.Equal(a, b) {
		t.Errorf("after restoring the rng state the order differs:\n%v\n%v", a, b)
	}
}

// TestBernoulliMatchesFloat32 checks the draw on bytes against its
// definition: from the same stream, bernoulli(v) is 1 exactly when
// rng.Float64() < float64(float32(v)/255), the comparison the float32
// pipeline made, for every grey level.
func TestBernoulliMatchesFloat32(t *testing.T) {
	for v := range 256 {
		a := rand.New(rand.NewPCG(uint64(v), 1))
		b := rand.New(rand.NewPCG(uint64(v), 1))
		p := float32(v) / 255
		for k := range 2000 {
			want := uint8(0)
			if b.Float64() < float64(p) {
				want = 1
			}
			if got := bernoulli(a, uint8(v)); got != want {
				t.Fatalf("grey level %d, draw %d: bernoulli = %d, want %d", v, k, got, want)
			}
		}
	}
}

// TestBatchesDynamicGolden pins the dynamic draws of two shuffled epochs
// on the real data. The values were produced by the float32 implementation
// (intensities stored as float32(v)/255), so training with dynamic
// binarization is bit-identical to runs made before pixels were stored as
// bytes.
func TestBatchesDynamicGolden(t *testing.T) {
	_, train, _, test := loadFull(t)
	tests := []struct {
		s    *Split
		ones int
		hash uint64
	}{
		{test, 2077511, 0x953fd72f298bb9a2},
		{train, 10266988, 0xb6161de1bd83ebbf},
	}
	for _, tt := range tests {
		b := NewBatches(tt.s, 100, Dynamic, rand.New(rand.NewPCG(11, 12)))
		dst := make([]float32, 100*Pixels)
		h := fnv.New64a()
		ones := 0
		for range 2 {
			b.Shuffle()
			for rows := b.Next(dst); rows > 0; rows = b.Next(dst) {
				bits := make([]byte, rows*Pixels)
				for i, v := range dst[:rows*Pixels] {
					switch v {
					case 1:
						bits[i] = 1
						ones++
					case 0:
					default:
						t.Fatalf("%s: pixel %v, want 0 or 1", tt.s.Name, v)
					}
				}
				h.Write(bits)
			}
		}
		if ones != tt.ones || h.Sum64() != tt.hash {
			t.Errorf("%s: %d ones, FNV-1a %#x; want %d ones, %#x", tt.s.Name, ones, h.Sum64(), tt.ones, tt.hash)
		}
	}
}
