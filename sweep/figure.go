package sweep

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// estimatorColors has one colour per estimator of Estimators, in order
// (Tableau 10's first eight, as internal/chart).
var estimatorColors = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
	color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255},
}

// rowShapes has one marker shape per row, in grid order.
var rowShapes = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{},
	draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

// errPoints are points with symmetric y error bars.
type errPoints struct {
	xy plotter.XYs
	se []float64
}

func (p errPoints) Len() int                        { return len(p.xy) }
func (p errPoints) XY(i int) (float64, float64)     { return p.xy[i].X, p.xy[i].Y }
func (p errPoints) YError(i int) (float64, float64) { return p.se[i], p.se[i] }

// Figure draws every chosen cell that the paper has a number for as a
// point: x the paper's Table 1 number, y ours with its standard error;
// colour by estimator, shape by row, and the line y = x on which ours
// equals the paper's. It writes a 7 x 5 inch PNG to path.
func (rep Report) Figure(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Table 1, grid %s: ours against Jang et al. (2017)", rep.Grid.Name)
	p.X.Label.Text = "paper: test -log p(x) bound (nats)"
	p.Y.Label.Text = "ours: test -L_k (nats), ± s.e."
	rows, _ := rep.rows()
	shape := map[Row]draw.GlyphDrawer{}
	for i, row := range rows {
		shape[row] = rowShapes[i%len(rowShapes)]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, e := range Estimators {
		var pts errPoints
		var shapes []draw.GlyphDrawer
		for _, ch := range rep.Choices {
			if ch.Estimator != e || ch.Best == nil || !ch.Best.Bounded() || !ch.HasPaper {
				continue
			}
			t := ch.Best.Test
			pts.xy = append(pts.xy, plotter.XY{X: ch.Paper, Y: t.NegIWBound})
			pts.se = append(pts.se, t.NegIWBoundSE)
			shapes = append(shapes, shape[ch.Row])
			lo, hi = math.Min(lo, math.Min(ch.Paper, t.NegIWBound)), math.Max(hi, math.Max(ch.Paper, t.NegIWBound))
		}
		if len(pts.xy) == 0 {
			continue
		}
		col := estimatorColors[i%len(estimatorColors)]
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("figure %s: %w", path, err)
		}
		s.GlyphStyleFunc = func(j int) draw.GlyphStyle {
			return draw.GlyphStyle{Color: col, Radius: vg.Points(4), Shape: shapes[j]}
		}
		bars, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return fmt.Errorf("figure %s: %w", path, err)
		}
		bars.Color = col
		p.Add(bars, s)
		p.Legend.Add(e, &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: col, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}})
	}
	for _, row := range rows {
		p.Legend.Add(row.String(), &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: shape[row]}})
	}
	if math.IsInf(lo, 0) { // nothing finished yet: the line alone
		lo, hi = 50, 130
	}
	pad := math.Max(1, 0.05*(hi-lo))
	diag := plotter.NewFunction(func(x float64) float64 { return x })
	diag.XMin, diag.XMax = lo-pad, hi+pad
	diag.Color = color.Gray{Y: 128}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	p.Legend.Add("ours = paper", diag)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo-pad, hi+pad, lo-pad, hi+pad
	p.Legend.Top, p.Legend.Left = false, false
	if err := p.Save(7*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("figure %s: %w", path, err)
	}
	return nil
}
