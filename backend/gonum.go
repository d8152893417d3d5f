//go:build !openblas

package backend

import (
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
)

// Name is the BLAS this binary was built with.
const Name = "gonum"

// base is gorgonia's default BLAS, gonum's.
func base() G.BLAS { return gonum.Implementation{} }

// tile is the largest block of C one call computes: 3 of gonum's 64 x 64
// blocks, under the 4 at which gonum's Sgemm starts goroutines.
var tile = [2]int{64, 192}

// setThreads does nothing: gonum starts its goroutines as it sees fit.
func setThreads(int) {}

// rule picks Split: gonum's own goroutines lose at this model's sizes.
func rule() (Strategy, string, error) { return Split, "gonum", nil }

func describe() string { return "gonum (pure Go)" }
