package plot

import (
	"fmt"
	"image"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Explanation draws one image's prediction as the model server's page shows it: the
// image as the model sees it, its saliency overlay (when saliency is not nil), and
// the classes as horizontal bars of their probabilities, in the order given (most
// probable first, as train.Model.Predict and the server list them) from the top.
// Probabilities are in [0, 1]; the bars are labelled in %.
func Explanation(title string, img, saliency image.Image, classes []string, probabilities []float64) (*Figure, error) {
	if img == nil {
		return nil, fmt.Errorf("plot.Explanation: no image")
	}
	if len(classes) == 0 || len(classes) != len(probabilities) {
		return nil, fmt.Errorf("plot.Explanation: %d classes for %d probabilities", len(classes), len(probabilities))
	}
	var pics []*plot.Plot
	for _, p := range []struct {
		img     image.Image
		caption string
	}{{img, "the image, as the model sees it"}, {saliency, "saliency"}} {
		if p.img == nil {
			continue
		}
		b := p.img.Bounds()
		f := max(1, 112/max(b.Dx(), b.Dy()))
		pic := plot.New()
		pic.Add(plotter.NewImage(upscale(p.img, f), 0, 0, float64(b.Dx()), float64(b.Dy())))
		pic.HideAxes()
		pic.Title.Text = p.caption
		pic.Title.TextStyle.Font.Size = vg.Points(9)
		pics = append(pics, pic)
	}

	// Bars from the bottom up: the first class on top.
	k := len(classes)
	vals := make(plotter.Values, k)
	labels := make([]string, k)
	for i, p := range probabilities {
		if math.IsNaN(p) || p < 0 || p > 1 {
			return nil, fmt.Errorf("plot.Explanation: probability %v of %q: want a value in [0, 1]", p, classes[i])
		}
		vals[k-1-i] = 100 * p
		labels[k-1-i] = fmt.Sprintf("%s %.1f%%", classes[i], 100*p)
	}
	bars := plot.New()
	bars.Title.Text = "most probable classes"
	bars.Title.TextStyle.Font.Size = vg.Points(9)
	bc, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return nil, err
	}
	bc.Horizontal = true
	bc.Color = blue
	bc.LineStyle.Width = 0
	bars.Add(plotter.NewGrid(), bc)
	bars.NominalY(labels...)
	bars.X.Min, bars.X.Max = 0, 100
	bars.X.Label.Text = "probability (%)"
	bars.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 25, Label: "25"},
		{Value: 50, Label: "50"}, {Value: 75, Label: "75"}, {Value: 100, Label: "100"}})

	pic := 4.2 * vg.Centimeter
	barWidth := 10 * vg.Centimeter
	height := max(5*vg.Centimeter, vg.Length(k)*7*vg.Millimeter+2*vg.Centimeter)
	top := 9 * vg.Millimeter
	return &Figure{Width: vg.Length(len(pics))*pic + barWidth, Height: height + top, draw: func(dc draw.Canvas) {
		whiteWithTitle(dc, title)
		area := draw.Crop(dc, 0, 0, 0, -top)
		for i, p := range pics {
			x := area.Min.X + vg.Length(i)*pic
			// A square of the picture's width, centred vertically.
			side := pic - 4*vg.Millimeter
			y := (area.Min.Y+area.Max.Y)/2 - side/2
			c := draw.Canvas{Canvas: area.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x + 2*vg.Millimeter, Y: y}, Max: vg.Point{X: x + 2*vg.Millimeter + side, Y: y + side + 5*vg.Millimeter}}}
			p.Draw(c)
		}
		right := draw.Crop(area, vg.Length(len(pics))*pic, 0, 0, 0)
		bars.Draw(draw.Crop(right, 2*vg.Millimeter, -4*vg.Millimeter, 2*vg.Millimeter, -2*vg.Millimeter))
	}}, nil
}
