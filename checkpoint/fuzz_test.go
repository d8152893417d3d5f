package checkpoint

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// FuzzDecode feeds Decode arbitrary bytes, both as a whole file and framed
// with a valid header and checksum so that mutations reach the payload parser.
func FuzzDecode(f *testing.F) {
	valid := encodeBytes(f, sampleFile(1))
	small := encodeBytes(f, &File{
		Config:   []byte(`{}`),
		Tensors:  []Tensor{sampleTensor("w", 2, 1)},
		Blobs:    map[string][]byte{"r": {7}},
		Counters: map[string]int64{"s": 1},
	})
	random := make([]byte, 64)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	f.Add(valid)
	f.Add(small)
	f.Add(small[:len(small)/2])
	f.Add(encodeBytes(f, &File{}))
	f.Add(random)
	f.Add(append([]byte(Magic), random...))
	f.Add(frame(tensorPayload("w", []uint64{1e6, 1e6}, 0)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		checkDecode(t, frame(data))
	})
}

// checkDecode asserts Decode's contract on one input: it fails with exactly
// one content sentinel, or it succeeds and re-encoding reproduces the input
// and decodes to an equal File.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	got, err := Decode(bytes.NewReader(data))
	if err != nil {
		if got != nil {
			t.Fatalf("Decode returned a file with error %v", err)
		}
		if n := classify(err); n != 1 {
			t.Fatalf("error %v matches %d content sentinels; want 1", err, n)
		}
		return
	}
	var buf bytes.Buffer
	if err := Encode(&buf, got); err != nil {
		t.Fatalf("Encode of a decoded file: %v", err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatal("re-encoding a decoded file changed its bytes")
	}
	again, err := Decode(&buf)
	if err != nil {
		t.Fatalf("Decode of a re-encoded file: %v", err)
	}
	if !sameFloatBits(got, again) {
		t.Fatal("second decode changed float bits")
	}
	for i := range got.Tensors {
		got.Tensors[i].Data, again.Tensors[i].Data = nil, nil
	}
	if !reflect.DeepEqual(got, again) {
		t.Fatalf("second decode differs:\n got %+v\nwant %+v", again, got)
	}
}
