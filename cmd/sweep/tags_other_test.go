//go:build !openblas

package main

// buildTags are the tags the tests build train and eval with: the BLAS of
// the test run.
var buildTags []string
