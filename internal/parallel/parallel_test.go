package parallel

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunCallsEveryPartOnce runs parts whose count is above, at and below
// the number of CPUs, and checks that each part ran once and that Run
// returned only after all had.
func TestRunCallsEveryPartOnce(t *testing.T) {
	for _, parts := range []int{0, 1, 2, 3, 8} {
		calls := make([]atomic.Int32, max(parts, 1))
		Run(parts, func(p int) {
			time.Sleep(time.Millisecond) // so that a missing wait would show
			calls[p].Add(1)
		})
		for p := range parts {
			if n := calls[p].Load(); n != 1 {
				t.Errorf("parts=%d: part %d ran %d times, want 1", parts, p, n)
			}
		}
		if parts == 0 && calls[0].Load() != 0 {
			t.Errorf("parts=0: part 0 ran")
		}
	}
}

// TestRunPartsOverlap checks that the parts run at the same time: each
// waits until all have started, which would deadlock if they ran one
// after another.
func TestRunPartsOverlap(t *testing.T) {
	const parts = 3
	var started sync.WaitGroup
	started.Add(parts)
	done := make(chan struct{})
	go func() {
		Run(parts, func(int) {
			started.Done()
			started.Wait()
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the parts did not all run at once")
	}
}

// TestRunAfterHelpersSleep runs work after the helpers have polled for
// longer than Spin, so that they have gone to sleep and must be woken.
func TestRunAfterHelpersSleep(t *testing.T) {
	for range 3 {
		var sum atomic.Int64
		Run(4, func(p int) { sum.Add(int64(p)) })
		if got := sum.Load(); got != 0+1+2+3 {
			t.Fatalf("sum of parts %d, want 6", got)
		}
		time.Sleep(3 * Spin)
	}
}

// TestRunNestedAndConcurrent calls Run from inside a part and from several
// goroutines at once: the calls that find the helpers busy fall back to
// new goroutines, and every part still runs once.
func TestRunNestedAndConcurrent(t *testing.T) {
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				Run(3, func(int) {
					Run(2, func(int) { total.Add(1) })
				})
			}
		})
	}
	wg.Wait()
	if got, want := total.Load(), int64(4*50*3*2); got != want {
		t.Fatalf("%d inner parts ran, want %d", got, want)
	}
}

// BenchmarkRun measures handing out a piece of work of two parts that do
// nothing: on the helpers, and on new goroutines as the go statement
// would. Between pieces the caller works alone for 50 µs, as between the
// products of a training step.
func BenchmarkRun(b *testing.B) {
	nothing := func(int) {}
	for _, tc := range []struct {
		name string
		run  func(int, func(int))
	}{{"helpers", Run}, {"goroutines", goRun}} {
		b.Run(tc.name, func(b *testing.B) {
			var busy time.Duration
			for range b.N {
				start := time.Now()
				for time.Since(start) < 50*time.Microsecond {
				}
				busy += time.Since(start)
				tc.run(2, nothing)
			}
			b.ReportMetric(float64((b.Elapsed()-busy).Nanoseconds())/float64(b.N), "ns/handout")
		})
	}
}
