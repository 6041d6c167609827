package plot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gopherdl/gopherdl/lib/metrics"
)

// StepLossOptions are the optional parts of a StepLoss figure.
type StepLossOptions struct {
	// StepsPerEpoch, when > 0, draws a dashed line where each epoch begins.
	StepsPerEpoch int
	// Classes, when > 0, draws a dotted line at ln(Classes): the loss of a model
	// that gives every class the same probability, where an untrained model starts.
	Classes int
	// Window is how many steps the smoothed line averages: 0 means 25 (a quarter of
	// the steps, for runs under 100 steps).
	Window int
}

// StepLoss draws the training loss of every step of one or more runs (names[i]
// for runs[i]; Config.OnStep or the losses a loop of Step calls returns): each
// step's batch loss as a thin line, and the mean of the last Window steps as a
// thick one, the curve a plateau shows in, where the per-epoch curves have a few
// points.
func StepLoss(title string, names []string, runs [][]float64, opt StepLossOptions) (*Figure, error) {
	if len(runs) == 0 || len(names) != len(runs) {
		return nil, fmt.Errorf("plot.StepLoss: %d names for %d runs", len(names), len(runs))
	}
	steps := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, r := range runs {
		if len(r) == 0 {
			return nil, fmt.Errorf("plot.StepLoss: run %q has no steps", names[i])
		}
		for s, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("plot.StepLoss: run %q, step %d: the loss is %v (the run diverged): want finite losses", names[i], s+1, v)
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		steps = max(steps, len(r))
	}
	window := opt.Window
	if window <= 0 {
		window = 25
		if steps < 100 {
			window = max(1, steps/4)
		}
	}
	if opt.Classes > 0 {
		lo, hi = math.Min(lo, math.Log(float64(opt.Classes))), math.Max(hi, math.Log(float64(opt.Classes)))
	}
	p := newPlot(title, "step", "cross-entropy of the batch")
	p.X.Min, p.X.Max = 0, float64(steps)+1
	span := math.Max(hi-lo, 0.1)
	p.Y.Min, p.Y.Max = math.Max(0, lo-0.05*span), hi+0.15*span // room above for the labels
	p.X.Tick.Marker, p.Y.Tick.Marker = roundTicks{}, roundTicks{}
	if opt.StepsPerEpoch > 0 {
		if err := epochLines(p, steps, opt.StepsPerEpoch); err != nil {
			return nil, err
		}
	}
	colors := []color.Color{blue, vermillon, green, color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, grey}
	var legend []legendEntry
	for i, r := range runs {
		col := colors[i%len(colors)]
		raw, err := stepLine(r, nil, faded(col), 0.5)
		if err != nil {
			return nil, err
		}
		smooth, err := stepLine(r, metrics.TrailingMean(r, window), col, 2)
		if err != nil {
			return nil, err
		}
		p.Add(raw, smooth)
		legend = append(legend, legendEntry{name: names[i], thumbs: []plot.Thumbnailer{smooth}})
	}
	if opt.Classes > 0 {
		ref, err := referenceLine(p, math.Log(float64(opt.Classes)), fmt.Sprintf("ln %d = %.3f: every class equally likely", opt.Classes, math.Log(float64(opt.Classes))))
		if err != nil {
			return nil, err
		}
		p.Add(ref...)
	}
	thin, _ := stepLine([]float64{0, 0}, nil, faded(grey), 0.5)
	thick, _ := stepLine([]float64{0, 0}, nil, grey, 2)
	legend = append(legend, legendEntry{name: "each step", thumbs: []plot.Thumbnailer{thin}},
		legendEntry{name: fmt.Sprintf("mean of the last %d steps", window), thumbs: []plot.Thumbnailer{thick}})
	width := 20 * vg.Centimeter
	top := vg.Length(len(legendRows(legend, width-vg.Centimeter))) * legendHeight // the legend wraps with many runs
	return &Figure{Width: width, Height: 10*vg.Centimeter + top, draw: func(dc draw.Canvas) {
		dc.SetColor(white)
		dc.Fill(dc.Rectangle.Path())
		drawLegend(dc, legend)
		p.Draw(padded(draw.Crop(dc, 0, 0, 0, -top)))
	}}, nil
}

// stepLine is a line through (step, ys[step-1]) for steps from 1, ys being v when nil.
func stepLine(v, ys []float64, col color.Color, width float64) (*plotter.Line, error) {
	if ys == nil {
		ys = v
	}
	pts := make(plotter.XYs, len(ys))
	for i, y := range ys {
		pts[i] = plotter.XY{X: float64(i + 1), Y: y}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width = col, vg.Points(width)
	return l, nil
}

// faded is col, light: the colour of the raw per-step line.
func faded(col color.Color) color.Color { return tint(col, 0.35) }

// epochLines adds a dashed vertical line where each epoch after the first begins,
// labelled with the epoch.
func epochLines(p *plot.Plot, steps, perEpoch int) error {
	var labels plotter.XYLabels
	for e := 1; e*perEpoch < steps; e++ {
		x := float64(e*perEpoch) + 0.5
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: p.Y.Min}, {X: x, Y: p.Y.Max}})
		if err != nil {
			return err
		}
		l.Color, l.Width, l.Dashes = grey, vg.Points(0.8), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: p.Y.Max})
		labels.Labels = append(labels.Labels, fmt.Sprintf(" epoch %d", e+1))
	}
	if len(labels.XYs) == 0 {
		return nil
	}
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].Color = grey
		lab.TextStyle[i].YAlign = draw.YTop
		lab.TextStyle[i].Font.Size = vg.Points(8)
	}
	p.Add(lab)
	return nil
}

// referenceLine is a dotted horizontal line at y across p, labelled above its left
// end.
func referenceLine(p *plot.Plot, y float64, label string) ([]plot.Plotter, error) {
	l, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: y}, {X: p.X.Max, Y: y}})
	if err != nil {
		return nil, err
	}
	l.Color, l.Width, l.Dashes = color.Black, vg.Points(0.8), []vg.Length{vg.Points(1), vg.Points(2)}
	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: []plotter.XY{{X: p.X.Min, Y: y}}, Labels: []string{"  " + label}})
	if err != nil {
		return nil, err
	}
	lab.TextStyle[0].YAlign = draw.YBottom
	lab.Offset = vg.Point{Y: vg.Points(2)}
	lab.TextStyle[0].Font.Size = vg.Points(8)
	return []plot.Plotter{l, lab}, nil
}

// roundTicks labels 4 to 10 ticks at multiples of 1, 2 or 5 times a power of ten,
// written without trailing zeros ("250", "0.5").
type roundTicks struct{}

func (roundTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/4)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(m*step) <= 10 {
			step *= m
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var ts []plot.Tick
	for i := math.Ceil(lo / step); i*step <= hi+step*1e-9; i++ {
		v := i * step
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ts
}
