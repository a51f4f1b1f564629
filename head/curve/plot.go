package curve

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	trainColor = color.RGBA{R: 31, G: 119, B: 180, A: 255} // blue
	valColor   = color.RGBA{R: 214, G: 39, B: 40, A: 255}  // red
	bestColor  = color.RGBA{R: 90, G: 90, B: 90, A: 255}
)

// WritePNG draws the curves to a PNG file, atomically.
func (h *History) WritePNG(path, title string) error {
	return atomicfile.Write(path, func(w io.Writer) error { return h.PNG(w, title) })
}

// PNG draws two panels side by side, loss and metric against the epoch,
// training in blue and validation in red, with a dashed line at the
// epoch whose weights were kept.
func (h *History) PNG(w io.Writer, title string) error {
	if len(h.Points) == 0 {
		return errors.New("no curve points to draw")
	}
	if err := h.Validate(); err != nil {
		return err
	}
	loss, err := h.panel(title+": loss", "loss (cross-entropy)", true,
		func(p Point) float64 { return p.TrainLoss }, func(p Point) float64 { return p.ValLoss })
	if err != nil {
		return err
	}
	metric, err := h.panel(title+": "+h.Metric, h.Metric, false,
		func(p Point) float64 { return p.TrainMetric }, func(p Point) float64 { return p.ValMetric })
	if err != nil {
		return err
	}
	img := vgimg.NewWith(vgimg.UseWH(11*vg.Inch, 4.5*vg.Inch), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 4}
	canvases := plot.Align([][]*plot.Plot{{loss, metric}}, tiles, dc)
	loss.Draw(canvases[0][0])
	metric.Draw(canvases[0][1])
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// panel draws one quantity. Losses fall, so their legend goes top right
// over head room added above the lines; metrics rise, so theirs goes
// bottom right over room added below.
func (h *History) panel(title, ylabel string, legendTop bool, train, val func(Point) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = h.step()
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = legendTop
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(6)
	lo, hi := math.Inf(1), math.Inf(-1)
	series := func(name string, f func(Point) float64, c color.Color) error {
		xy := make(plotter.XYs, len(h.Points))
		for i, pt := range h.Points {
			xy[i].X, xy[i].Y = float64(pt.Epoch), f(pt)
			lo, hi = min(lo, xy[i].Y), max(hi, xy[i].Y)
		}
		line, points, err := plotterLinePoints(xy)
		if err != nil {
			return err
		}
		line.Color, points.Color = c, c
		line.Width = vg.Points(2)
		if len(xy) > 60 { // markers would hide the line
			p.Add(line)
			p.Legend.Add(name, line)
			return nil
		}
		p.Add(line, points)
		p.Legend.Add(name, line, points)
		return nil
	}
	if err := series("training", train, trainColor); err != nil {
		return nil, err
	}
	if h.Validation {
		if err := series("validation", val, valColor); err != nil {
			return nil, err
		}
	}
	if lo < hi {
		room := 0.3 * (hi - lo)
		if legendTop {
			p.Y.Min, p.Y.Max = lo, hi+room
		} else {
			p.Y.Min, p.Y.Max = lo-room, hi
		}
	}
	if h.Best > 0 && lo < hi {
		best, err := plotter.NewLine(plotter.XYs{{X: float64(h.Best), Y: p.Y.Min}, {X: float64(h.Best), Y: p.Y.Max}})
		if err != nil {
			return nil, err
		}
		best.Color = bestColor
		best.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
		p.Add(best)
		p.Legend.Add(fmt.Sprintf("kept: %s %d", h.step(), h.Best), best)
	}
	if len(h.Points) == 1 {
		p.X.Min, p.X.Max = float64(h.Points[0].Epoch)-1, float64(h.Points[0].Epoch)+1
	}
	return p, nil
}

func plotterLinePoints(xy plotter.XYs) (*plotter.Line, *plotter.Scatter, error) {
	line, err := plotter.NewLine(xy)
	if err != nil {
		return nil, nil, err
	}
	pts, err := plotter.NewScatter(xy)
	if err != nil {
		return nil, nil, err
	}
	pts.Radius = vg.Points(2.5)
	pts.Shape = draw.CircleGlyph{}
	return line, pts, nil
}
