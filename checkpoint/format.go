package checkpoint

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
)

// Magic is the 8-byte signature at the start of every checkpoint file; it
// lets Decode tell a checkpoint from any other file before reading further.
const Magic = "GSVAECKP"

// Version is the format version this package writes and the only one it
// reads; it changes whenever the byte layout changes incompatibly.
const Version uint32 = 1

// MaxPayload is the largest payload, in bytes, that Encode writes and Decode
// accepts (2 GiB - 1, so every length fits an int on any platform). It bounds
// the memory a single checkpoint can demand.
const MaxPayload = 1<<31 - 1

// DtypeFloat32 is the dtype code of a tensor of little-endian IEEE 754
// float32 values, the only element type of format version 1.
const DtypeFloat32 uint32 = 1

// MaxRank is the largest number of dimensions a tensor may have; it bounds
// the work and memory spent on a shape before its data is seen.
const MaxRank = 8

// MaxNameLen is the longest tensor, blob or counter name in bytes, the
// largest length a name's uint16 prefix can express.
const MaxNameLen = 1<<16 - 1

const (
	headerSize   = len(Magic) + 4 + 8
	checksumSize = 4
	// maxElements is the most float32 values a payload can hold; no
	// dimension and no element count may exceed it.
	maxElements = MaxPayload / 4
	// Smallest encoded size of one entry of each payload section, used to
	// bound a declared count by the bytes that remain.
	minCounterSize = 2 + 1 + 8
	minBlobSize    = 2 + 1 + 4
	minTensorSize  = 2 + 1 + 4 + 4
	// maxPrealloc caps how many entries are allocated up front from a
	// declared count; further entries grow the containers as they arrive.
	maxPrealloc = 1024
)

// castagnoli is the CRC-32C table used for the payload checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrNotCheckpoint reports that the input does not start with Magic, so it is
// some other kind of file.
var ErrNotCheckpoint = errors.New("checkpoint: not a checkpoint file")

// ErrVersion reports a format version this package cannot read; the wrapping
// error gives the version found and the one supported.
var ErrVersion = errors.New("checkpoint: unsupported format version")

// ErrTruncated reports that the input ended before the header, the declared
// payload or the checksum was complete, as after an interrupted write.
var ErrTruncated = errors.New("checkpoint: file truncated")

// ErrChecksum reports that the payload does not match its stored checksum, so
// the file was damaged after it was written.
var ErrChecksum = errors.New("checkpoint: checksum mismatch")

// ErrCorrupt reports malformed structure: a duplicate or empty name, a bad
// shape, a length that disagrees with the data, a limit exceeded or trailing
// bytes. Encode also uses it for a File that cannot be encoded.
var ErrCorrupt = errors.New("checkpoint: malformed data")

// ErrNoTensor reports that File.Tensor was asked for a name the file does not
// hold, which usually means the checkpoint belongs to a different model.
var ErrNoTensor = errors.New("checkpoint: no such tensor")

// Tensor is one named float32 array with its shape.
type Tensor struct {
	// Name identifies the tensor; it is non-empty and unique within a File.
	Name string
	// Shape lists the dimensions, outermost first; an empty Shape is a scalar.
	Shape []int
	// Data holds the product of Shape values in row-major order.
	Data []float32
}

// File is the content of one checkpoint.
type File struct {
	// Config is the run's configuration as JSON, stored verbatim.
	Config []byte
	// Tensors holds named arrays such as weights and optimiser state, in
	// the writer's order; names are unique.
	Tensors []Tensor
	// Blobs holds opaque state such as a serialized RNG, keyed by name.
	Blobs map[string][]byte
	// Counters holds integer progress such as "epoch" and "step", keyed by name.
	Counters map[string]int64
}

// Tensor returns a pointer to the tensor called name, so a caller can load
// weights by name regardless of their position. The error wraps ErrNoTensor
// and names the missing tensor.
func (f *File) Tensor(name string) (*Tensor, error) {
	if f != nil {
		for i := range f.Tensors {
			if f.Tensors[i].Name == name {
				return &f.Tensors[i], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNoTensor, name)
}

// corruptf returns an error wrapping ErrCorrupt with a formatted explanation.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// checkName reports whether name can be stored; what describes its role.
func checkName(what, name string) error {
	if name == "" {
		return corruptf("empty %s name", what)
	}
	if len(name) > MaxNameLen {
		return corruptf("%s name of %d bytes exceeds %d", what, len(name), MaxNameLen)
	}
	return nil
}

// elementCount validates a tensor's dimensions and returns their product.
func elementCount(name string, dims []uint64) (uint64, error) {
	if len(dims) > MaxRank {
		return 0, corruptf("tensor %q: rank %d exceeds %d", name, len(dims), MaxRank)
	}
	n := uint64(1)
	for i, d := range dims {
		if d > maxElements {
			return 0, corruptf("tensor %q: dimension %d is %d, limit %d", name, i, d, maxElements)
		}
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			return 0, corruptf("tensor %q: element count overflows", name)
		}
		n = lo
	}
	if n > maxElements {
		return 0, corruptf("tensor %q: %d elements exceed %d", name, n, maxElements)
	}
	return n, nil
}
