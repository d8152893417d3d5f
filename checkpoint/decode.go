package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// initialReadChunk is the largest buffer allocated for a payload before any of
// its bytes have arrived; the buffer then doubles as data keeps coming.
const initialReadChunk = 64 << 10

// Decode reads one checkpoint from r, verifying the magic, version, payload
// length, checksum and structure, and requiring r to end right after the
// checksum. It reads r to EOF. Errors caused by the content wrap one of
// ErrNotCheckpoint, ErrVersion, ErrTruncated, ErrChecksum or ErrCorrupt.
func Decode(r io.Reader) (*File, error) {
	payload, err := readFrame(r)
	if err != nil {
		return nil, err
	}
	return parsePayload(payload)
}

// readErr translates an error from io.ReadFull: running out of input means the
// file is truncated; anything else is the reader's own failure.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: reading %s", ErrTruncated, what)
	}
	return fmt.Errorf("checkpoint: reading %s: %w", what, err)
}

// readFrame reads and checks the header, the payload, the checksum and the
// end of input, and returns the verified payload.
func readFrame(r io.Reader) ([]byte, error) {
	var h [headerSize]byte
	n, err := io.ReadFull(r, h[:len(Magic)])
	if string(h[:n]) != Magic[:n] {
		return nil, ErrNotCheckpoint
	}
	if err != nil {
		return nil, readErr("magic", err)
	}
	if _, err := io.ReadFull(r, h[len(Magic):]); err != nil {
		return nil, readErr("header", err)
	}
	if v := binary.LittleEndian.Uint32(h[len(Magic):]); v != Version {
		return nil, fmt.Errorf("%w: found %d, supported %d", ErrVersion, v, Version)
	}
	size := binary.LittleEndian.Uint64(h[len(Magic)+4:])
	if size > MaxPayload {
		return nil, corruptf("payload length %d exceeds %d", size, MaxPayload)
	}
	payload, err := readPayload(r, int(size))
	if err != nil {
		return nil, err
	}
	var c [checksumSize]byte
	if _, err := io.ReadFull(r, c[:]); err != nil {
		return nil, readErr("checksum", err)
	}
	stored, computed := binary.LittleEndian.Uint32(c[:]), crc32.Checksum(payload, castagnoli)
	if stored != computed {
		return nil, fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, stored, computed)
	}
	var extra [1]byte
	switch _, err := io.ReadFull(r, extra[:]); {
	case err == nil:
		return nil, corruptf("trailing data after checksum")
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("checkpoint: reading end of file: %w", err)
	}
	return payload, nil
}

// readPayload reads exactly size bytes. The buffer starts small and doubles
// only as bytes arrive, so a length that overstates a short input fails with
// ErrTruncated without allocating the declared size.
func readPayload(r io.Reader, size int) ([]byte, error) {
	buf := make([]byte, 0, min(size, initialReadChunk))
	for len(buf) < size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), size))
			copy(grown, buf)
			buf = grown
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return nil, readErr("payload", err)
		}
	}
	return buf, nil
}

// parser consumes a verified payload. Each method checks the bytes it needs
// against those that remain before returning or allocating anything.
type parser struct {
	b []byte
}

func (p *parser) take(n uint64, what string) ([]byte, error) {
	if n > uint64(len(p.b)) {
		return nil, corruptf("%s needs %d bytes, %d remain", what, n, len(p.b))
	}
	out := p.b[:n:n]
	p.b = p.b[n:]
	return out, nil
}

func (p *parser) u16(what string) (uint16, error) {
	b, err := p.take(2, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (p *parser) u32(what string) (uint32, error) {
	b, err := p.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (p *parser) u64(what string) (uint64, error) {
	b, err := p.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// bytes returns a copy of the next uint32-length-prefixed byte string.
func (p *parser) bytes(what string) ([]byte, error) {
	n, err := p.u32(what + " length")
	if err != nil {
		return nil, err
	}
	b, err := p.take(uint64(n), what)
	if err != nil {
		return nil, err
	}
	return append(make([]byte, 0, len(b)), b...), nil
}

// name returns the next uint16-length-prefixed name, which must be non-empty.
func (p *parser) name(what string) (string, error) {
	n, err := p.u16(what + " name length")
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", corruptf("empty %s name", what)
	}
	b, err := p.take(uint64(n), what+" name")
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// count reads an entry count and checks that that many entries of at least
// minSize bytes each fit in the rest of the payload.
func (p *parser) count(what string, minSize int) (int, error) {
	n, err := p.u32(what + " count")
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(len(p.b)/minSize) {
		return 0, corruptf("%d %ss cannot fit in %d remaining bytes", n, what, len(p.b))
	}
	return int(n), nil
}

// ascending checks that names of a sorted section strictly increase, which
// also rules out duplicates.
func ascending(what, prev, name string, i int) error {
	if i == 0 || prev < name {
		return nil
	}
	if prev == name {
		return corruptf("duplicate %s %q", what, name)
	}
	return corruptf("%s %q out of order after %q", what, name, prev)
}

// parsePayload decodes the sections of a payload whose checksum has been
// verified.
func parsePayload(b []byte) (*File, error) {
	p := &parser{b: b}
	config, err := p.bytes("config")
	if err != nil {
		return nil, err
	}
	f := &File{Config: config}
	if f.Counters, err = p.counters(); err != nil {
		return nil, err
	}
	if f.Blobs, err = p.blobs(); err != nil {
		return nil, err
	}
	if f.Tensors, err = p.tensors(); err != nil {
		return nil, err
	}
	if len(p.b) != 0 {
		return nil, corruptf("%d unparsed bytes at end of payload", len(p.b))
	}
	return f, nil
}

func (p *parser) counters() (map[string]int64, error) {
	n, err := p.count("counter", minCounterSize)
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64, min(n, maxPrealloc))
	prev := ""
	for i := range n {
		name, err := p.name("counter")
		if err != nil {
			return nil, err
		}
		if err := ascending("counter", prev, name, i); err != nil {
			return nil, err
		}
		v, err := p.u64("counter " + name)
		if err != nil {
			return nil, err
		}
		m[name] = int64(v)
		prev = name
	}
	return m, nil
}

func (p *parser) blobs() (map[string][]byte, error) {
	n, err := p.count("blob", minBlobSize)
	if err != nil {
		return nil, err
	}
	m := make(map[string][]byte, min(n, maxPrealloc))
	prev := ""
	for i := range n {
		name, err := p.name("blob")
		if err != nil {
			return nil, err
		}
		if err := ascending("blob", prev, name, i); err != nil {
			return nil, err
		}
		if m[name], err = p.bytes(fmt.Sprintf("blob %q", name)); err != nil {
			return nil, err
		}
		prev = name
	}
	return m, nil
}

func (p *parser) tensors() ([]Tensor, error) {
	n, err := p.count("tensor", minTensorSize)
	if err != nil {
		return nil, err
	}
	ts := make([]Tensor, 0, min(n, maxPrealloc))
	seen := make(map[string]struct{}, min(n, maxPrealloc))
	for range n {
		t, err := p.tensor()
		if err != nil {
			return nil, err
		}
		if _, dup := seen[t.Name]; dup {
			return nil, corruptf("duplicate tensor %q", t.Name)
		}
		seen[t.Name] = struct{}{}
		ts = append(ts, t)
	}
	return ts, nil
}

func (p *parser) tensor() (Tensor, error) {
	name, err := p.name("tensor")
	if err != nil {
		return Tensor{}, err
	}
	dtype, err := p.u32(fmt.Sprintf("tensor %q dtype", name))
	if err != nil {
		return Tensor{}, err
	}
	if dtype != DtypeFloat32 {
		return Tensor{}, corruptf("tensor %q: dtype %d is not supported (only %d, float32)", name, dtype, DtypeFloat32)
	}
	rank, err := p.u32(fmt.Sprintf("tensor %q rank", name))
	if err != nil {
		return Tensor{}, err
	}
	if rank > MaxRank {
		return Tensor{}, corruptf("tensor %q: rank %d exceeds %d", name, rank, MaxRank)
	}
	var dims [MaxRank]uint64
	for i := range rank {
		if dims[i], err = p.u64(fmt.Sprintf("tensor %q dimension %d", name, i)); err != nil {
			return Tensor{}, err
		}
	}
	n, err := elementCount(name, dims[:rank])
	if err != nil {
		return Tensor{}, err
	}
	raw, err := p.take(4*n, fmt.Sprintf("tensor %q data", name))
	if err != nil {
		return Tensor{}, err
	}
	shape := make([]int, rank)
	for i := range shape {
		shape[i] = int(dims[i])
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return Tensor{Name: name, Shape: shape, Data: data}, nil
}
