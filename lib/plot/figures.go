package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/train"
)

var (
	white = color.White
	// Colour-blind-safe pair (Okabe-Ito): train in blue, test in vermillion.
	blue      = color.RGBA{0, 114, 178, 255}
	vermillon = color.RGBA{213, 94, 0, 255}
	green     = color.RGBA{0, 158, 115, 255}
	grey      = color.RGBA{90, 90, 90, 255}
	red       = color.RGBA{200, 0, 0, 255}
)

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Y.Tick.Marker = exactTicks{}
	return p
}

// exactTicks are gonum's default ticks, labelled with their exact value: the default
// labels round 2.25 to "2.2", next to a real 2.2.
type exactTicks struct{}

func (exactTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i, t := range ts {
		if t.Label != "" {
			ts[i].Label = strconv.FormatFloat(math.Round(t.Value*1e6)/1e6, 'f', -1, 64)
		}
	}
	return ts
}

func line(p *plot.Plot, name string, c color.Color, xs, ys []float64, dashed bool) error {
	pts := make(plotter.XYs, len(xs))
	for i := range xs {
		pts[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	l.Color, s.Color = c, c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	s.Shape = draw.CircleGlyph{}
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

// Curves holds per-epoch series to plot. Test can be a validation set.
type Curves struct {
	Epochs                 []float64
	TrainLoss, TestLoss    []float64
	TrainAccuracy, TestAcc []float64 // TrainAccuracy may be nil
	LR                     []float64
	TestName               string // "test" or "validation"
}

// CurvesFromHistory turns a training history into Curves.
func CurvesFromHistory(h []train.Epoch) Curves {
	c := Curves{TestName: "test"}
	for _, e := range h {
		c.Epochs = append(c.Epochs, float64(e.Epoch))
		c.TrainLoss = append(c.TrainLoss, e.TrainLoss)
		c.TestLoss = append(c.TestLoss, e.TestLoss)
		c.TestAcc = append(c.TestAcc, 100*e.TestAccuracy)
		c.LR = append(c.LR, e.LR)
	}
	return c
}

// TrainingCurves draws three panels: train and test loss, test accuracy (%), and the
// learning rate (log scale) by epoch.
func TrainingCurves(h []train.Epoch) (*Figure, error) {
	return CurvesFigure(CurvesFromHistory(h))
}

// CurvesFigure draws Curves as TrainingCurves does.
func CurvesFigure(c Curves) (*Figure, error) {
	if len(c.Epochs) == 0 {
		return nil, fmt.Errorf("plot.TrainingCurves: no epochs to draw")
	}
	name := c.TestName
	if name == "" {
		name = "test"
	}
	loss := newPlot("Loss", "epoch", "cross-entropy")
	if err := line(loss, "train", blue, c.Epochs, c.TrainLoss, false); err != nil {
		return nil, err
	}
	if err := line(loss, name, vermillon, c.Epochs, c.TestLoss, true); err != nil {
		return nil, err
	}
	acc := newPlot("Accuracy", "epoch", "accuracy (%)")
	if c.TrainAccuracy != nil {
		if err := line(acc, "train", blue, c.Epochs, c.TrainAccuracy, false); err != nil {
			return nil, err
		}
	}
	if err := line(acc, name, vermillon, c.Epochs, c.TestAcc, true); err != nil {
		return nil, err
	}
	acc.Legend.Top = false // accuracy rises: the bottom right stays free
	lr := newPlot("Learning rate", "epoch", "lr (log scale)")
	lr.Y.Scale = plot.LogScale{}
	lr.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	if err := line(lr, "lr", green, c.Epochs, c.LR, false); err != nil {
		return nil, err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range c.LR {
		if v <= 0 {
			return nil, fmt.Errorf("plot.TrainingCurves: learning rate %g: want > 0 (log scale)", v)
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	lr.Y.Min, lr.Y.Max = lo/2, hi*2 // a constant rate still gets a visible range
	lr.Legend = plot.NewLegend()
	for _, p := range []*plot.Plot{loss, acc, lr} {
		p.X.Tick.Marker = integerTicks{}
		p.X.Min, p.X.Max = c.Epochs[0]-0.2, c.Epochs[len(c.Epochs)-1]+0.2
	}
	return panels(loss, acc, lr), nil
}

// panels lays plots out side by side, aligned, on a wide white figure.
func panels(plots ...*plot.Plot) *Figure {
	row := [][]*plot.Plot{plots}
	return &Figure{Width: 27 * vg.Centimeter, Height: 8 * vg.Centimeter, draw: func(dc draw.Canvas) {
		dc.SetColor(white)
		dc.Fill(dc.Rectangle.Path())
		canvases := plot.Align(row, draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2,
			PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}, dc)
		for i, p := range plots {
			p.Draw(canvases[0][i])
		}
	}}
}

// integerTicks puts ticks on whole epochs only.
type integerTicks struct{}

func (integerTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	step := math.Max(1, math.Ceil((hi-lo)/10))
	var ts []plot.Tick
	for v := lo; v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return ts
}

type confGrid struct{ m [][]int }

func (g confGrid) Dims() (c, r int)   { return len(g.m), len(g.m) }
func (g confGrid) Z(c, r int) float64 { return float64(g.m[len(g.m)-1-r][c]) }
func (g confGrid) X(c int) float64    { return float64(c) }
func (g confGrid) Y(r int) float64    { return float64(r) }

// ConfusionMatrix draws the confusion matrix as a heat map with the count in each
// cell: rows are true classes (top to bottom), columns predicted classes.
func ConfusionMatrix(r metrics.Report) (*Figure, error) {
	k := len(r.Confusion)
	if k == 0 || len(r.PerClass) != k {
		return nil, fmt.Errorf("plot.ConfusionMatrix: empty report")
	}
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return nil, err
	}
	maxCount := 0
	for _, row := range r.Confusion {
		for _, v := range row {
			maxCount = max(maxCount, v)
		}
	}
	hm := plotter.NewHeatMap(confGrid{r.Confusion}, palette.Palette(pal))
	hm.Min, hm.Max = 0, float64(max(maxCount, 1))
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Confusion matrix (accuracy %.1f%%)", 100*r.Accuracy)
	p.X.Label.Text = "predicted class"
	p.Y.Label.Text = "true class"
	p.Add(hm)
	var labels plotter.XYLabels
	var styles []text.Style
	for t := range k {
		for c := range k {
			v := r.Confusion[t][c]
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(c), Y: float64(k - 1 - t)})
			labels.Labels = append(labels.Labels, fmt.Sprint(v))
			st := text.Style{Color: color.Black, Font: p.X.Tick.Label.Font, XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: p.X.Tick.Label.Handler}
			if float64(v) > 0.55*float64(maxCount) {
				st.Color = white
			}
			styles = append(styles, st)
		}
	}
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	lab.TextStyle = styles
	p.Add(lab)
	names := make([]string, k)
	for i, c := range r.PerClass {
		names[i] = c.Class
	}
	rev := make([]string, k)
	for i := range names {
		rev[i] = names[k-1-i]
	}
	p.NominalX(names...)
	p.NominalY(rev...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	size := vg.Length(k)*1.5*vg.Centimeter + 5*vg.Centimeter
	return &Figure{Width: size, Height: size, draw: func(dc draw.Canvas) {
		dc.SetColor(white)
		dc.Fill(dc.Rectangle.Path())
		p.Draw(padded(dc))
	}}, nil
}

func padded(dc draw.Canvas) draw.Canvas {
	return draw.Crop(dc, 3*vg.Millimeter, -5*vg.Millimeter, 3*vg.Millimeter, -3*vg.Millimeter)
}

// ClassScores draws per-class precision, recall and F1 as grouped bars, with the
// macro averages in the title.
func ClassScores(r metrics.Report) (*Figure, error) {
	k := len(r.PerClass)
	if k == 0 {
		return nil, fmt.Errorf("plot.ClassScores: empty report")
	}
	p := newPlot(fmt.Sprintf("Per-class scores (macro P %.2f, R %.2f, F1 %.2f)", r.MacroPrecision, r.MacroRecall, r.MacroF1), "", "score")
	w := vg.Points(7)
	names := make([]string, k)
	for i, series := range []struct {
		name string
		c    color.Color
		get  func(metrics.ClassScores) float64
	}{
		{"precision", blue, func(s metrics.ClassScores) float64 { return s.Precision }},
		{"recall", vermillon, func(s metrics.ClassScores) float64 { return s.Recall }},
		{"F1", green, func(s metrics.ClassScores) float64 { return s.F1 }},
	} {
		vals := make(plotter.Values, k)
		for j, s := range r.PerClass {
			vals[j] = series.get(s)
			names[j] = s.Class
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = series.c
		b.LineStyle.Width = 0
		b.Offset = vg.Length(i-1) * w
		p.Add(b)
		p.Legend.Add(series.name, b)
	}
	// Head room above 1 for the legend, ticks only on [0, 1].
	p.Y.Min, p.Y.Max = 0, 1.4
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"},
		{Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1"}})
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	return &Figure{Width: vg.Length(k)*1.6*vg.Centimeter + 4*vg.Centimeter, Height: 10 * vg.Centimeter, draw: func(dc draw.Canvas) {
		dc.SetColor(white)
		dc.Fill(dc.Rectangle.Path())
		p.Draw(padded(dc))
	}}, nil
}

// Tile is one image of a grid: its caption and whether to mark it as wrong.
type Tile struct {
	Image   image.Image
	Caption string
	Wrong   bool
}

// ImageGrid draws images in a grid with their captions; wrong ones get a red caption
// and frame.
func ImageGrid(title string, tiles []Tile, cols int) (*Figure, error) {
	if len(tiles) == 0 {
		return nil, fmt.Errorf("plot.ImageGrid: no images")
	}
	if cols <= 0 {
		cols = min(len(tiles), 8)
	}
	rows := (len(tiles) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for i, t := range tiles {
		p := plot.New()
		b := t.Image.Bounds()
		p.Add(plotter.NewImage(t.Image, 0, 0, float64(b.Dx()), float64(b.Dy())))
		p.HideAxes()
		p.Title.Text = t.Caption
		p.Title.TextStyle.Font.Size = vg.Points(8)
		if t.Wrong {
			p.Title.TextStyle.Color = red
		}
		plots[i/cols][i%cols] = p
	}
	for r := range plots {
		for c := range plots[r] {
			if plots[r][c] == nil {
				plots[r][c] = plot.New()
				plots[r][c].HideAxes()
			}
		}
	}
	tile := 3.2 * vg.Centimeter
	return &Figure{Width: vg.Length(cols) * tile, Height: vg.Length(rows)*(tile+4*vg.Millimeter) + 10*vg.Millimeter, draw: func(dc draw.Canvas) {
		dc.SetColor(white)
		dc.Fill(dc.Rectangle.Path())
		if title != "" {
			sty := text.Style{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, XAlign: draw.XCenter, YAlign: draw.YTop}
			sty.Font.Size = vg.Points(12)
			dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y - 2*vg.Millimeter}, title)
		}
		inner := draw.Crop(dc, 0, 0, 0, -9*vg.Millimeter)
		canvases := plot.Align(plots, draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 2, PadY: vg.Millimeter * 2}, inner)
		for r := range plots {
			for c := range plots[r] {
				plots[r][c].Draw(canvases[r][c])
				if idx := r*cols + c; idx < len(tiles) && tiles[idx].Wrong {
					cv := canvases[r][c]
					cv.SetColor(red)
					cv.SetLineWidth(vg.Points(1.5))
					in := vg.Points(1)
					lo, hi := vg.Point{X: cv.Min.X + in, Y: cv.Min.Y + in}, vg.Point{X: cv.Max.X - in, Y: cv.Max.Y - in}
					var path vg.Path
					path.Move(lo)
					path.Line(vg.Point{X: hi.X, Y: lo.Y})
					path.Line(hi)
					path.Line(vg.Point{X: lo.X, Y: hi.Y})
					path.Close()
					cv.Stroke(path)
				}
			}
		}
	}}, nil
}

// Predictions draws a grid of dataset images with "true / predicted" captions; wrong
// predictions are marked. predictions may be nil (true labels only).
func Predictions(title string, d *data.Dataset, indices []int, predictions []int32, cols int) (*Figure, error) {
	tiles := make([]Tile, len(indices))
	for i, idx := range indices {
		if idx < 0 || idx >= d.Len() {
			return nil, fmt.Errorf("plot.Predictions: index %d outside %q (%d images)", idx, d.Name, d.Len())
		}
		_, l := d.Image(idx)
		tiles[i] = Tile{Image: upscale(d.ToImage(idx), 4), Caption: d.Classes[l]}
		if predictions != nil {
			p := predictions[i]
			tiles[i].Caption = fmt.Sprintf("%s / %s", d.Classes[l], d.Classes[p])
			tiles[i].Wrong = p != l
		}
	}
	return ImageGrid(title, tiles, cols)
}

// upscale enlarges an image by an integer factor with nearest-neighbour sampling,
// so small images stay crisp when the plot scales them.
func upscale(img image.Image, f int) image.Image {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx()*f, b.Dy()*f))
	for y := range b.Dy() * f {
		for x := range b.Dx() * f {
			out.Set(x, y, img.At(b.Min.X+x/f, b.Min.Y+y/f))
		}
	}
	return out
}

// SaliencyOverlay returns the image with a heat map (saliency values in [0, 1], one
// per pixel, row-major) blended over it: transparent where the value is 0, red-yellow
// where it is high.
func SaliencyOverlay(img image.Image, sal []float32) (image.Image, error) {
	b := img.Bounds()
	if len(sal) != b.Dx()*b.Dy() {
		return nil, fmt.Errorf("plot.SaliencyOverlay: %d saliency values for a %dx%d image", len(sal), b.Dx(), b.Dy())
	}
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			g := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			base := float64(g) * 0.6
			s := math.Min(math.Max(float64(sal[y*b.Dx()+x]), 0), 1)
			// heat: black-red-yellow ramp, alpha-blended by s.
			hr, hg := math.Min(1, 2*s)*255, math.Max(0, 2*s-1)*255
			out.Set(x, y, color.NRGBA{
				R: uint8(base*(1-s) + hr*s), G: uint8(base*(1-s) + hg*s), B: uint8(base * (1 - s)), A: 255})
		}
	}
	return out, nil
}

// Saliency draws, for each image, the image and its saliency overlay side by side.
func Saliency(title string, d *data.Dataset, indices []int, maps [][]float32, predictions []int32) (*Figure, error) {
	if len(maps) != len(indices) {
		return nil, fmt.Errorf("plot.Saliency: %d maps for %d images", len(maps), len(indices))
	}
	var tiles []Tile
	for i, idx := range indices {
		img := d.ToImage(idx)
		over, err := SaliencyOverlay(img, maps[i])
		if err != nil {
			return nil, err
		}
		_, l := d.Image(idx)
		caption := d.Classes[l]
		wrong := false
		if predictions != nil {
			caption = fmt.Sprintf("%s / %s", d.Classes[l], d.Classes[predictions[i]])
			wrong = predictions[i] != l
		}
		tiles = append(tiles, Tile{Image: upscale(img, 4), Caption: caption, Wrong: wrong},
			Tile{Image: upscale(over, 4), Caption: "saliency"})
	}
	return ImageGrid(title, tiles, 6)
}

// Compare draws several training runs side by side: train loss, test (or validation)
// loss and test accuracy by epoch, one colour per run.
func Compare(names []string, runs [][]train.Epoch) (*Figure, error) {
	if len(names) != len(runs) || len(runs) == 0 {
		return nil, fmt.Errorf("plot.Compare: %d names for %d runs", len(names), len(runs))
	}
	colors := []color.Color{blue, vermillon, green, color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, grey}
	trainLoss := newPlot("Train loss", "epoch", "cross-entropy")
	testLoss := newPlot("Test loss", "epoch", "cross-entropy")
	acc := newPlot("Test accuracy", "epoch", "accuracy (%)")
	acc.Legend.Top = false
	lastEpoch := 1.0
	for i, h := range runs {
		if len(h) == 0 {
			return nil, fmt.Errorf("plot.Compare: run %q has no epochs", names[i])
		}
		c := CurvesFromHistory(h)
		col := colors[i%len(colors)]
		if err := line(trainLoss, names[i], col, c.Epochs, c.TrainLoss, false); err != nil {
			return nil, err
		}
		if err := line(testLoss, names[i], col, c.Epochs, c.TestLoss, false); err != nil {
			return nil, err
		}
		if err := line(acc, names[i], col, c.Epochs, c.TestAcc, false); err != nil {
			return nil, err
		}
		lastEpoch = math.Max(lastEpoch, c.Epochs[len(c.Epochs)-1])
	}
	plots := []*plot.Plot{trainLoss, testLoss, acc}
	for _, p := range plots {
		p.X.Tick.Marker = integerTicks{}
		p.X.Min, p.X.Max = 0.8, lastEpoch+0.2
	}
	return panels(plots...), nil
}
