// Package chart draws the line charts of the evaluation reports as PNG
// files, with gonum.org/v1/plot.
package chart

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// palette has one distinct colour per estimator (Tableau 10's first eight).
var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
	color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255},
}

// maxMarked is the most points a series can have and still get a marker at
// each: longer ones are curves, where markers only clutter.
const maxMarked = 30

// Size of the image, and of the legend strip at its right.
const (
	width       = 7 * vg.Inch
	height      = 4 * vg.Inch
	legendWidth = 1.4 * vg.Inch
)

// Series is one line of a chart. A series with one point is drawn as a
// dashed horizontal line across the chart: a quantity that does not depend
// on the x variable, shown for comparison.
type Series struct {
	Name string
	X, Y []float64
}

// Line describes a chart: its title, axis labels, which axes are
// logarithmic, and its series.
type Line struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
}

// Save draws the chart into a 7 x 4 inch PNG at path, the legend in a
// strip at the right. On a log x axis the ticks are the data's x values.
// Points whose x or y is not finite (or not positive on a log axis) are
// left out; a chart with no point left (every series one point, say) keeps
// linear axes.
func (c Line) Save(path string) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = c.Title, c.XLabel, c.YLabel
	lo, hi := math.Inf(1), math.Inf(-1)
	var xs []float64
	for _, s := range c.Series {
		for i, x := range s.X {
			if len(s.X) > 1 && c.usable(x, s.Y[i]) {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
				xs = append(xs, x)
			}
		}
	}
	// A log axis needs a positive range, which only drawn points give:
	// without, gonum's log scale panics.
	if c.LogX && len(xs) > 0 {
		p.X.Scale = plot.LogScale{}
		slices.Sort(xs)
		var ticks []plot.Tick
		for _, x := range slices.Compact(xs) {
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', 3, 64)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	if c.LogY && len(xs) > 0 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{}
	}
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	for i, s := range c.Series {
		xy := c.points(s, lo, hi)
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("chart %s: %w", path, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		if len(s.X) == 1 {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			p.Add(l)
			legend.Add(s.Name, l)
			continue
		}
		if len(xy) > maxMarked {
			p.Add(l)
			legend.Add(s.Name, l)
			continue
		}
		pts, err := plotter.NewScatter(xy)
		if err != nil {
			return fmt.Errorf("chart %s: %w", path, err)
		}
		pts.Color = l.Color
		p.Add(l, pts)
		legend.Add(s.Name, l, pts)
	}
	img := vgimg.New(width, height)
	dc := draw.New(img)
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	legend.Draw(draw.Crop(dc, width-legendWidth+vg.Points(8), 0, 0, -vg.Points(8)))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}

// usable reports whether (x, y) can be drawn.
func (c Line) usable(x, y float64) bool {
	ok := !math.IsNaN(x) && !math.IsInf(x, 0) && !math.IsNaN(y) && !math.IsInf(y, 0)
	return ok && (!c.LogX || x > 0) && (!c.LogY || y > 0)
}

// points returns the drawable points of s; a one-point series spans
// [lo, hi], the x range of the others.
func (c Line) points(s Series, lo, hi float64) plotter.XYs {
	if len(s.X) == 1 {
		if !c.usable(lo, s.Y[0]) || !c.usable(hi, s.Y[0]) {
			return nil
		}
		return plotter.XYs{{X: lo, Y: s.Y[0]}, {X: hi, Y: s.Y[0]}}
	}
	var xy plotter.XYs
	for i := range s.X {
		if c.usable(s.X[i], s.Y[i]) {
			xy = append(xy, plotter.XY{X: s.X[i], Y: s.Y[i]})
		}
	}
	return xy
}
