package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// Layout of the grid, in pixels.
const (
	side = 28 // an MNIST image is side x side
	gap  = 2  // grey border between tiles
)

// grid lays out n 28x28 images in a near-square arrangement of cols
// columns. With layers = 2 every row of tiles becomes a pair of rows: the
// originals, then the reconstructions below them.
type grid struct {
	img          *image.Gray
	cols, layers int
}

func newGrid(n, layers int) *grid {
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	if layers > 1 {
		cols = int(math.Ceil(math.Sqrt(2 * float64(n))))
	}
	return newGridOf(n, cols, layers)
}

// newGridCols lays out n images in rows of cols.
func newGridCols(n, cols int) *grid { return newGridOf(n, cols, 1) }

func newGridOf(n, cols, layers int) *grid {
	rows := (n + cols - 1) / cols * layers
	img := image.NewGray(image.Rect(0, 0, gap+cols*(side+gap), gap+rows*(side+gap)))
	for i := range img.Pix {
		img.Pix[i] = 96
	}
	return &grid{img: img, cols: cols, layers: layers}
}

// put draws image i of layer l, pixel values in [0,1].
func (g *grid) put(i, l int, pix []float64) {
	row := (i/g.cols)*g.layers + l
	x0, y0 := gap+(i%g.cols)*(side+gap), gap+row*(side+gap)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			v := math.Min(math.Max(pix[y*side+x], 0), 1)
			g.img.SetGray(x0+x, y0+y, color.Gray{Y: uint8(math.Round(255 * v))})
		}
	}
}

// writePNG writes the grid to path through a temporary file, so a failed
// write never leaves a half-written image.
func (g *grid) writePNG(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := png.Encode(tmp, g.img); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
