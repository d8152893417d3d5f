// Package data provides binarized MNIST for the VAE: locating the files,
// reading idx images, the splits, binarization and shuffled minibatches.
//
// The reader's path through the package:
//
//   - find.go:    FindDir locates the idx .gz files (a -data flag or the
//     GoMNIST module in the Go module cache).
//   - idx.go:     ReadImages and ReadImagesFile decode idx3 image files
//     into raw pixel bytes 0..255 (intensity byte/255), defensively.
//   - split.go:   Load builds the train/valid/test splits and their fixed
//     binarization.
//   - batches.go: Batches yields shuffled (training) or ordered
//     (evaluation) minibatches with fixed or dynamic binarization.
package data

import "fmt"

// Pixels is the number of pixels of one 28x28 MNIST image, which is the
// length of one image row in every slice this package returns.
const Pixels = 28 * 28

// Binarization says how pixel intensities in [0,1] become {0,1}. The VAE
// models Bernoulli pixels, so grey levels must be binarized first; the two
// protocols in the literature differ in whether the draw is done once or
// per use.
type Binarization int

const (
	// Fixed binarization makes one Bernoulli draw per pixel, once, with a
	// fixed seed: it is identical on every run and machine (the protocol
	// of the Gumbel-Softmax paper, and the one valid and test always use).
	Fixed Binarization = iota
	// Dynamic binarization makes a fresh Bernoulli draw each time an image
	// is used in a batch, which acts as data augmentation in training.
	Dynamic
)

// ParseBinarization parses a flag value, "fixed" or "dynamic", so that
// command-line tools can select the protocol by name.
func ParseBinarization(s string) (Binarization, error) {
	switch s {
	case "fixed":
		return Fixed, nil
	case "dynamic":
		return Dynamic, nil
	}
	return 0, fmt.Errorf("unknown binarization %q: want \"fixed\" or \"dynamic\"", s)
}

// String returns the name ParseBinarization accepts, so a Binarization
// can be printed in logs and round-tripped through flags.
func (b Binarization) String() string {
	switch b {
	case Fixed:
		return "fixed"
	case Dynamic:
		return "dynamic"
	}
	return fmt.Sprintf("Binarization(%d)", int(b))
}
