// Package chart draws the line charts of the evaluation reports as PNG
// files, with gonum.org/v1/plot.
package chart

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Series is one line of a chart. A series with one point is drawn as a
// dashed horizontal line across the chart: a quantity that does not depend
// on the x variable, shown for comparison.
type Series struct {
	Name string
	X, Y []float64
}

// Line describes a chart: its title, axis labels, whether the x axis is
// logarithmic, and its series.
type Line struct {
	Title, XLabel, YLabel string
	LogX                  bool
	Series                []Series
}

// Save draws the chart into a 6 x 4 inch PNG (or SVG/PDF, by extension) at
// path. Points whose x or y is not finite (or x <= 0 on a log axis) are
// left out.
func (c Line) Save(path string) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = c.Title, c.XLabel, c.YLabel
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, x := range s.X {
			if len(s.X) > 1 && c.usable(x, 0) {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
		}
	}
	p.Legend.Top = true
	for i, s := range c.Series {
		xy := c.points(s, lo, hi)
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("chart %s: %w", path, err)
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		if len(s.X) == 1 {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			p.Add(l)
			p.Legend.Add(s.Name, l)
			continue
		}
		pts, err := plotter.NewScatter(xy)
		if err != nil {
			return fmt.Errorf("chart %s: %w", path, err)
		}
		pts.Color = l.Color
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
	}
	if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}

// usable reports whether (x, y) can be drawn.
func (c Line) usable(x, y float64) bool {
	ok := !math.IsNaN(x) && !math.IsInf(x, 0) && !math.IsNaN(y) && !math.IsInf(y, 0)
	return ok && (!c.LogX || x > 0)
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
