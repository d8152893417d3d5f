package checkpoint

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"slices"
)

// writeBufferSize is the size of the buffer Encode puts in front of its writer.
const writeBufferSize = 64 << 10

// floatChunk is how many float32 values Encode converts per write.
const floatChunk = 4096

// Encode writes f to w in the format described in the package documentation,
// so that Decode can restore it exactly. It validates f first and writes
// nothing if f breaks a rule of the format; that error wraps ErrCorrupt.
// Write errors from w are returned wrapped.
func Encode(w io.Writer, f *File) error {
	if f == nil {
		return corruptf("nil file")
	}
	size, err := payloadSize(f)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, writeBufferSize)
	e := &encoder{w: bw}
	e.header(size)
	e.payload(f)
	e.checksum()
	if e.err == nil {
		e.err = bw.Flush()
	}
	if e.err != nil {
		return fmt.Errorf("checkpoint: encode: %w", e.err)
	}
	return nil
}

// payloadSize validates f and returns the exact length of its payload.
func payloadSize(f *File) (uint64, error) {
	size := uint64(4 + len(f.Config) + 4 + 4 + 4)
	for name := range f.Counters {
		if err := checkName("counter", name); err != nil {
			return 0, err
		}
		size += uint64(2 + len(name) + 8)
	}
	for name, blob := range f.Blobs {
		if err := checkName("blob", name); err != nil {
			return 0, err
		}
		size += uint64(2 + len(name) + 4 + len(blob))
		if size > MaxPayload {
			return 0, corruptf("payload exceeds %d bytes", MaxPayload)
		}
	}
	seen := make(map[string]struct{}, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if err := checkName("tensor", t.Name); err != nil {
			return 0, err
		}
		if _, dup := seen[t.Name]; dup {
			return 0, corruptf("duplicate tensor %q", t.Name)
		}
		seen[t.Name] = struct{}{}
		if len(t.Shape) > MaxRank {
			return 0, corruptf("tensor %q: rank %d exceeds %d", t.Name, len(t.Shape), MaxRank)
		}
		dims := make([]uint64, len(t.Shape))
		for j, d := range t.Shape {
			if d < 0 {
				return 0, corruptf("tensor %q: dimension %d is negative (%d)", t.Name, j, d)
			}
			dims[j] = uint64(d)
		}
		n, err := elementCount(t.Name, dims)
		if err != nil {
			return 0, err
		}
		if n != uint64(len(t.Data)) {
			return 0, corruptf("tensor %q: shape %v needs %d values, data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		size += uint64(2+len(t.Name)+4+4+8*len(t.Shape)) + 4*n
		if size > MaxPayload {
			return 0, corruptf("payload exceeds %d bytes", MaxPayload)
		}
	}
	if size > MaxPayload {
		return 0, corruptf("payload exceeds %d bytes", MaxPayload)
	}
	return size, nil
}

// encoder writes the parts of a checkpoint, keeping the running checksum of
// the payload and the first write error; after an error it writes nothing.
type encoder struct {
	w       io.Writer
	crc     uint32
	err     error
	scratch [floatChunk * 4]byte
}

// raw writes p outside the checksummed payload.
func (e *encoder) raw(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

// put writes p as part of the payload.
func (e *encoder) put(p []byte) {
	if e.err == nil {
		e.crc = crc32.Update(e.crc, castagnoli, p)
		_, e.err = e.w.Write(p)
	}
}

func (e *encoder) u16(v uint16) {
	e.put(binary.LittleEndian.AppendUint16(e.scratch[:0], v))
}

func (e *encoder) u32(v uint32) {
	e.put(binary.LittleEndian.AppendUint32(e.scratch[:0], v))
}

func (e *encoder) u64(v uint64) {
	e.put(binary.LittleEndian.AppendUint64(e.scratch[:0], v))
}

func (e *encoder) name(s string) {
	e.u16(uint16(len(s)))
	e.put([]byte(s))
}

func (e *encoder) floats(data []float32) {
	for len(data) > 0 && e.err == nil {
		n := min(len(data), floatChunk)
		buf := e.scratch[:0]
		for _, v := range data[:n] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		e.put(buf)
		data = data[n:]
	}
}

func (e *encoder) header(size uint64) {
	var h [headerSize]byte
	copy(h[:], Magic)
	binary.LittleEndian.PutUint32(h[len(Magic):], Version)
	binary.LittleEndian.PutUint64(h[len(Magic)+4:], size)
	e.raw(h[:])
}

// payload writes the sections of f; payloadSize has already validated it.
func (e *encoder) payload(f *File) {
	e.u32(uint32(len(f.Config)))
	e.put(f.Config)

	e.u32(uint32(len(f.Counters)))
	for _, name := range slices.Sorted(maps.Keys(f.Counters)) {
		e.name(name)
		e.u64(uint64(f.Counters[name]))
	}

	e.u32(uint32(len(f.Blobs)))
	for _, name := range slices.Sorted(maps.Keys(f.Blobs)) {
		e.name(name)
		e.u32(uint32(len(f.Blobs[name])))
		e.put(f.Blobs[name])
	}

	e.u32(uint32(len(f.Tensors)))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		e.name(t.Name)
		e.u32(DtypeFloat32)
		e.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			e.u64(uint64(d))
		}
		e.floats(t.Data)
	}
}

func (e *encoder) checksum() {
	var c [checksumSize]byte
	binary.LittleEndian.PutUint32(c[:], e.crc)
	e.raw(c[:])
}
