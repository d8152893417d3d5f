package model

import (
	"runtime"

	"gsvae/internal/parallel"
)

// parallelRows splits rows [0, n) into one contiguous range per CPU and
// calls f on each concurrently; work on fewer than minRows rows stays on
// the calling goroutine. Each range is written by one goroutine only, so
// results do not depend on the number of CPUs.
func parallelRows(n, minRows int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(minRows, 1))
	if workers <= 1 {
		f(0, n)
		return
	}
	parallel.Run(workers, func(w int) { f(w*n/workers, (w+1)*n/workers) })
}
