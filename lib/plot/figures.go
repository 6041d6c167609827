package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	xdraw "golang.org/x/image/draw"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
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

// line adds a line with points to p and returns it, for a legend.
func line(p *plot.Plot, c color.Color, xs, ys []float64, dashed bool) (legendEntry, error) {
	if len(xs) != len(ys) {
		return legendEntry{}, fmt.Errorf("%d x values for %d y values", len(xs), len(ys))
	}
	pts := make(plotter.XYs, len(xs))
	for i := range xs {
		pts[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return legendEntry{}, err
	}
	l.Color, s.Color = c, c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	s.Shape = draw.CircleGlyph{}
	p.Add(l, s)
	return legendEntry{thumbs: []plot.Thumbnailer{l, s}}, nil
}

// Curves holds per-epoch series to plot.
type Curves struct {
	Epochs                 []float64
	TrainLoss, EvalLoss    []float64
	TrainAccuracy, EvalAcc []float64 // in %; TrainAccuracy may be nil
	LR                     []float64
	EvalName               string // "validation" or "test"
}

// CurvesFromHistory turns a training history into Curves.
func CurvesFromHistory(h []metrics.Epoch) Curves {
	c := Curves{EvalName: metrics.EvalLabel(h)}
	hasTrainAcc := false
	for _, e := range h {
		c.Epochs = append(c.Epochs, float64(e.Epoch))
		c.TrainLoss = append(c.TrainLoss, e.TrainLoss)
		c.EvalLoss = append(c.EvalLoss, e.EvalLoss)
		c.TrainAccuracy = append(c.TrainAccuracy, 100*e.TrainAccuracy)
		c.EvalAcc = append(c.EvalAcc, 100*e.EvalAccuracy)
		c.LR = append(c.LR, e.LR)
		hasTrainAcc = hasTrainAcc || e.TrainAccuracy > 0
	}
	if !hasTrainAcc {
		c.TrainAccuracy = nil // a history without training accuracy (an older checkpoint)
	}
	return c
}

// TrainingCurves draws three panels: training and evaluation loss, training and
// evaluation accuracy (%), and the learning rate (log scale) by epoch, with one legend
// above them.
func TrainingCurves(h []metrics.Epoch) (*Figure, error) {
	return CurvesFigure(CurvesFromHistory(h))
}

// CurvesFigure draws Curves as TrainingCurves does.
func CurvesFigure(c Curves) (*Figure, error) {
	n := len(c.Epochs)
	if n == 0 {
		return nil, fmt.Errorf("plot.TrainingCurves: no epochs to draw")
	}
	for name, v := range map[string][]float64{"training loss": c.TrainLoss, "evaluation loss": c.EvalLoss, "evaluation accuracy": c.EvalAcc, "learning rate": c.LR} {
		if len(v) != n {
			return nil, fmt.Errorf("plot.TrainingCurves: %d values of the %s for %d epochs", len(v), name, n)
		}
	}
	if c.TrainAccuracy != nil && len(c.TrainAccuracy) != n {
		return nil, fmt.Errorf("plot.TrainingCurves: %d values of the training accuracy for %d epochs", len(c.TrainAccuracy), n)
	}
	name := c.EvalName
	if name == "" {
		name = "evaluation"
	}
	loss := newPlot("Loss", "epoch", "cross-entropy")
	trainEntry, err := line(loss, blue, c.Epochs, c.TrainLoss, false)
	if err != nil {
		return nil, err
	}
	evalEntry, err := line(loss, vermillon, c.Epochs, c.EvalLoss, true)
	if err != nil {
		return nil, err
	}
	acc := newPlot("Accuracy", "epoch", "accuracy (%)")
	if c.TrainAccuracy != nil {
		if _, err := line(acc, blue, c.Epochs, c.TrainAccuracy, false); err != nil {
			return nil, err
		}
	}
	if _, err := line(acc, vermillon, c.Epochs, c.EvalAcc, true); err != nil {
		return nil, err
	}
	lr := newPlot("Learning rate", "epoch", "lr (log scale)")
	lr.Y.Scale = plot.LogScale{}
	lr.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	lrEntry, err := line(lr, green, c.Epochs, c.LR, false)
	if err != nil {
		return nil, err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range c.LR {
		if v <= 0 || math.IsNaN(v) {
			return nil, fmt.Errorf("plot.TrainingCurves: learning rate %g: want > 0 (log scale)", v)
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	lr.Y.Min, lr.Y.Max = lo/2, hi*2 // a constant rate still gets a visible range
	for _, p := range []*plot.Plot{loss, acc, lr} {
		p.X.Tick.Marker = integerTicks{}
		p.X.Min, p.X.Max = c.Epochs[0]-0.2, c.Epochs[n-1]+0.2
	}
	trainEntry.name, evalEntry.name, lrEntry.name = "train", name, "learning rate"
	return panels([]legendEntry{trainEntry, evalEntry, lrEntry}, loss, acc, lr), nil
}

// legendEntry is one entry of a figure's legend: a name and how its data is drawn.
type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer
}

// legendHeight is the height of the legend row above a figure's panels.
const legendHeight = 7 * vg.Millimeter

// legendStyle is the legend's text style.
func legendStyle() text.Style {
	sty := text.Style{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, YAlign: draw.YCenter}
	sty.Font.Size = vg.Points(10)
	return sty
}

// The legend's thumbnail width and the gap between entries.
const legendThumb, legendGap = vg.Length(22), vg.Length(14)

// legendRows splits the entries into rows no wider than width (each row holds at
// least one entry), so that a long legend wraps instead of running off the figure.
func legendRows(entries []legendEntry, width vg.Length) [][]legendEntry {
	sty := legendStyle()
	var rows [][]legendEntry
	var used vg.Length
	for _, e := range entries {
		w := legendThumb + 4 + sty.Width(e.name)
		if len(rows) == 0 || used+legendGap+w > width {
			rows, used = append(rows, nil), -legendGap
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], e)
		used += legendGap + w
	}
	return rows
}

// drawLegend draws the entries in rows of legendHeight, each centred, from the top of
// dc down, wrapping where a row would be wider than dc.
func drawLegend(dc draw.Canvas, entries []legendEntry) {
	sty := legendStyle()
	for i, row := range legendRows(entries, dc.Max.X-dc.Min.X-vg.Centimeter) {
		var width vg.Length
		for _, e := range row {
			width += legendThumb + 4 + sty.Width(e.name) + legendGap
		}
		x := (dc.Min.X+dc.Max.X)/2 - (width-legendGap)/2
		y := dc.Max.Y - legendHeight/2 - vg.Length(i)*legendHeight
		for _, e := range row {
			c := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: y - 4}, Max: vg.Point{X: x + legendThumb, Y: y + 4}}}
			for _, t := range e.thumbs {
				t.Thumbnail(&c)
			}
			x += legendThumb + 4
			dc.FillText(sty, vg.Point{X: x, Y: y}, e.name)
			x += sty.Width(e.name) + legendGap
		}
	}
}

// panels lays plots out side by side, aligned, on a wide white figure, under one
// legend row for all of them.
func panels(legend []legendEntry, plots ...*plot.Plot) *Figure {
	row := [][]*plot.Plot{plots}
	return &Figure{Width: 27 * vg.Centimeter, Height: 8*vg.Centimeter + legendHeight, draw: func(dc draw.Canvas) {
		dc.SetColor(white)
		dc.Fill(dc.Rectangle.Path())
		drawLegend(dc, legend)
		area := draw.Crop(dc, 0, 0, 0, -legendHeight)
		canvases := plot.Align(row, draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2,
			PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}, area)
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
	p.Title.Padding = 4 * vg.Millimeter // clear of the first row's cells
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
// macro averages in the title and the legend above the bars.
func ClassScores(r metrics.Report) (*Figure, error) {
	k := len(r.PerClass)
	if k == 0 {
		return nil, fmt.Errorf("plot.ClassScores: empty report")
	}
	p := newPlot(fmt.Sprintf("Per-class scores (macro P %.2f, R %.2f, F1 %.2f)", r.MacroPrecision, r.MacroRecall, r.MacroF1), "", "score")
	w := vg.Points(7)
	names := make([]string, k)
	var legend []legendEntry
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
		legend = append(legend, legendEntry{name: series.name, thumbs: []plot.Thumbnailer{b}})
	}
	p.Y.Min, p.Y.Max = 0, 1.02
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"},
		{Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1"}})
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	return &Figure{Width: vg.Length(k)*1.6*vg.Centimeter + 4*vg.Centimeter, Height: 10*vg.Centimeter + legendHeight, draw: func(dc draw.Canvas) {
		dc.SetColor(white)
		dc.Fill(dc.Rectangle.Path())
		drawLegend(dc, legend)
		p.Draw(padded(draw.Crop(dc, 0, 0, 0, -legendHeight)))
	}}, nil
}

// whiteWithTitle fills dc white and, when title is set, writes it centred at the top.
func whiteWithTitle(dc draw.Canvas, title string) {
	dc.SetColor(white)
	dc.Fill(dc.Rectangle.Path())
	if title != "" {
		sty := text.Style{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, XAlign: draw.XCenter, YAlign: draw.YTop}
		sty.Font.Size = vg.Points(12)
		dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y - 2*vg.Millimeter}, title)
	}
}

// Tile is one image of a grid: its caption (one or more lines) and whether to mark
// it as wrong.
type Tile struct {
	Image   image.Image
	Caption string
	Wrong   bool
}

// ImageGrid draws images in a grid with their captions above them; wrong ones get a
// red caption and a red frame around the image.
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
	captionLines := 1
	for i, t := range tiles {
		if t.Image == nil {
			return nil, fmt.Errorf("plot.ImageGrid: tile %d has no image", i)
		}
		p := plot.New()
		b := t.Image.Bounds()
		p.Add(plotter.NewImage(t.Image, 0, 0, float64(b.Dx()), float64(b.Dy())))
		p.HideAxes()
		p.Title.Text = t.Caption
		p.Title.TextStyle.Font.Size = vg.Points(8)
		p.Title.Padding = vg.Points(3)
		if t.Wrong {
			p.Title.TextStyle.Color = red
		}
		captionLines = max(captionLines, strings.Count(t.Caption, "\n")+1)
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
	caption := vg.Length(captionLines) * 3.5 * vg.Millimeter
	return &Figure{Width: vg.Length(cols) * tile, Height: vg.Length(rows)*(tile+caption) + 10*vg.Millimeter, draw: func(dc draw.Canvas) {
		whiteWithTitle(dc, title)
		inner := draw.Crop(dc, 0, 0, 0, -9*vg.Millimeter)
		canvases := plot.Align(plots, draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 2, PadY: vg.Millimeter * 2}, inner)
		for r := range plots {
			for c := range plots[r] {
				plots[r][c].Draw(canvases[r][c])
				if idx := r*cols + c; idx < len(tiles) && tiles[idx].Wrong {
					// Around the image only: the caption above stays clear.
					cv := plots[r][c].DataCanvas(canvases[r][c])
					cv.SetColor(red)
					cv.SetLineWidth(vg.Points(2))
					// Inset by half the line, so the frame of the last column is not cut.
					in := vg.Points(1)
					cv.Stroke(vg.Rectangle{Min: vg.Point{X: cv.Min.X + in, Y: cv.Min.Y + in}, Max: vg.Point{X: cv.Max.X - in, Y: cv.Max.Y - in}}.Path())
				}
			}
		}
	}}, nil
}

// Predictions draws a grid of dataset images captioned with their true class and,
// when predictions is given, the predicted class ("true → predicted", the
// confidence when confidence is given); wrong predictions are marked in red.
// predictions and confidence may be nil; when given, they hold one value per index.
func Predictions(title string, d *data.Dataset, indices []int, predictions []int32, confidence []float32, cols int) (*Figure, error) {
	if predictions != nil && len(predictions) != len(indices) {
		return nil, fmt.Errorf("plot.Predictions: %d predictions for %d images", len(predictions), len(indices))
	}
	if confidence != nil && len(confidence) != len(indices) {
		return nil, fmt.Errorf("plot.Predictions: %d confidences for %d images", len(confidence), len(indices))
	}
	tiles := make([]Tile, len(indices))
	for i, idx := range indices {
		if idx < 0 || idx >= d.Len() {
			return nil, fmt.Errorf("plot.Predictions: index %d outside %q (%d images)", idx, d.Name, d.Len())
		}
		_, l := d.Image(idx)
		tiles[i] = Tile{Image: upscale(d.ToImage(idx), 4), Caption: d.Classes[l]}
		if predictions == nil {
			continue
		}
		p := predictions[i]
		if p < 0 || int(p) >= len(d.Classes) {
			return nil, fmt.Errorf("plot.Predictions: prediction %d of image %d: want 0..%d", p, idx, len(d.Classes)-1)
		}
		conf := ""
		if confidence != nil {
			conf = fmt.Sprintf(" %.0f%%", 100*confidence[i])
		}
		tiles[i].Wrong = p != l
		if tiles[i].Wrong {
			tiles[i].Caption = fmt.Sprintf("%s\n→ %s%s", d.Classes[l], d.Classes[p], conf)
		} else {
			tiles[i].Caption = fmt.Sprintf("%s\n%s", d.Classes[l], strings.TrimSpace(conf))
		}
	}
	return ImageGrid(title, tiles, cols)
}

// upscale enlarges an image by an integer factor with nearest-neighbour sampling,
// so small images stay crisp when the plot scales them.
func upscale(img image.Image, f int) image.Image {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx()*f, b.Dy()*f))
	xdraw.NearestNeighbor.Scale(out, out.Bounds(), img, b, xdraw.Src, nil)
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
			if math.IsNaN(s) {
				s = 0
			}
			// heat: black-red-yellow ramp, alpha-blended by s.
			hr, hg := math.Min(1, 2*s)*255, math.Max(0, 2*s-1)*255
			out.Set(x, y, color.NRGBA{
				R: uint8(base*(1-s) + hr*s), G: uint8(base*(1-s) + hg*s), B: uint8(base * (1 - s)), A: 255})
		}
	}
	return out, nil
}

// Saliency draws, for each image, the image and its saliency overlay side by side.
// maps holds one map per index (height x width values). With predictions, each
// image is captioned "true → predicted" (its class, then the predicted one under an
// arrow), in red where they differ; predictions may be nil (the class alone).
func Saliency(title string, d *data.Dataset, indices []int, maps [][]float32, predictions []int32) (*Figure, error) {
	if len(maps) != len(indices) {
		return nil, fmt.Errorf("plot.Saliency: %d maps for %d images", len(maps), len(indices))
	}
	if predictions != nil && len(predictions) != len(indices) {
		return nil, fmt.Errorf("plot.Saliency: %d predictions for %d images", len(predictions), len(indices))
	}
	var tiles []Tile
	for i, idx := range indices {
		if idx < 0 || idx >= d.Len() {
			return nil, fmt.Errorf("plot.Saliency: index %d outside %q (%d images)", idx, d.Name, d.Len())
		}
		img := d.ToImage(idx)
		over, err := SaliencyOverlay(img, maps[i])
		if err != nil {
			return nil, err
		}
		_, l := d.Image(idx)
		caption := d.Classes[l]
		wrong := false
		if predictions != nil {
			p := predictions[i]
			if p < 0 || int(p) >= len(d.Classes) {
				return nil, fmt.Errorf("plot.Saliency: prediction %d of image %d: want 0..%d", p, idx, len(d.Classes)-1)
			}
			wrong = p != l
			caption = fmt.Sprintf("%s\n→ %s", d.Classes[l], d.Classes[p])
		}
		tiles = append(tiles, Tile{Image: upscale(img, 4), Caption: caption, Wrong: wrong},
			Tile{Image: upscale(over, 4), Caption: "saliency\n "})
	}
	return ImageGrid(title, tiles, 6)
}

// Compare draws several training runs side by side: training loss, evaluation loss
// and evaluation accuracy by epoch, one colour per run, one legend above the panels.
func Compare(names []string, runs [][]metrics.Epoch) (*Figure, error) {
	if len(names) != len(runs) || len(runs) == 0 {
		return nil, fmt.Errorf("plot.Compare: %d names for %d runs", len(names), len(runs))
	}
	colors := []color.Color{blue, vermillon, green, color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, grey}
	eval := "Evaluation"
	for _, h := range runs {
		if l := metrics.EvalLabel(h); l != "evaluation" {
			eval = strings.ToUpper(l[:1]) + l[1:]
			break
		}
	}
	trainLoss := newPlot("Training loss", "epoch", "cross-entropy")
	evalLoss := newPlot(eval+" loss", "epoch", "cross-entropy")
	acc := newPlot(eval+" accuracy", "epoch", "accuracy (%)")
	lastEpoch := 1.0
	var legend []legendEntry
	for i, h := range runs {
		if len(h) == 0 {
			return nil, fmt.Errorf("plot.Compare: run %q has no epochs", names[i])
		}
		c := CurvesFromHistory(h)
		col := colors[i%len(colors)]
		entry, err := line(trainLoss, col, c.Epochs, c.TrainLoss, false)
		if err != nil {
			return nil, err
		}
		if _, err := line(evalLoss, col, c.Epochs, c.EvalLoss, false); err != nil {
			return nil, err
		}
		if _, err := line(acc, col, c.Epochs, c.EvalAcc, false); err != nil {
			return nil, err
		}
		entry.name = names[i]
		legend = append(legend, entry)
		lastEpoch = math.Max(lastEpoch, c.Epochs[len(c.Epochs)-1])
	}
	plots := []*plot.Plot{trainLoss, evalLoss, acc}
	for _, p := range plots {
		p.X.Tick.Marker = integerTicks{}
		p.X.Min, p.X.Max = 0.8, lastEpoch+0.2
	}
	return panels(legend, plots...), nil
}
