// Package parallel runs the parts of one piece of work on all CPUs at once,
// on helper goroutines that stay awake between pieces.
//
// A training step is a chain of short pieces of work, each split across
// the CPUs: 17 matrix products and a dozen elementwise passes of 20 to
// 600 µs each. Started with the go statement, each piece wakes an idle
// thread of the Go runtime, and on a virtual machine whose idle CPU has
// halted that takes tens of microseconds, every time. Here each CPU but
// the caller's has one helper goroutine; after a piece a helper keeps
// polling for the next one for up to Spin before it sleeps, so the pieces
// of a step find it awake.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Spin is how long a helper polls for new work before it sleeps. It is
// longer than the gaps between the pieces of a training step and much
// shorter than the gaps between steps of anything else.
const Spin = 500 * time.Microsecond

// Run calls f(part) for part = 0, ..., parts-1 concurrently and returns
// when all have returned. The caller runs part 0; helpers run the rest.
// If another Run is in progress (Run called from several goroutines, or
// from inside f) the parts run on new goroutines instead, so Run is safe
// to call from anywhere.
func Run(parts int, f func(part int)) {
	switch {
	case parts <= 0:
		return
	case parts == 1:
		f(0)
		return
	}
	if !crew.mu.TryLock() {
		goRun(parts, f)
		return
	}
	defer crew.mu.Unlock()
	for len(crew.helpers) < parts-1 {
		h := &helper{wake: make(chan struct{}, 1)}
		crew.helpers = append(crew.helpers, h)
		go h.loop()
	}
	hs := crew.helpers[:parts-1]
	for i, h := range hs {
		h.give(func() { f(i + 1) })
	}
	f(0)
	for _, h := range hs {
		h.wait()
	}
}

// goRun is Run on one new goroutine per part but the first.
func goRun(parts int, f func(part int)) {
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Go(func() { f(p) })
	}
	f(0)
	wg.Wait()
}

// crew holds the helpers, which one Run at a time may use.
var crew struct {
	mu      sync.Mutex
	helpers []*helper
}

// helper is one helper goroutine. The caller hands it a job by storing
// the job and then incrementing given; the helper runs it and then stores
// the same count in done.
type helper struct {
	job    func()
	given  atomic.Uint64
	done   atomic.Uint64
	asleep atomic.Bool
	wake   chan struct{}
}

// give hands h the job and wakes h if it sleeps.
func (h *helper) give(job func()) {
	h.job = job
	h.given.Add(1)
	if h.asleep.CompareAndSwap(true, false) {
		h.wake <- struct{}{}
	}
}

// wait returns once h has finished the last job it was given. It polls,
// as h usually finishes within microseconds of the caller, and lets other
// goroutines run between polls, in case h waits for this goroutine's P.
// (Polling without yielding measured slower: with OpenBLAS, the GEMM-only
// floor went from 3.8-4.4 to 5.8-6.7 ms.)
func (h *helper) wait() {
	want := h.given.Load()
	for i := 0; h.done.Load() != want; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
}

// loop runs jobs as they come, polling for up to Spin after each before
// it sleeps on h.wake. It yields between polls for the same reason as
// wait.
func (h *helper) loop() {
	var seen uint64
	for {
		start := time.Now()
		for i := 0; h.given.Load() == seen; i++ {
			if i%64 != 63 {
				continue
			}
			if time.Since(start) < Spin {
				runtime.Gosched()
				continue
			}
			// Sleep, unless a job arrived after the last look: give
			// either sees asleep and sends, or its job is seen here.
			h.asleep.Store(true)
			if h.given.Load() != seen && h.asleep.CompareAndSwap(true, false) {
				break
			}
			<-h.wake
			break
		}
		seen = h.given.Load()
		if seen == h.done.Load() {
			continue
		}
		h.job()
		h.job = nil
		h.done.Store(seen)
	}
}

// Rows splits the rows [0, n) into one contiguous range per CPU and calls
// f on each concurrently; work on fewer than minRows rows per CPU stays on
// the calling goroutine. Each range is written by one goroutine only, so
// results do not depend on the number of CPUs.
func Rows(n, minRows int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(minRows, 1))
	if workers <= 1 {
		f(0, n)
		return
	}
	Run(workers, func(w int) { f(w*n/workers, (w+1)*n/workers) })
}
