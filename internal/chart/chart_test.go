package chart

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestSave draws a log-x chart with a line, a one-point (horizontal) series
// and a series whose every point is unusable, and checks that the PNG
// decodes at 6 x 4 inches at plot's default 96 dpi.
func TestSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.png")
	c := Line{
		Title: "t", XLabel: "tau", YLabel: "log10 var", LogX: true,
		Series: []Series{
			{Name: "gs", X: []float64{0.1, 0.5, 2}, Y: []float64{1, 0, -1}},
			{Name: "sf", X: []float64{0}, Y: []float64{0.5}},
			{Name: "bad", X: []float64{-1, math.NaN()}, Y: []float64{1, 2}},
		},
	}
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 672 || b.Dy() != 384 {
		t.Errorf("image %v, want 672 x 384", b)
	}
}
