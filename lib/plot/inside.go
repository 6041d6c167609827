package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/progress"
	"github.com/gopherdl/gopherdl/lib/train"
)

// Figures of what a network holds: its layers with their shapes, its first layer's
// filters, and the feature maps its convolutions compute for one image.

// kindColours fill the boxes of Architecture by layer kind.
var kindColours = map[string]color.Color{
	"conv2d":     tint(blue, 0.3),
	"relu":       color.Gray{Y: 238},
	"maxpool2x2": tint(green, 0.3),
	"flatten":    tint(color.RGBA{204, 121, 167, 255}, 0.3),
	"linear":     tint(color.RGBA{230, 159, 0, 255}, 0.35),
	"dropout":    color.Gray{Y: 238},
}

// Architecture draws a model's layers from its summary (nn.Summarize), top to
// bottom as the data flows: each layer as PyTorch prints it (Conv2d(1 → 32, 3x3)),
// its output shape in PyTorch's order [C, H, W] (batch left out) and its parameter
// count, then the total and the layer that holds most of it.
func Architecture(title string, s nn.Summary) (*Figure, error) {
	if len(s.Layers) == 0 {
		return nil, fmt.Errorf("plot.Architecture: the summary has no layers")
	}
	if err := s.Input.Validate(); err != nil {
		return nil, fmt.Errorf("plot.Architecture: %w", err)
	}
	type row struct {
		label, shape, params, kind string
	}
	rows := []row{{label: "input image", shape: fmt.Sprintf("[%d, %d, %d]", s.Input.Channels, s.Input.Height, s.Input.Width), kind: "input"}}
	prev := []int{1, s.Input.Height, s.Input.Width, s.Input.Channels}
	largest := 0
	for i, l := range s.Layers {
		kind := l.Name[strings.LastIndexByte(l.Name, ' ')+1:]
		r := row{label: layerLabel(s.Names()[i], kind, prev, l), shape: chwShape(l.Output), kind: kind}
		if l.Params > 0 {
			r.params = progress.Thousands(l.Params)
			if l.Params > s.Layers[largest].Params {
				largest = i
			}
		}
		rows = append(rows, r)
		prev = l.Output
	}
	footer := fmt.Sprintf("%s trainable parameters", progress.Thousands(s.Total))
	if p := s.Layers[largest].Params; p > 0 && s.Total > 0 {
		footer += fmt.Sprintf("; %s holds %.1f %% of them", s.Names()[largest], 100*float64(p)/float64(s.Total))
	}
	rowH, gapH := 7*vg.Millimeter, 3*vg.Millimeter
	boxW, shapeW, paramW := 6.8*vg.Centimeter, 3.4*vg.Centimeter, 3*vg.Centimeter
	width := boxW + shapeW + paramW + 2*vg.Centimeter
	top := 18 * vg.Millimeter
	height := top + vg.Length(len(rows))*(rowH+gapH) + 10*vg.Millimeter
	return &Figure{Width: width, Height: height, draw: func(dc draw.Canvas) {
		whiteWithTitle(dc, title)
		x0 := dc.Min.X + vg.Centimeter
		head := textStyle(9, draw.XCenter, draw.YBottom)
		head.Color = grey
		y := dc.Max.Y - top
		dc.FillText(head, vg.Point{X: x0 + boxW/2, Y: y + vg.Points(2)}, "layer")
		dc.FillText(head, vg.Point{X: x0 + boxW + shapeW/2, Y: y + vg.Points(2)}, "output [C, H, W]")
		dc.FillText(head, vg.Point{X: x0 + boxW + shapeW + paramW/2, Y: y + vg.Points(2)}, "parameters")
		label := textStyle(9.5, draw.XLeft, draw.YCenter)
		centred := textStyle(9.5, draw.XCenter, draw.YCenter)
		for i, r := range rows {
			box := vg.Rectangle{Min: vg.Point{X: x0, Y: y - rowH}, Max: vg.Point{X: x0 + boxW, Y: y}}
			fill, ok := kindColours[r.kind]
			if !ok {
				fill = color.White
			}
			fillRect(dc, box, fill)
			strokeRect(dc, box, color.Gray{Y: 110}, vg.Points(0.7))
			mid := y - rowH/2
			dc.FillText(label, vg.Point{X: x0 + 2*vg.Millimeter, Y: mid}, r.label)
			dc.FillText(centred, vg.Point{X: x0 + boxW + shapeW/2, Y: mid}, r.shape)
			dc.FillText(centred, vg.Point{X: x0 + boxW + shapeW + paramW/2, Y: mid}, r.params)
			if i < len(rows)-1 {
				down(dc, x0+boxW/2, y-rowH, y-rowH-gapH)
			}
			y -= rowH + gapH
		}
		dc.FillText(textStyle(10, draw.XCenter, draw.YTop), vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: y - vg.Points(2)}, footer)
	}}, nil
}

// layerLabel writes a layer as PyTorch prints it, from what the summary knows: the
// kind, the shapes before and after, and the parameter count (a convolution's
// kernel size is what makes its count).
func layerLabel(name, kind string, in []int, l nn.Layer) string {
	scope := name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		scope = name[:i]
	}
	out := l.Output
	switch kind {
	case "conv2d":
		cin, cout := in[len(in)-1], out[len(out)-1]
		k := math.Sqrt(float64(l.Params-cout) / float64(cin*cout))
		if k == math.Trunc(k) && k > 0 {
			return fmt.Sprintf("%s: Conv2d(%d → %d, %gx%g, padding %g)", scope, cin, cout, k, k, math.Floor(k/2))
		}
		return fmt.Sprintf("%s: Conv2d(%d → %d)", scope, cin, cout)
	case "linear":
		return fmt.Sprintf("%s: Linear(%d → %d)", scope, in[len(in)-1], out[len(out)-1])
	case "relu":
		return "ReLU"
	case "maxpool2x2":
		return "MaxPool2d(2, 2)"
	case "flatten":
		if len(in) == 4 {
			return fmt.Sprintf("Flatten: %d·%d·%d = %d values", in[3], in[1], in[2], in[1]*in[2]*in[3])
		}
		return "Flatten"
	case "dropout":
		return "Dropout"
	}
	return name
}

// chwShape writes a [B, H, W, C] output as PyTorch's [C, H, W], and [B, F] as [F].
func chwShape(d []int) string {
	switch len(d) {
	case 4:
		return fmt.Sprintf("[%d, %d, %d]", d[3], d[1], d[2])
	case 2:
		return fmt.Sprintf("[%d]", d[1])
	}
	return fmt.Sprint(d[1:])
}

// down draws a short arrow pointing down at x, from y0 to y1.
func down(dc draw.Canvas, x, y0, y1 vg.Length) {
	col := color.Gray{Y: 90}
	dc.StrokeLine2(draw.LineStyle{Color: col, Width: vg.Points(1)}, x, y0, x, y1+vg.Points(2))
	h := vg.Points(2.5)
	dc.FillPolygon(col, []vg.Point{{X: x, Y: y1}, {X: x - h, Y: y1 + 1.6*h}, {X: x + h, Y: y1 + 1.6*h}})
}

// Filters draws a first convolution's filters (Model.Variable("/conv1/conv/weights"),
// shaped [k, k, input channels, filters]) as a grid of small k x k images. On gray
// images (1 input channel) every filter shares one colour scale, blue for negative
// weights, white for 0, vermillion for positive, shown in a bar below; on RGB images
// (3 channels) each filter is drawn in colour, stretched to its own range. cols is
// the number of filters per row (8 when <= 0).
func Filters(title string, w train.Values, cols int) (*Figure, error) {
	if len(w.Shape) != 4 || w.Shape[0] != w.Shape[1] || len(w.Data) != w.Shape[0]*w.Shape[1]*w.Shape[2]*w.Shape[3] {
		return nil, fmt.Errorf("plot.Filters: %s has shape %v and %d values: want a convolution's weights [k, k, input channels, filters]", w.Name, w.Shape, len(w.Data))
	}
	k, in, n := w.Shape[0], w.Shape[2], w.Shape[3]
	if in != 1 && in != 3 {
		return nil, fmt.Errorf("plot.Filters: %s takes %d input channels: a first layer's filters (1 or 3 channels) can be drawn as images", w.Name, in)
	}
	scale := 0.0
	for _, v := range w.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	if scale == 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("plot.Filters: %s: the largest weight is %g: nothing to draw", w.Name, scale)
	}
	factor := max(1, 48/k)
	tiles := make([]image.Image, n)
	for f := range n {
		if in == 1 {
			vals := make([]float32, k*k)
			for p := range k * k {
				vals[p] = w.Data[p*n+f]
			}
			tiles[f] = valueImage(vals, k, k, factor, func(v float64) color.Color { return diverging(v / scale) })
		} else {
			tiles[f] = rgbFilter(w.Data, k, n, f, factor)
		}
	}
	var bar *colourScale
	if in == 1 {
		bar = &colourScale{lo: -scale, hi: scale, colour: func(v float64) color.Color { return diverging(v / scale) }, caption: "weight"}
	}
	captions := make([]string, n)
	for f := range captions {
		captions[f] = fmt.Sprint("filter ", f)
	}
	return tileFigure(title, nil, tiles, captions, cols, 1.5*vg.Centimeter, bar, ""), nil
}

// rgbFilter draws filter f of RGB weights [k, k, 3, n] in colour, its values
// stretched to [0, 1].
func rgbFilter(data []float32, k, n, f, factor int) image.Image {
	lo, hi := math.Inf(1), math.Inf(-1)
	at := func(p, c int) float64 { return float64(data[(p*3+c)*n+f]) }
	for p := range k * k {
		for c := range 3 {
			lo, hi = math.Min(lo, at(p, c)), math.Max(hi, at(p, c))
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, k, k))
	for p := range k * k {
		c := func(ch int) uint8 { return uint8(math.Round(255 * (at(p, ch) - lo) / math.Max(hi-lo, 1e-12))) }
		img.Set(p%k, p/k, color.NRGBA{R: c(0), G: c(1), B: c(2), A: 255})
	}
	return upscale(img, factor)
}

// FeatureMaps draws a layer's output for one image (Model.Activations, shaped
// [height, width, channels]) as one small image per channel. Each map is drawn on
// its own scale, so that its pattern shows whatever its size, with its largest
// absolute value written above it: black (0) to white (that value) after a ReLU or
// a pool, blue-white-vermillion around 0 where values are negative (a
// convolution's raw output). img, when not nil, is drawn first: the image the maps
// come from. The line under the grid says how many channels are 0 everywhere (ReLU
// kept nothing of them). cols is the number of channels per row (8 when <= 0).
func FeatureMaps(title string, img image.Image, a train.Values, cols int) (*Figure, error) {
	if len(a.Shape) != 3 || len(a.Data) != a.Shape[0]*a.Shape[1]*a.Shape[2] || len(a.Data) == 0 {
		return nil, fmt.Errorf("plot.FeatureMaps: %s has shape %v and %d values: want a layer's output [height, width, channels] (conv1/relu, not a flattened layer)", a.Name, a.Shape, len(a.Data))
	}
	h, w, c := a.Shape[0], a.Shape[1], a.Shape[2]
	signed := false
	for _, v := range a.Data {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("plot.FeatureMaps: %s holds %g: want finite values", a.Name, f)
		}
		signed = signed || v < 0
	}
	factor := max(1, 64/max(h, w))
	tiles := make([]image.Image, c)
	captions := make([]string, c)
	zero := 0
	vals := make([]float32, h*w)
	for ch := range c {
		peak := 0.0
		for p := range h * w {
			vals[p] = a.Data[p*c+ch]
			peak = math.Max(peak, math.Abs(float64(vals[p])))
		}
		if peak == 0 {
			zero++
		}
		scale := math.Max(peak, 1e-12)
		colour := func(v float64) color.Color { return grayLevel(v / scale) }
		if signed {
			colour = func(v float64) color.Color { return diverging(v / scale) }
		}
		tiles[ch] = valueImage(vals, h, w, factor, colour)
		captions[ch] = fmt.Sprintf("%d: %.2g", ch, peak)
	}
	note := "each map on its own scale: black 0, white its largest value (above it, after its channel number)"
	if signed {
		note = "each map on its own scale: blue negative, white 0, vermillion positive, up to its largest |value| (above it)"
	}
	note += fmt.Sprintf("\n%d channels of %dx%d, %d of them 0 everywhere", c, h, w, zero)
	return tileFigure(title, img, tiles, captions, cols, 1.6*vg.Centimeter, nil, note), nil
}

// colourScale is the colour bar under a grid of tiles.
type colourScale struct {
	lo, hi  float64
	colour  func(float64) color.Color
	caption string
}

// tileFigure lays tiles out in rows of cols, each of side tile under its caption,
// after a larger first picture when first is not nil, with the colour scale, when
// given, and the note, when not empty, below.
func tileFigure(title string, first image.Image, tiles []image.Image, captions []string, cols int, tile vg.Length, bar *colourScale, note string) *Figure {
	if cols <= 0 {
		cols = 8
	}
	cols = min(cols, len(tiles))
	rows := (len(tiles) + cols - 1) / cols
	caption := 3 * vg.Millimeter
	pitch := tile + caption + vg.Millimeter
	firstW := vg.Length(0)
	if first != nil {
		firstW = 3.4*vg.Centimeter + 4*vg.Millimeter
	}
	top, bottom := 11*vg.Millimeter, 4*vg.Millimeter
	if bar != nil || note != "" {
		bottom = 15 * vg.Millimeter
	}
	width := max(firstW+vg.Length(cols)*(tile+vg.Millimeter)+10*vg.Millimeter, 14*vg.Centimeter)
	height := top + max(vg.Length(rows)*pitch, 4*vg.Centimeter) + bottom
	return &Figure{Width: width, Height: height, draw: func(dc draw.Canvas) {
		whiteWithTitle(dc, title)
		x0 := dc.Min.X + (width-firstW-vg.Length(cols)*(tile+vg.Millimeter))/2
		y0 := dc.Max.Y - top
		if first != nil {
			r := vg.Rectangle{Min: vg.Point{X: x0, Y: y0 - caption - 3.4*vg.Centimeter}, Max: vg.Point{X: x0 + 3.4*vg.Centimeter, Y: y0 - caption}}
			imageTile(dc, r, first, "the image", 9)
			x0 += firstW
		}
		for i, t := range tiles {
			x := x0 + vg.Length(i%cols)*(tile+vg.Millimeter)
			y := y0 - vg.Length(i/cols)*pitch - caption
			imageTile(dc, vg.Rectangle{Min: vg.Point{X: x, Y: y - tile}, Max: vg.Point{X: x + tile, Y: y}}, t, captions[i], 7)
		}
		if bar != nil {
			r := vg.Rectangle{Min: vg.Point{X: (dc.Min.X+dc.Max.X)/2 - 3*vg.Centimeter, Y: dc.Min.Y + 8*vg.Millimeter}}
			r.Max = vg.Point{X: r.Min.X + 6*vg.Centimeter, Y: r.Min.Y + 3*vg.Millimeter}
			colourBar(dc, r, bar.lo, bar.hi, bar.colour, bar.caption)
		}
		if note != "" {
			dc.FillText(textStyle(9, draw.XCenter, draw.YTop), vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Min.Y + 12*vg.Millimeter}, note)
		}
	}}
}
