package data

import (
	"fmt"
	"math/rand/v2"
)

// Batches yields minibatches of one split, one epoch at a time: shuffled
// rows for training (NewBatches) or rows in stored order for evaluation
// (Sequential).
//
// Use it as
//
//	b.Shuffle() // start an epoch
//	for n := b.Next(dst); n > 0; n = b.Next(dst) {
//		// dst[:n*Pixels] holds n images
//	}
//
// A new Batches draws nothing until the first Shuffle (before it, Next
// yields the stored order), so creating one never moves the caller's random
// stream: a run resumed mid-epoch restores its position with Seek instead.
type Batches struct {
	s     *Split
	size  int
	bin   Binarization
	rng   *rand.Rand // nil for Sequential
	order []int      // permutation of the rows for the current epoch
	pos   int        // index into order of the next row to emit
}

// NewBatches returns shuffled minibatches of size rows over s, for
// training. bin selects Fixed (rows are copied from s.Binary) or Dynamic
// (each time a row is emitted its pixels are drawn afresh as Bernoulli of
// the intensities float32(v)/255 of s.Intensity using rng). rng drives the shuffling and the dynamic draws;
// it is the caller's seeded generator, so a run is reproducible from its
// seed. Call Shuffle to start each epoch, the first included.
//
// NewBatches panics if s or rng is nil, size < 1, bin is not Fixed or
// Dynamic, or s is shorter than N rows: these are programmer errors (flags
// must be validated before).
func NewBatches(s *Split, size int, bin Binarization, rng *rand.Rand) *Batches {
	if rng == nil {
		panic("data: NewBatches: nil rng")
	}
	b := newBatches("NewBatches", s, size, bin)
	b.rng = rng
	return b
}

// Sequential returns minibatches of size rows over s in stored order with
// the Fixed binarization, for evaluation: every row exactly once, no
// randomness. Shuffle on it restarts from the first row without permuting.
// It panics if s is nil, size < 1 or s.Binary is shorter than N rows
// (programmer errors).
func Sequential(s *Split, size int) *Batches {
	return newBatches("Sequential", s, size, Fixed)
}

// newBatches checks the arguments and returns Batches in stored order.
func newBatches(caller string, s *Split, size int, bin Binarization) *Batches {
	if s == nil {
		panic(fmt.Sprintf("data: %s: nil split", caller))
	}
	if size < 1 {
		panic(fmt.Sprintf("data: %s: batch size %d, want >= 1", caller, size))
	}
	if bin != Fixed && bin != Dynamic {
		panic(fmt.Sprintf("data: %s: invalid %v", caller, bin))
	}
	if s.N < 0 || len(s.Binary) < s.N*Pixels || (bin == Dynamic && len(s.Intensity) < s.N*Pixels) {
		panic(fmt.Sprintf("data: %s: split %q has N=%d but %d binary and %d intensity values", caller, s.Name, s.N, len(s.Binary), len(s.Intensity)))
	}
	order := make([]int, s.N)
	for i := range order {
		order[i] = i
	}
	return &Batches{s: s, size: size, bin: bin, order: order}
}

// Position returns the current epoch's row order and the index in it of
// the next row to emit, so that a checkpoint taken in the middle of an epoch
// can continue it with Seek. The slice is a copy.
func (b *Batches) Position() (order []int, next int) {
	return append([]int(nil), b.order...), b.pos
}

// Seek continues an epoch saved by Position. It refuses an order that is
// not a permutation of the split's rows and a next outside [0, N].
func (b *Batches) Seek(order []int, next int) error {
	if len(order) != len(b.order) {
		return fmt.Errorf("data: epoch order has %d rows, split %q has %d", len(order), b.s.Name, len(b.order))
	}
	if next < 0 || next > len(order) {
		return fmt.Errorf("data: epoch position %d outside [0, %d]", next, len(order))
	}
	seen := make([]bool, len(order))
	for _, i := range order {
		if i < 0 || i >= len(order) || seen[i] {
			return fmt.Errorf("data: epoch order is not a permutation of %d rows", len(order))
		}
		seen[i] = true
	}
	copy(b.order, order)
	b.pos = next
	return nil
}

// Len returns the number of batches per epoch, ceil(N/size), for progress
// reporting and averaging.
func (b *Batches) Len() int {
	return (b.s.N + b.size - 1) / b.size
}

// Shuffle starts a new epoch. For NewBatches it draws a fresh permutation
// of the rows (Fisher-Yates from the stored order, using rng), so the
// order depends only on rng's state and not on earlier epochs: a run
// resumed with a saved rng state sees what the uninterrupted run saw. For
// Sequential it keeps the stored order.
func (b *Batches) Shuffle() {
	b.pos = 0
	if b.rng == nil {
		return
	}
	for i := range b.order {
		b.order[i] = i
	}
	for i := len(b.order) - 1; i > 0; i-- {
		j := b.rng.IntN(i + 1)
		b.order[i], b.order[j] = b.order[j], b.order[i]
	}
}

// Next fills dst[:rows*Pixels] with the next batch of the epoch and returns
// rows, which is size except possibly for the last, short, batch. The
// pixels are the split's bytes (Fixed) or fresh draws (Dynamic) converted
// to float32 0 or 1, the model's input type. It returns 0 once the epoch
// is exhausted, until Shuffle starts another.
// dst must have len >= size*Pixels; Next panics otherwise (a programmer
// error).
func (b *Batches) Next(dst []float32) int {
	if need := b.size * Pixels; len(dst) < need {
		panic(fmt.Sprintf("data: Batches.Next: dst has len %d, want >= %d (size*Pixels)", len(dst), need))
	}
	rows := min(b.size, len(b.order)-b.pos)
	for r := range rows {
		i := b.order[b.pos+r]
		out := dst[r*Pixels : (r+1)*Pixels]
		if b.bin == Dynamic {
			for j, v := range b.s.Intensity[i*Pixels : (i+1)*Pixels] {
				out[j] = float32(bernoulli(b.rng, v))
			}
		} else {
			for j, v := range b.s.Binary[i*Pixels : (i+1)*Pixels] {
				out[j] = float32(v)
			}
		}
	}
	b.pos += rows
	return rows
}
