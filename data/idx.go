package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	// idx3Magic is the magic number of an idx file of unsigned bytes with
	// three dimensions (count, rows, cols).
	idx3Magic = 0x00000803
	// maxImages bounds the declared image count, so a hostile header
	// cannot make ReadImages accept an absurd size.
	maxImages = 1_000_000
	// headerLen is the size of the idx3 header: magic, count, rows, cols.
	headerLen = 16
)

// intensity maps a pixel byte v to its grey level float32(v)/255 in
// [0,1]. Every conversion of a stored byte to a probability goes through
// this table, so the binarizations compare against exactly the same
// float32 values whatever the caller.
var intensity = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// ReadImages reads an idx3 image file from r: a big-endian header (magic
// 0x00000803, count, rows, cols) then count*rows*cols pixel bytes. It
// returns the raw pixel bytes (grey levels 0..255; the intensity in [0,1]
// is byte/255), row-major, one row of Pixels bytes per image, and the image
// count.
//
// The input is untrusted: ReadImages refuses a bad magic, an image size
// other than Pixels, a count above 1,000,000 and a truncated body, each
// with a precise error, and never panics. The body is read incrementally
// into a buffer that at most doubles as bytes arrive, so memory grows with
// the bytes actually received rather than with the declared size; trailing
// bytes after the body are left unread. Those bytes may still be many: a
// header claiming 1,000,000 images over a 1 MB gzip body of zeros makes
// ReadImagesFile decompress and keep 784 MB. Load, which knows MNIST's
// counts, refuses a header declaring another count before reading the body.
func ReadImages(r io.Reader) ([]uint8, int, error) {
	return readImages(r, -1)
}

// readImages is ReadImages with an expected count: if want >= 0, a header
// declaring any other count is refused before a byte of the body is read,
// so refusing it costs no memory whatever the header claims.
func readImages(r io.Reader, want int) ([]uint8, int, error) {
	var h [headerLen]byte
	if n, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, fmt.Errorf("idx: truncated: want %d bytes of header, got %d", headerLen, n)
		}
		return nil, 0, fmt.Errorf("idx: read header: %w", err)
	}
	magic := binary.BigEndian.Uint32(h[0:])
	count := binary.BigEndian.Uint32(h[4:])
	rows := binary.BigEndian.Uint32(h[8:])
	cols := binary.BigEndian.Uint32(h[12:])
	if magic != idx3Magic {
		return nil, 0, fmt.Errorf("idx: bad magic 0x%08x, want 0x%08x (idx3 unsigned bytes)", magic, idx3Magic)
	}
	if uint64(rows)*uint64(cols) != Pixels {
		return nil, 0, fmt.Errorf("idx: images are %dx%d, want %d pixels (28x28)", rows, cols, Pixels)
	}
	if want >= 0 && uint64(count) != uint64(want) {
		return nil, 0, fmt.Errorf("header declares %d images, MNIST has %d", count, want)
	}
	if count > maxImages {
		return nil, 0, fmt.Errorf("idx: count %d exceeds the limit of %d images", count, maxImages)
	}
	size := int(count) * Pixels
	pix, err := readBody(r, size)
	if err != nil {
		return nil, 0, fmt.Errorf("idx: read pixels: %w", err)
	}
	if len(pix) != size {
		return nil, 0, fmt.Errorf("idx: truncated: want %d bytes of pixels, got %d", size, len(pix))
	}
	return pix, int(count), nil
}

// readBody reads up to want bytes from r. It starts with a buffer of at
// most firstLen bytes and doubles it (never beyond want) only when it is
// full, so memory follows the bytes received whatever want claims: the
// buffer is never more than twice the bytes read so far (or firstLen). On
// success the result has len and cap exactly want; it is shorter only if
// r ended early.
func readBody(r io.Reader, want int) ([]byte, error) {
	const firstLen = 256 << 10
	buf := make([]byte, 0, min(want, firstLen))
	for len(buf) < want {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(want, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// ReadImagesFile opens an idx3 image file, gzip-compressed (detected by
// its magic bytes, as the MNIST .gz files are) or raw, and decodes it with
// ReadImages, returning its raw pixel bytes. For gzip input the rest of the stream is read too, so that
// a corrupt file fails its checksum instead of passing silently. Errors
// wrap the path.
func ReadImagesFile(path string) ([]uint8, int, error) {
	return readImagesFile(path, -1)
}

// readImagesFile is ReadImagesFile with an expected count (see readImages;
// want < 0 accepts any count).
func readImagesFile(path string, want int) ([]uint8, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	pix, n, err := readMaybeGzip(bufio.NewReader(f), want)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return pix, n, nil
}

// readMaybeGzip decodes an idx3 stream that may be gzip-compressed,
// holding want images if want >= 0.
func readMaybeGzip(br *bufio.Reader, want int) ([]uint8, int, error) {
	head, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	if len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
		return readImages(br, want)
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress: %w", err)
	}
	pix, n, err := readImages(zr, want)
	if err != nil {
		return nil, 0, err
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, 0, fmt.Errorf("decompress: %w", err)
	}
	if err := zr.Close(); err != nil {
		return nil, 0, fmt.Errorf("decompress: %w", err)
	}
	return pix, n, nil
}
