package data

import (
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
)

// TrainImages is the size of the training split: the first 50,000 images
// of MNIST's training file (the last 10,000 are the validation split).
const TrainImages = 50_000

// Sizes of the standard MNIST files.
const (
	trainFileImages = 60_000
	testFileImages  = 10_000
)

// Seeds of the fixed binarization, one per split, so that the three splits
// use unrelated random streams. They are arbitrary constants (the ASCII bytes
// of the strings in the comments); changing them changes every result, so the
// tests pin the binarization they produce.
const (
	trainSeed uint64 = 0x6773_7661_6574_726e // "gsvaetrn"
	validSeed uint64 = 0x6773_7661_6576_6c64 // "gsvaevld"
	testSeed  uint64 = 0x6773_7661_6574_7374 // "gsvaetst"
)

// Split is one part of the data set: its grey levels, for dynamic
// binarization, and its fixed binarization, for everything else. Both are
// stored as one byte per pixel (Batches converts to float32 as it copies),
// so the whole data set takes about 110 MB.
type Split struct {
	// Name is "train", "valid" or "test", for logs and errors.
	Name string
	// N is the number of images.
	N int
	// Intensity holds N*Pixels raw grey levels 0..255 from the idx file,
	// row-major; the intensity in [0,1] of a pixel v is float32(v)/255.
	// Splits of one file may share its underlying array: treat it as
	// read-only.
	Intensity []uint8
	// Binary holds N*Pixels values in {0,1}: the fixed binarization,
	// row-major. It is always computed, because valid and test always use
	// it.
	Binary []uint8
}

// Load reads the idx files in dir (see FindDir) and returns the three
// splits of the standard protocol: train is the first 50,000 images of the
// training file, valid the last 10,000 of it, and test the 10,000 test
// images.
//
// Each split's Binary is drawn once: pixel = 1 if u < intensity, with
// intensity = float32(v)/255 for the stored byte v and u uniform in [0,1)
// (rand.Float64) from a math/rand/v2 PCG stream seeded by the split's
// constant seed and the image's index in the split. PCG is platform
// independent, so the result is identical on every run and machine, and
// since each image has its own stream the binarization of an image does not
// depend on which other images are loaded.
//
// limit > 0 keeps only the first limit training images, for quick runs;
// their binarization equals the first rows of the full one, and valid and
// test are unchanged. limit <= 0, or above 50,000, keeps all of them.
//
// The pixels are kept as the bytes decoded from the files, with no float
// copy: train and valid are views of the one array of the training file.
//
// A file whose header declares another count than MNIST's (60,000 training
// and 10,000 test images) is refused before its body is read, with an
// error naming the file and both counts, so a hostile or wrong file costs
// no memory.
func Load(dir string, limit int) (train, valid, test *Split, err error) {
	trainPath, testPath := filepath.Join(dir, trainFile), filepath.Join(dir, testFile)
	// Each file's header must declare MNIST's count, checked before its
	// body is read: a hostile header costs no memory.
	trainPix, _, err := readImagesFile(trainPath, trainFileImages)
	if err != nil {
		return nil, nil, nil, err
	}
	testPix, _, err := readImagesFile(testPath, testFileImages)
	if err != nil {
		return nil, nil, nil, err
	}
	nTrain := TrainImages
	if limit > 0 && limit < nTrain {
		nTrain = limit
	}
	train = newSplit("train", trainPix[:nTrain*Pixels:nTrain*Pixels], trainSeed)
	valid = newSplit("valid", trainPix[TrainImages*Pixels:], validSeed)
	test = newSplit("test", testPix, testSeed)
	return train, valid, test, nil
}

// newSplit wraps the grey levels pix (bytes 0..255) and computes their
// fixed binarization.
func newSplit(name string, pix []uint8, seed uint64) *Split {
	s := &Split{
		Name:      name,
		N:         len(pix) / Pixels,
		Intensity: pix,
		Binary:    make([]uint8, len(pix)),
	}
	binarizeFixed(s.Binary, pix, s.N, seed)
	return s
}

// binarizeFixed fills dst with the fixed binarization (0 or 1) of the n
// images of grey-level bytes in pix. Images have independent streams, so workers share them out without
// changing the result.
func binarizeFixed(dst, pix []uint8, n int, seed uint64) {
	workers := min(runtime.GOMAXPROCS(0), 8)
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() {
			var src rand.PCG
			rng := rand.New(&src)
			for i := lo; i < hi; i++ {
				src.Seed(seed, imageStream(i))
				row := pix[i*Pixels : (i+1)*Pixels]
				out := dst[i*Pixels : (i+1)*Pixels]
				for j, v := range row {
					out[j] = bernoulli(rng, v)
				}
			}
		})
	}
	wg.Wait()
}

// imageStream turns an image index into the second PCG seed word. The
// splitmix64 finalizer spreads consecutive indices over the whole 64-bit
// range, so neighbouring images start from unrelated PCG states.
func imageStream(i int) uint64 {
	z := uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// bernoulli returns 1 with probability float32(v)/255 (the intensity of
// the grey-level byte v) and 0 otherwise: it draws u = rng.Float64(),
// uniform in [0,1), and returns 1 if u < float64(float32(v)/255). The draw
// and the comparison are those of the float32 pipeline this package used
// before it stored bytes, so the fixed binarization and the dynamic draws
// are unchanged bit for bit.
func bernoulli(rng *rand.Rand, v uint8) uint8 {
	if rng.Float64() < float64(intensity[v]) {
		return 1
	}
	return 0
}
