package main

import (
	"slices"
	"strconv"
	"strings"

	"gsvae/estimator"
	"gsvae/internal/cli"
)

// parseEstimators reads a comma-separated -estimators list, refusing
// unknown names and dropping repeats.
func parseEstimators(s string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if err := estimator.Check(n); err != nil {
			return nil, cli.Usagef("-estimators: %v", err)
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// parseTaus reads a comma-separated -taus list of temperatures in (0, 1e4].
func parseTaus(s string) ([]float64, error) {
	var taus []float64
	for _, f := range strings.Split(s, ",") {
		tau, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(tau > 0) || tau > 1e4 {
			return nil, cli.Usagef("-taus: %q is not a temperature in (0, 1e4]", f)
		}
		taus = append(taus, tau)
	}
	return taus, nil
}
