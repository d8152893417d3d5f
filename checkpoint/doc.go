// Package checkpoint provides the self-describing, versioned, checksummed file
// format in which training runs are saved and restored.
//
// A checkpoint holds everything needed to resume a run, or to sample from a
// trained model given nothing but the file's path: the run's configuration (a
// JSON document stored verbatim), the weights and optimiser state as named
// float32 tensors, opaque byte blobs such as a serialized random-number
// generator, and int64 counters such as the epoch and step. The package never
// interprets any of them, so it does not depend on the model.
//
// # File layout
//
// All integers are little-endian. A file is a fixed 20-byte header, a payload
// and a checksum, with nothing after it:
//
//	offset  size  field
//	0       8     magic "GSVAECKP" (Magic)
//	8       4     uint32 format version, currently 1 (Version)
//	12      8     uint64 payload length N, at most MaxPayload
//	20      N     payload, described below
//	20+N    4     uint32 CRC-32C (Castagnoli polynomial) of the N payload bytes
//
// The payload holds four sections in this order. A name is a uint16 byte
// length L followed by L bytes, with 1 <= L <= MaxNameLen.
//
//	size      field
//	4         uint32 config length C
//	C         config bytes, verbatim
//	4         uint32 counter count
//	          then per counter, in strictly ascending byte-wise name order:
//	2+L         name
//	8           int64 value
//	4         uint32 blob count
//	          then per blob, in strictly ascending byte-wise name order:
//	2+L         name
//	4           uint32 blob length B
//	B           blob bytes
//	4         uint32 tensor count
//	          then per tensor, in the order of File.Tensors, names unique:
//	2+L         name
//	4           uint32 dtype, 1 = float32 (DtypeFloat32; no other in version 1)
//	4           uint32 rank R, 0 <= R <= MaxRank
//	8*R         R uint64 dimensions
//	4*E         E float32 values as IEEE 754 bits in row-major order, where
//	            E is the product of the dimensions (1 for a rank-0 scalar)
//
// Because counters and blobs are sorted and nothing is optional, every File
// has exactly one encoding: Encode is deterministic, and re-encoding a
// decoded file reproduces the input byte for byte.
//
// # Validation
//
// Decode treats its input as hostile. It never panics, and it allocates in
// proportion to the bytes actually present rather than to the lengths a file
// declares: the payload is read in growing chunks up to the declared length,
// the checksum is verified before the payload is parsed, and every count and
// length inside the payload is checked against the bytes that remain before
// anything is allocated for it. No dimension and no element count may exceed
// MaxPayload/4, the most float32 values a payload can hold, and the product
// of the dimensions is checked for overflow. Encode applies the same rules to
// the File it is given and writes nothing if the File breaks them.
//
// # Nil and empty values
//
// Encode treats a nil slice or map like an empty one. Decode never returns a
// nil slice or map: Config, Tensors, every Shape and Data, every blob value,
// Blobs and Counters are all non-nil, possibly empty. So Decode(Encode(f))
// equals f with each nil slice or map replaced by an empty one, and a caller
// may add entries to the maps of a decoded File directly.
//
// # Errors
//
// Every error from Decode or Load that is caused by the content of the input
// satisfies errors.Is with exactly one of ErrNotCheckpoint, ErrVersion,
// ErrTruncated, ErrChecksum or ErrCorrupt; errors from the underlying reader
// are wrapped unchanged. Encode reports an invalid File with ErrCorrupt.
//
// # Crash safety
//
// Save writes the new checkpoint to a temporary file in the target's folder,
// flushes it to stable storage, renames it over the target and then flushes
// the folder, so that after a crash the path holds either the complete
// previous checkpoint or the complete new one, never a mixture.
package checkpoint
