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

// intensity maps a pixel byte to its grey level byte/255 in [0,1].
var intensity = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// ReadImages reads an idx3 image file from r: a big-endian header (magic
// 0x00000803, count, rows, cols) then count*rows*cols pixel bytes. It
// returns the images as float32 intensities byte/255 in [0,1], row-major,
// one row of Pixels values per image, and the image count.
//
// The input is untrusted: ReadImages refuses a bad magic, an image size
// other than Pixels, a count above 1,000,000 and a truncated body, each
// with a precise error, and never panics. The body is read incrementally,
// so memory grows with the bytes actually received rather than with the
// declared size; trailing bytes after the body are left unread.
func ReadImages(r io.Reader) ([]float32, int, error) {
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
	if count > maxImages {
		return nil, 0, fmt.Errorf("idx: count %d exceeds the limit of %d images", count, maxImages)
	}
	want := int(count) * Pixels
	chunks, got, err := readChunks(r, want)
	if err != nil {
		return nil, 0, fmt.Errorf("idx: read pixels: %w", err)
	}
	if got != want {
		return nil, 0, fmt.Errorf("idx: truncated: want %d bytes of pixels, got %d", want, got)
	}
	pix := make([]float32, 0, want)
	for _, c := range chunks {
		for _, b := range c {
			pix = append(pix, intensity[b])
		}
	}
	return pix, int(count), nil
}

// readChunks reads up to want bytes from r into chunks of at most
// chunkLen bytes, allocating each chunk only when the previous one is full,
// so memory follows the bytes received whatever want claims, and no byte
// is copied twice. It returns the chunks and their total length, which is
// less than want only if r ended early.
func readChunks(r io.Reader, want int) (chunks [][]byte, got int, err error) {
	const chunkLen = 256 << 10
	for got < want {
		c := make([]byte, min(chunkLen, want-got))
		n, err := io.ReadFull(r, c)
		got += n
		if n > 0 {
			chunks = append(chunks, c[:n])
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, got, err
		}
	}
	return chunks, got, nil
}

// ReadImagesFile opens an idx3 image file, gzip-compressed (detected by
// its magic bytes, as the MNIST .gz files are) or raw, and decodes it with
// ReadImages. For gzip input the rest of the stream is read too, so that
// a corrupt file fails its checksum instead of passing silently. Errors
// wrap the path.
func ReadImagesFile(path string) ([]float32, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	pix, n, err := readMaybeGzip(bufio.NewReader(f))
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return pix, n, nil
}

// readMaybeGzip decodes an idx3 stream that may be gzip-compressed.
func readMaybeGzip(br *bufio.Reader) ([]float32, int, error) {
	head, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	if len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
		return ReadImages(br)
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress: %w", err)
	}
	pix, n, err := ReadImages(zr)
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
