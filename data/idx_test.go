package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
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
		// Load's path: the declared count is accepted, any other refused.
		if _, m, err := readImages(bytes.NewReader(in), n); err != nil || m != n {
			t.Fatalf("expecting the declared %d images: got %d, error %v", n, m, err)
		}
		if pix, m, err := readImages(bytes.NewReader(in), n+1); err == nil || pix != nil || m != 0 {
			t.Fatalf("expecting %d images of a file declaring %d: got %d, error %v", n+1, n, m, err)
		}
	})
}

// allocated returns the bytes the heap allocated while f ran
// (runtime.MemStats.TotalAlloc), the least of three runs, so that an
// allocation by another goroutine during one run does not count.
func allocated(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// zerosGzip returns a gzip-compressed idx3 stream whose header declares
// count images followed by body zero bytes (a valid file if body is
// count*Pixels, else a truncated or hostile one): about body/1000 bytes of
// file, deflate's ratio on zeros.
func zerosGzip(t *testing.T, count uint32, body int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(idx3(idx3Magic, count, 28, 28, nil)); err != nil {
		t.Fatalf("gzip write: %v", err)
	}
	zeros := make([]byte, 64<<10)
	for left := body; left > 0; left -= len(zeros) {
		if _, err := zw.Write(zeros[:min(left, len(zeros))]); err != nil {
			t.Fatalf("gzip write: %v", err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("gzip close: %v", err)
	}
	return buf.Bytes()
}

// TestReadImagesWantCount checks that a caller that knows the count
// (Load) gets a header declaring another one refused before the body: the
// stream fails every read after the header, so reading any of the body
// would report errBroken instead.
func TestReadImagesWantCount(t *testing.T) {
	tests := []struct {
		name    string
		count   uint32
		want    int
		wantErr string // "" when the count matches
	}{
		{"matches", 3, 3, ""},
		{"zero matches", 0, 0, ""},
		{"1e6 for MNIST train", 1_000_000, 60_000, "header declares 1000000 images, MNIST has 60000"},
		{"one more for MNIST test", 10_001, 10_000, "header declares 10001 images, MNIST has 10000"},
		{"one fewer", 59_999, 60_000, "header declares 59999 images, MNIST has 60000"},
		{"max uint32", 0xffffffff, 60_000, "header declares 4294967295 images, MNIST has 60000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := io.MultiReader(bytes.NewReader(idx3(idx3Magic, tt.count, 28, 28, pixelBytes(int(min(tt.count, 3))))), errReader{})
			pix, n, err := readImages(in, tt.want)
			if tt.wantErr == "" {
				if err != nil || n != tt.want || len(pix) != n*Pixels {
					t.Fatalf("got %d images, %d bytes, error %v; want %d images", n, len(pix), err, tt.want)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if pix != nil || n != 0 {
				t.Errorf("on error got %d values and count %d, want nil and 0", len(pix), n)
			}
		})
	}
}

// TestReadImagesFileHostileCount writes a small gzip file whose header
// claims 1,000,000 images over 16 MiB of zeros (about 16 KB on disk), the
// shape of the file that made `train -data DIR` grow to 1.8 GB, and checks
// that reading it as an MNIST file (Load's path) is refused, naming the
// file and both counts, without allocating in proportion to what the
// header claims or to what the body decompresses to.
//
// The bound, 4*size + 64 KiB (about 128 KiB for this 16 KB file):
// refusing reads the 16-byte header only, through a 4 KiB bufio.Reader and
// a gzip reader whose state is dominated by compress/flate's 32 KiB window
// plus a few KiB of Huffman tables; with os.Open's bookkeeping and the
// error strings that came to 45,848 bytes when this test was written
// (go1.26, linux/amd64; the test logs it), under the 64 KiB constant
// alone. Reading the body instead allocates at least the 16 MiB present
// (readBody's doubling makes it 64 MiB), and a buffer of the declared size
// 784 MB: both fail by orders of magnitude.
func TestReadImagesFileHostileCount(t *testing.T) {
	const body = 16 << 20
	gz := zerosGzip(t, 1_000_000, body)
	dir := t.TempDir()
	path := filepath.Join(dir, trainFile)
	if err := os.WriteFile(path, gz, 0o644); err != nil {
		t.Fatal(err)
	}
	limit := uint64(4*len(gz) + 64<<10)
	tests := []struct {
		name    string
		read    func() error
		wantErr string
	}{
		{"readImagesFile", func() error {
			_, _, err := readImagesFile(path, trainFileImages)
			return err
		}, "read " + path + ": header declares 1000000 images, MNIST has 60000"},
		{"Load", func() error {
			_, _, _, err := Load(dir, 0)
			return err
		}, "read " + path + ": header declares 1000000 images, MNIST has 60000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			got := allocated(func() { err = tt.read() })
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			t.Logf("refusing a %d-byte file declaring 1e6 images over %d bytes allocated %d bytes", len(gz), body, got)
			if got > limit {
				t.Errorf("refusing a %d-byte file allocated %d bytes, want at most 4*size + 64 KiB = %d", len(gz), got, limit)
			}
		})
	}
}

// TestReadImagesAllocFollowsBytes checks that without an expected count
// memory follows the bytes present, not the count declared: a header
// claiming 1,000,000 images (784,000,000 bytes) over b bytes of body.
//
// The bound, from readBody: its buffer starts at firstLen = 256 KiB and
// doubles only when full, so the buffers allocated are firstLen*2^i up to
// the first one that holds b+1 bytes, which is at most 2*max(b, firstLen);
// their sum is less than twice the last, so at most 4*max(b, firstLen).
// 64 KiB more covers the error and the reader.
func TestReadImagesAllocFollowsBytes(t *testing.T) {
	const firstLen = 256 << 10
	for _, b := range []int{0, 100_000, 1_000_000, 3_000_000} {
		in := idx3(idx3Magic, 1_000_000, 28, 28, make([]byte, b))
		var err error
		got := allocated(func() { _, _, err = ReadImages(bytes.NewReader(in)) })
		if want := fmt.Sprintf("idx: truncated: want 784000000 bytes of pixels, got %d", b); err == nil || err.Error() != want {
			t.Errorf("body of %d bytes: error %v, want %q", b, err, want)
		}
		if limit := uint64(4*max(b, firstLen) + 64<<10); got > limit {
			t.Errorf("body of %d bytes: allocated %d bytes, want at most 4*max(b, 256 KiB) + 64 KiB = %d", b, got, limit)
		}
	}
}
