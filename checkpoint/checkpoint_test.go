package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   *File
	}{
		{"sample", sampleFile(1)},
		{"zero value", &File{}},
		{"empty non-nil", &File{Config: []byte{}, Tensors: []Tensor{}, Blobs: map[string][]byte{}, Counters: map[string]int64{}}},
		{"nil blob value", &File{Blobs: map[string][]byte{"rng": nil}}},
		{"zero-size tensors", &File{Tensors: []Tensor{
			{Name: "empty", Shape: []int{0}},
			{Name: "hollow", Shape: []int{2, 0, 3}, Data: []float32{}},
		}}},
		{"special values", &File{Tensors: []Tensor{{
			Name:  "x",
			Shape: []int{2, 3},
			Data: []float32{
				float32(math.Copysign(0, -1)), math.MaxFloat32, -math.MaxFloat32,
				math.SmallestNonzeroFloat32, float32(math.Inf(1)), float32(math.Inf(-1)),
			},
		}}}},
		{"extreme counters", &File{Counters: map[string]int64{"max": math.MaxInt64, "min": math.MinInt64, "zero": 0}}},
		{"long name", &File{Counters: map[string]int64{strings.Repeat("n", MaxNameLen): 1}}},
		{"rank 8", &File{Tensors: []Tensor{sampleTensor("r8", 1, 2, 1, 2, 1, 2, 1, 2)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := normalized(tc.in)
			data := encodeBytes(t, tc.in)
			got, err := Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip mismatch:\n got %+v\nwant %+v", got, want)
			}
			if !sameFloatBits(got, want) {
				t.Fatal("round trip changed float bits")
			}
			if again := encodeBytes(t, got); !bytes.Equal(again, data) {
				t.Fatal("re-encoding the decoded file gave different bytes")
			}
		})
	}
}

// sampleTensor returns a tensor of the given shape with distinct values.
func sampleTensor(name string, shape ...int) Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i) - 0.5
	}
	return Tensor{Name: name, Shape: shape, Data: data}
}

func TestDecodeNeverReturnsNil(t *testing.T) {
	got, err := Decode(bytes.NewReader(encodeBytes(t, &File{Tensors: []Tensor{{Name: "s", Data: []float32{1}}}})))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got.Config == nil || got.Tensors == nil || got.Blobs == nil || got.Counters == nil {
		t.Fatalf("Decode returned a nil field: %#v", got)
	}
	if got.Tensors[0].Shape == nil || got.Tensors[0].Data == nil {
		t.Fatalf("Decode returned a nil shape or data: %#v", got.Tensors[0])
	}
}

func TestEncodeDeterministic(t *testing.T) {
	a := sampleFile(7)
	b := sampleFile(7)
	b.Counters = map[string]int64{}
	for _, k := range []string{"step", "neg", "epoch"} {
		b.Counters[k] = a.Counters[k]
	}
	if !bytes.Equal(encodeBytes(t, a), encodeBytes(t, b)) {
		t.Fatal("equal files encoded to different bytes")
	}
}

func TestTensorLookup(t *testing.T) {
	f := sampleFile(2)
	got, err := f.Tensor("enc.w1")
	if err != nil {
		t.Fatalf("Tensor(enc.w1): %v", err)
	}
	if got != &f.Tensors[2] {
		t.Fatal("Tensor did not return a pointer into f.Tensors")
	}
	for _, tc := range []struct {
		name string
		f    *File
	}{{"missing", f}, {"nil file", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.Tensor("dec.w9")
			if got != nil || !errors.Is(err, ErrNoTensor) {
				t.Fatalf("Tensor(dec.w9) = %v, %v; want nil, ErrNoTensor", got, err)
			}
			if !strings.Contains(err.Error(), `"dec.w9"`) {
				t.Fatalf("error %q does not name the tensor", err)
			}
		})
	}
}

// tensorPayload returns the payload of a file holding one tensor with the
// given name and dimensions followed by values float32 values.
func tensorPayload(name string, dims []uint64, values int) []byte {
	b := (&builder{}).u32(0).u32(0).u32(0).u32(1).name(name).u32(DtypeFloat32).u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	for i := range values {
		b.u32(math.Float32bits(float32(i)))
	}
	return b.b
}

func TestDecodeErrors(t *testing.T) {
	valid := encodeBytes(t, sampleFile(3))
	with := func(edit func(b []byte) []byte) []byte {
		return edit(append([]byte{}, valid...))
	}
	tests := []struct {
		name  string
		input []byte
		want  error
		text  string
	}{
		{"empty", nil, ErrTruncated, ""},
		{"wrong magic", with(func(b []byte) []byte { b[0] = 'X'; return b }), ErrNotCheckpoint, ""},
		{"zip file", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), ErrNotCheckpoint, ""},
		{"short foreign file", []byte("{"), ErrNotCheckpoint, ""},
		{"version 99", with(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 99); return b }), ErrVersion, "found 99, supported 1"},
		{"version 0", with(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 0); return b }), ErrVersion, "found 0"},
		{"payload length over limit", with(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[12:], MaxPayload+1); return b }), ErrCorrupt, "exceeds"},
		{"payload length one too long", with(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[12:], binary.LittleEndian.Uint64(b[12:])+1)
			return b
		}), ErrTruncated, ""},
		{"payload length one too short", with(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[12:], binary.LittleEndian.Uint64(b[12:])-1)
			return b
		}), ErrChecksum, ""},
		{"checksum flipped", with(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrChecksum, ""},
		{"payload flipped", with(func(b []byte) []byte { b[headerSize+5] ^= 0x40; return b }), ErrChecksum, ""},
		{"trailing garbage", with(func(b []byte) []byte { return append(b, 0) }), ErrCorrupt, "trailing"},
		{"empty payload", frame(nil), ErrCorrupt, "config length"},
		{"config longer than payload", frame((&builder{}).u32(math.MaxUint32).b), ErrCorrupt, "config"},
		{"counter count too large", frame((&builder{}).u32(0).u32(math.MaxUint32).b), ErrCorrupt, "4294967295 counters cannot fit"},
		{"blob count too large", frame((&builder{}).u32(0).u32(0).u32(math.MaxUint32).b), ErrCorrupt, "4294967295 blobs cannot fit"},
		{"tensor count too large", frame((&builder{}).u32(0).u32(0).u32(0).u32(math.MaxUint32).b), ErrCorrupt, "4294967295 tensors cannot fit"},
		{"blob longer than payload", frame((&builder{}).u32(0).u32(0).u32(1).name("rng").u32(math.MaxUint32).raw(make([]byte, 8)...).b), ErrCorrupt, "rng"},
		{"empty counter name", frame((&builder{}).u32(0).u32(1).u16(0).u64(1).u32(0).u32(0).b), ErrCorrupt, "empty counter name"},
		{"duplicate counter", frame((&builder{}).u32(0).u32(2).name("step").u64(1).name("step").u64(2).u32(0).u32(0).b), ErrCorrupt, `duplicate counter "step"`},
		{"unsorted blobs", frame((&builder{}).u32(0).u32(0).u32(2).name("z").u32(0).name("a").u32(0).u32(0).b), ErrCorrupt, "out of order"},
		{"empty tensor name", frame(tensorPayload("", []uint64{1}, 1)), ErrCorrupt, "empty tensor name"},
		{"duplicate tensor", frame((&builder{}).u32(0).u32(0).u32(0).u32(2).
			name("w").u32(DtypeFloat32).u32(1).u64(1).u32(0).
			name("w").u32(DtypeFloat32).u32(0).u32(0).b), ErrCorrupt, `duplicate tensor "w"`},
		{"float64 tensor", frame((&builder{}).u32(0).u32(0).u32(0).u32(1).
			name("w").u32(2).u32(1).u64(1).u64(0).b), ErrCorrupt, "dtype 2 is not supported"},
		{"rank 9", frame(tensorPayload("w", []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1}, 1)), ErrCorrupt, "rank 9"},
		{"1e12-element tensor", frame(tensorPayload("w", []uint64{1e6, 1e6}, 4)), ErrCorrupt, "elements exceed"},
		{"huge dimension", frame(tensorPayload("w", []uint64{1e12}, 4)), ErrCorrupt, "dimension 0"},
		{"overflowing shape", frame(tensorPayload("w", []uint64{1 << 28, 1 << 28, 1 << 28, 1 << 28, 1 << 28, 1 << 28, 1 << 28, 1 << 28}, 0)), ErrCorrupt, "overflows"},
		{"data shorter than shape", frame(tensorPayload("w", []uint64{3}, 2)), ErrCorrupt, "data"},
		{"bytes after tensors", frame(tensorPayload("w", []uint64{1}, 2)), ErrCorrupt, "unparsed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode(bytes.NewReader(tc.input))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v; want %v", err, tc.want)
			}
			if f != nil {
				t.Fatalf("Decode returned a file with error %v", err)
			}
			if n := classify(err); n != 1 {
				t.Fatalf("error %v matches %d content sentinels; want 1", err, n)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q does not mention %q", err, tc.text)
			}
		})
	}
}

// TestDecodeCraftedAreWellFormed guards the crafted inputs above: their
// framing must be valid, so only the payload content can be to blame.
func TestDecodeCraftedAreWellFormed(t *testing.T) {
	ok := frame(tensorPayload("w", []uint64{2, 1}, 2))
	if _, err := Decode(bytes.NewReader(ok)); err != nil {
		t.Fatalf("control payload rejected: %v", err)
	}
}

func TestDecodeEveryTruncation(t *testing.T) {
	valid := encodeBytes(t, sampleFile(4))
	for n := range len(valid) {
		f, err := Decode(bytes.NewReader(valid[:n]))
		if !errors.Is(err, ErrTruncated) || f != nil {
			t.Fatalf("Decode of first %d of %d bytes = %v, %v; want ErrTruncated", n, len(valid), f, err)
		}
	}
}

func TestDecodeEveryByteFlip(t *testing.T) {
	valid := encodeBytes(t, sampleFile(5))
	for i := range valid {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte{}, valid...)
			b[i] ^= mask
			f, err := Decode(bytes.NewReader(b))
			if err == nil || f != nil {
				t.Fatalf("flipping byte %d with %#x was not detected", i, mask)
			}
			if classify(err) != 1 {
				t.Fatalf("flipping byte %d: unclassified error %v", i, err)
			}
		}
	}
}

func TestDecodeHostileInputAllocatesLittle(t *testing.T) {
	lyingHeader := frame(nil)[:headerSize]
	binary.LittleEndian.PutUint64(lyingHeader[12:], MaxPayload)
	lyingHeader = append(lyingHeader, make([]byte, 16)...)
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"1e12-element tensor", frame(tensorPayload("w", []uint64{1e6, 1e6}, 0)), ErrCorrupt},
		{"4 GB config", frame((&builder{}).u32(math.MaxUint32).b), ErrCorrupt},
		{"4 billion tensors", frame((&builder{}).u32(0).u32(0).u32(0).u32(math.MaxUint32).b), ErrCorrupt},
		{"2 GiB payload claimed, 16 bytes present", lyingHeader, ErrTruncated},
	}
	const limit = 1 << 20
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = Decode(bytes.NewReader(tc.input))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v; want %v", err, tc.want)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got >= limit {
				t.Fatalf("Decode allocated %d bytes; want < %d", got, limit)
			}
		})
	}
}

// failingWriter accepts n bytes and then fails.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	k := w.n
	w.n = 0
	return k, errDiskFull
}

func TestEncodeFailingWriter(t *testing.T) {
	size := len(encodeBytes(t, sampleFile(6)))
	for k := range size {
		err := Encode(&failingWriter{n: k}, sampleFile(6))
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("Encode into a writer failing after %d of %d bytes = %v; want errDiskFull", k, size, err)
		}
	}
	if err := Encode(&failingWriter{n: size}, sampleFile(6)); err != nil {
		t.Fatalf("Encode into a writer with exactly enough room: %v", err)
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	tests := []struct {
		name string
		f    *File
		text string
	}{
		{"nil file", nil, "nil file"},
		{"duplicate tensor", &File{Tensors: []Tensor{sampleTensor("w", 2), sampleTensor("w", 1)}}, `duplicate tensor "w"`},
		{"empty tensor name", &File{Tensors: []Tensor{sampleTensor("", 1)}}, "empty tensor name"},
		{"empty counter name", &File{Counters: map[string]int64{"": 1}}, "empty counter name"},
		{"empty blob name", &File{Blobs: map[string][]byte{"": {1}}}, "empty blob name"},
		{"name too long", &File{Blobs: map[string][]byte{strings.Repeat("b", MaxNameLen+1): nil}}, "exceeds"},
		{"negative dimension", &File{Tensors: []Tensor{{Name: "w", Shape: []int{-1}}}}, "negative"},
		{"rank 9", &File{Tensors: []Tensor{{Name: "w", Shape: []int{1, 1, 1, 1, 1, 1, 1, 1, 1}, Data: []float32{1}}}}, "rank 9"},
		{"data too short", &File{Tensors: []Tensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3}}}}, "needs 4 values, data has 3"},
		{"scalar without data", &File{Tensors: []Tensor{{Name: "s"}}}, "needs 1 values"},
		{"huge dimension", &File{Tensors: []Tensor{{Name: "w", Shape: []int{0, 1 << 40}}}}, "dimension 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, tc.f)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Encode error = %v; want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q does not mention %q", err, tc.text)
			}
			if buf.Len() != 0 {
				t.Fatalf("Encode wrote %d bytes for an invalid file", buf.Len())
			}
		})
	}
}
