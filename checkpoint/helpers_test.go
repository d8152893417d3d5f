package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"testing"
)

// randomTensor returns a tensor of the given shape filled with finite values.
func randomTensor(rng *rand.Rand, name string, shape ...int) Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return Tensor{Name: name, Shape: shape, Data: data}
}

// sampleFile returns a small checkpoint with tensors of rank 0 to 3.
func sampleFile(seed uint64) *File {
	rng := rand.New(rand.NewPCG(seed, 1))
	return &File{
		Config: []byte(`{"latent":30,"categories":10,"tau":1}`),
		Tensors: []Tensor{
			randomTensor(rng, "temperature"),
			randomTensor(rng, "enc.b1", 4),
			randomTensor(rng, "enc.w1", 4, 3),
			randomTensor(rng, "adam.m.enc.w1", 2, 3, 2),
		},
		Blobs:    map[string][]byte{"rng": {1, 2, 3, 4, 5}, "empty": {}},
		Counters: map[string]int64{"epoch": 3, "step": 1 << 40, "neg": -7},
	}
}

// encodeBytes encodes f or fails the test.
func encodeBytes(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

// normalized returns a copy of f with every nil slice or map made empty, the
// form in which Decode returns it.
func normalized(f *File) *File {
	out := &File{
		Config:   append([]byte{}, f.Config...),
		Tensors:  []Tensor{},
		Blobs:    map[string][]byte{},
		Counters: map[string]int64{},
	}
	for _, t := range f.Tensors {
		out.Tensors = append(out.Tensors, Tensor{
			Name:  t.Name,
			Shape: append([]int{}, t.Shape...),
			Data:  append([]float32{}, t.Data...),
		})
	}
	for k, v := range f.Blobs {
		out.Blobs[k] = append([]byte{}, v...)
	}
	for k, v := range f.Counters {
		out.Counters[k] = v
	}
	return out
}

// sameFloatBits reports whether the tensors of a and b hold bit-identical
// values, which also distinguishes -0 from 0 and compares NaNs.
func sameFloatBits(a, b *File) bool {
	if len(a.Tensors) != len(b.Tensors) {
		return false
	}
	for i := range a.Tensors {
		x, y := a.Tensors[i].Data, b.Tensors[i].Data
		if len(x) != len(y) {
			return false
		}
		for j := range x {
			if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
				return false
			}
		}
	}
	return true
}

// builder assembles payload bytes by hand for crafted inputs.
type builder struct{ b []byte }

func (b *builder) u16(v uint16) *builder {
	b.b = binary.LittleEndian.AppendUint16(b.b, v)
	return b
}

func (b *builder) u32(v uint32) *builder {
	b.b = binary.LittleEndian.AppendUint32(b.b, v)
	return b
}

func (b *builder) u64(v uint64) *builder {
	b.b = binary.LittleEndian.AppendUint64(b.b, v)
	return b
}

func (b *builder) raw(p ...byte) *builder {
	b.b = append(b.b, p...)
	return b
}

func (b *builder) name(s string) *builder {
	return b.u16(uint16(len(s))).raw([]byte(s)...)
}

// frame wraps a payload in a header and a valid checksum.
func frame(payload []byte) []byte {
	out := []byte(Magic)
	out = binary.LittleEndian.AppendUint32(out, Version)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(payload)))
	out = append(out, payload...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(payload, castagnoli))
}

// contentErrors are the sentinels that classify every content error.
var contentErrors = []error{ErrNotCheckpoint, ErrVersion, ErrTruncated, ErrChecksum, ErrCorrupt}

// classify returns the number of content sentinels err matches.
func classify(err error) int {
	n := 0
	for _, s := range contentErrors {
		if errors.Is(err, s) {
			n++
		}
	}
	return n
}
