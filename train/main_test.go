package train

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gsvae/data"
)

// rawDir is the folder of the uncompressed copies of the MNIST files that
// rawData writes, removed by TestMain.
var (
	rawOnce sync.Once
	rawDir  string
	rawErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if rawDir != "" {
		os.RemoveAll(rawDir)
	}
	os.Exit(code)
}

// rawData returns a folder holding the MNIST image files of GoMNIST's data
// folder uncompressed, under the names data.Load reads (it accepts raw idx
// files as well as gzip ones). The pixels are the same bytes, so runs on
// it are the runs on GoMNIST's files; a test that runs training many times
// spares itself the 0.4 s of decompression that every data.Load of the
// .gz files costs.
func rawData(t testing.TB) string {
	t.Helper()
	rawOnce.Do(func() {
		src, err := data.FindDir("")
		if err != nil {
			rawErr = err
			return
		}
		dir, err := os.MkdirTemp("", "gsvae-mnist-raw-")
		if err != nil {
			rawErr = err
			return
		}
		rawDir = dir
		for _, name := range []string{"train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"} {
			pix, n, err := data.ReadImagesFile(filepath.Join(src, name))
			if err != nil {
				rawErr = err
				return
			}
			var h [16]byte
			binary.BigEndian.PutUint32(h[0:], 0x803)
			binary.BigEndian.PutUint32(h[4:], uint32(n))
			binary.BigEndian.PutUint32(h[8:], 28)
			binary.BigEndian.PutUint32(h[12:], 28)
			if err := os.WriteFile(filepath.Join(dir, name), append(h[:], pix...), 0o644); err != nil {
				rawErr = err
				return
			}
		}
	})
	if rawErr != nil {
		t.Fatal(fmt.Errorf("uncompressed MNIST copy: %w", rawErr))
	}
	return rawDir
}
