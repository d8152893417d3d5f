package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idx3 builds an idx3 stream with the given header fields and body.
func idx3(magic, count, rows, cols uint32, body []byte) []byte {
	var b bytes.Buffer
	for _, v := range []uint32{magic, count, rows, cols} {
		if err := binary.Write(&b, binary.BigEndian, v); err != nil {
			panic(err)
		}
	}
	b.Write(body)
	return b.Bytes()
}

// pixelBytes returns n images of distinct, recognisable pixel bytes,
// including 0 and 255.
func pixelBytes(n int) []byte {
	body := make([]byte, n*Pixels)
	for i := range body {
		body[i] = byte(i*7 + i/Pixels)
	}
	return body
}

func TestReadImagesValid(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		n     int
	}{
		{"three images", idx3(idx3Magic, 3, 28, 28, pixelBytes(3)), 3},
		{"zero images", idx3(idx3Magic, 0, 28, 28, nil), 0},
		{"trailing bytes ignored", idx3(idx3Magic, 2, 28, 28, append(pixelBytes(2), 1, 2, 3)), 2},
		{"784x1 images", idx3(idx3Magic, 1, 784, 1, pixelBytes(1)), 1},
		{"buffer grows several times", idx3(idx3Magic, 1000, 28, 28, pixelBytes(1000)), 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pix, n, err := ReadImages(bytes.NewReader(tt.input))
			if err != nil {
				t.Fatalf("ReadImages: %v", err)
			}
			if n != tt.n {
				t.Fatalf("count = %d, want %d", n, tt.n)
			}
			if len(pix) != tt.n*Pixels || cap(pix) != len(pix) {
				t.Fatalf("len(pix) = %d, cap %d, want both %d", len(pix), cap(pix), tt.n*Pixels)
			}
			if body := tt.input[headerLen:]; !bytes.Equal(pix, body[:len(pix)]) {
				t.Fatal("pixels differ from the bytes of the body")
			}
		})
	}
}

func TestReadImagesExtremes(t *testing.T) {
	body := make([]byte, Pixels)
	body[1] = 255
	pix, _, err := ReadImages(bytes.NewReader(idx3(idx3Magic, 1, 28, 28, body)))
	if err != nil {
		t.Fatalf("ReadImages: %v", err)
	}
	if p0, p1 := intensity[pix[0]], intensity[pix[1]]; p0 != 0 || p1 != 1 {
		t.Errorf("bytes 0 and 255 gave intensities %v and %v, want exactly 0 and 1", p0, p1)
	}
}

// TestIntensityTable pins the byte-to-intensity map to float32(v)/255, the
// value the float32 pipeline stored, which the binarizations compare with.
func TestIntensityTable(t *testing.T) {
	for v := range 256 {
		if want := float32(v) / 255; intensity[v] != want {
			t.Errorf("intensity[%d] = %v, want float32(%d)/255 = %v", v, intensity[v], v, want)
		}
	}
}

// errReader fails every read with errBroken.
type errReader struct{}

var errBroken = errors.New("broken pipe")

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestReadImagesErrors(t *testing.T) {
	good := idx3(idx3Magic, 3, 28, 28, pixelBytes(3))
	tests := []struct {
		name    string
		input   []byte
		wantErr string
	}{
		{"empty", nil, "idx: truncated: want 16 bytes of header, got 0"},
		{"short header", good[:10], "idx: truncated: want 16 bytes of header, got 10"},
		{"bad magic", idx3(0x00000801, 3, 28, 28, pixelBytes(3)), "idx: bad magic 0x00000801"},
		{"gzip magic", append([]byte{0x1f, 0x8b}, good[2:]...), "idx: bad magic 0x1f8b0803"},
		{"wrong cols", idx3(idx3Magic, 3, 28, 27, pixelBytes(3)), "idx: images are 28x27, want 784 pixels"},
		{"rows*cols overflows uint32", idx3(idx3Magic, 1, 1<<16, 1<<16, nil), "idx: images are 65536x65536"},
		{"zero size", idx3(idx3Magic, 1, 0, 0, nil), "idx: images are 0x0"},
		{"huge count", idx3(idx3Magic, 1_000_001, 28, 28, nil), "idx: count 1000001 exceeds the limit of 1000000 images"},
		{"max count, no body", idx3(idx3Magic, 0xffffffff, 28, 28, nil), "idx: count 4294967295 exceeds"},
		{"truncated body", good[:headerLen+100], "idx: truncated: want 2352 bytes of pixels, got 100"},
		{"one byte short", good[:len(good)-1], "idx: truncated: want 2352 bytes of pixels, got 2351"},
		{"declared 1e6, no body", idx3(idx3Magic, 1_000_000, 28, 28, nil), "idx: truncated: want 784000000 bytes of pixels, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pix, n, err := ReadImages(bytes.NewReader(tt.input))
			if err == nil {
				t.Fatalf("ReadImages succeeded with %d images, want error %q", n, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if pix != nil || n != 0 {
				t.Errorf("on error got %d values and count %d, want nil and 0", len(pix), n)
			}
		})
	}
}

func TestReadImagesReaderError(t *testing.T) {
	tests := []struct {
		name   string
		prefix []byte
	}{
		{"in header", nil},
		{"in body", idx3(idx3Magic, 1, 28, 28, []byte{1, 2, 3})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadImages(io.MultiReader(bytes.NewReader(tt.prefix), errReader{}))
			if !errors.Is(err, errBroken) {
				t.Fatalf("error %v, want it to wrap %v", err, errBroken)
			}
		})
	}
}

// gzipBytes compresses b.
func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatalf("gzip write: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("gzip close: %v", err)
	}
	return buf.Bytes()
}

func TestReadImagesFile(t *testing.T) {
	raw := idx3(idx3Magic, 2, 28, 28, pixelBytes(2))
	gz := gzipBytes(t, raw)
	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-5] ^= 0xff // last byte of the CRC-32 in the trailer
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte // nil: do not create the file
		wantErr string
	}{
		{"raw", raw, ""},
		{"gzip", gz, ""},
		{"missing", nil, "no such file"},
		{"empty", []byte{}, "idx: truncated: want 16 bytes of header, got 0"},
		{"gzip bad header", append([]byte{0x1f, 0x8b, 0}, raw...), "decompress: gzip: invalid header"},
		{"gzip bad checksum", badCRC, "decompress: gzip: invalid checksum"},
		{"gzip truncated in body", gz[:len(gz)/2], "idx: truncated: want 1568 bytes of pixels, got"},
		{"gzip truncated trailer", gz[:len(gz)-4], "decompress: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pix, n, err := ReadImagesFile(path)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ReadImagesFile succeeded, want error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Errorf("error %q, want it to contain %q and the path", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadImagesFile: %v", err)
			}
			want, _, err := ReadImages(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 || !bytes.Equal(pix, want) {
				t.Errorf("got %d images differing from the in-memory decode, want 2 identical", n)
			}
		})
	}
}

// toFloats converts bytes to float32, as Batches.Next does.
func toFloats(b []uint8) []float32 {
	f := make([]float32, len(b))
	for i, v := range b {
		f[i] = float32(v)
	}
	return f
}

// equalFloats reports whether a and b hold exactly the same values.
func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzReadImages(f *testing.F) {
	good := idx3(idx3Magic, 2, 28, 28, pixelBytes(2))
	f.Add(good)
	f.Add(good[:headerLen+10])
	f.Add(good[:7])
	f.Add(idx3(0x00000801, 2, 28, 28, pixelBytes(2)))
	f.Add(idx3(idx3Magic, 1_000_000, 28, 28, nil))
	f.Add(idx3(idx3Magic, 1, 1<<16, 1<<16, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		pix, n, err := ReadImages(bytes.NewReader(in))
		if err != nil {
			if pix != nil || n != 0 {
				t.Fatalf("error %v with %d values and count %d, want nil and 0", err, len(pix), n)
			}
			return
		}
		if n < 0 || n > maxImages || len(pix) != n*Pixels {
			t.Fatalf("count %d with %d values, want 0 <= count <= %d and count*%d values", n, len(pix), maxImages, Pixels)
		}
		if len(in) < headerLen+len(pix) {
			t.Fatalf("decoded %d pixels from %d input bytes", len(pix), len(in))
		}
		if !bytes.Equal(pix, in[headerLen:headerLen+len(pix)]) {
			t.Fatal("pixels differ from the input bytes after the header")
		}
	})
}
