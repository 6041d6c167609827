package plot

import (
	"image"
	"image/color"
	"math"
	"strconv"

	xfont "golang.org/x/image/font"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Drawing helpers of the figures that show the inside of a network: number grids,
// tinted cells, image tiles and colour bars, drawn straight on the canvas.

// textStyle returns the default font at size points, aligned as given.
func textStyle(size float64, xa text.XAlignment, ya text.YAlignment) text.Style {
	sty := text.Style{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, XAlign: xa, YAlign: ya}
	sty.Font.Size = vg.Points(size)
	return sty
}

// bold returns sty in the bold face.
func bold(sty text.Style) text.Style {
	sty.Font.Weight = xfont.WeightBold
	return sty
}

// number formats a grid value: whole numbers without decimals, others with up to
// two ("0.5", "-1.25").
func number(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// cellRect is the rectangle of cell (r, c) of a grid whose top-left corner is at
// top, with square cells of side size: row 0 at the top.
func cellRect(top vg.Point, size vg.Length, r, c int) vg.Rectangle {
	x := top.X + vg.Length(c)*size
	y := top.Y - vg.Length(r+1)*size
	return vg.Rectangle{Min: vg.Point{X: x, Y: y}, Max: vg.Point{X: x + size, Y: y + size}}
}

// fillRect fills a rectangle with col.
func fillRect(c draw.Canvas, r vg.Rectangle, col color.Color) {
	c.SetColor(col)
	c.Fill(r.Path())
}

// strokeRect outlines a rectangle with col at the given width.
func strokeRect(c draw.Canvas, r vg.Rectangle, col color.Color, width vg.Length) {
	c.SetColor(col)
	c.SetLineWidth(width)
	c.SetLineDash(nil, 0)
	c.Stroke(r.Path())
}

// gridCell says how to draw one cell of a number grid.
type gridCell struct {
	fill  color.Color // nil: white
	faint bool        // grey text (padding)
	bold  bool
}

// numberGrid draws vals as a grid of cells with their numbers, top-left at top,
// each cell styled by style (which may be nil).
func numberGrid(c draw.Canvas, top vg.Point, size vg.Length, vals [][]float64, style func(r, col int) gridCell) {
	sty := textStyle(float64(size/vg.Points(1))*0.36, draw.XCenter, draw.YCenter)
	for r, row := range vals {
		for col, v := range row {
			st := gridCell{}
			if style != nil {
				st = style(r, col)
			}
			rect := cellRect(top, size, r, col)
			if st.fill != nil {
				fillRect(c, rect, st.fill)
			}
			strokeRect(c, rect, color.Gray{Y: 150}, vg.Points(0.5))
			s := sty
			if st.faint {
				s.Color = color.Gray{Y: 150}
			}
			if st.bold {
				s = bold(s)
			}
			c.FillText(s, vg.Point{X: (rect.Min.X + rect.Max.X) / 2, Y: (rect.Min.Y + rect.Max.Y) / 2}, number(v))
		}
	}
}

// tint mixes col with white: amount 0 is white, 1 is col.
func tint(col color.Color, amount float64) color.Color {
	amount = math.Max(0, math.Min(1, amount))
	r, g, b, _ := col.RGBA()
	mix := func(v uint32) uint8 { return uint8(255 - amount*(255-float64(v>>8))) }
	return color.NRGBA{R: mix(r), G: mix(g), B: mix(b), A: 255}
}

// diverging maps v in [-1, 1] to blue (negative), white (0) and vermillion
// (positive).
func diverging(v float64) color.Color {
	if math.IsNaN(v) {
		return color.White
	}
	if v < 0 {
		return tint(blue, -v)
	}
	return tint(vermillon, v)
}

// grayLevel maps v in [0, 1] to black (0) ... white (1).
func grayLevel(v float64) color.Color {
	if math.IsNaN(v) {
		v = 0
	}
	return color.Gray{Y: uint8(math.Round(255 * math.Max(0, math.Min(1, v))))}
}

// valueImage paints an h x w array of values (row-major) with colour, and enlarges
// it by an integer factor so each value stays a crisp square.
func valueImage(vals []float32, h, w, factor int, colour func(float64) color.Color) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, colour(float64(vals[y*w+x])))
		}
	}
	return upscale(img, factor)
}

// colourBar draws a horizontal bar of the colour map from lo to hi in rect, with the
// ends (and 0, when inside) labelled under it, and a caption to its left.
func colourBar(c draw.Canvas, rect vg.Rectangle, lo, hi float64, colour func(float64) color.Color, caption string) {
	const steps = 64
	w := (rect.Max.X - rect.Min.X) / steps
	for i := range steps {
		v := lo + (hi-lo)*(float64(i)+0.5)/steps
		x := rect.Min.X + vg.Length(i)*w
		fillRect(c, vg.Rectangle{Min: vg.Point{X: x, Y: rect.Min.Y}, Max: vg.Point{X: x + w + vg.Points(0.3), Y: rect.Max.Y}}, colour(v))
	}
	strokeRect(c, rect, color.Gray{Y: 120}, vg.Points(0.5))
	sty := textStyle(8, draw.XCenter, draw.YTop)
	at := func(v float64) vg.Length { return rect.Min.X + vg.Length((v-lo)/(hi-lo))*(rect.Max.X-rect.Min.X) }
	labels := []float64{lo, hi}
	if lo < 0 && hi > 0 {
		labels = append(labels, 0)
	}
	for _, v := range labels {
		c.FillText(sty, vg.Point{X: at(v), Y: rect.Min.Y - vg.Points(2)}, strconv.FormatFloat(v, 'g', 3, 64))
	}
	cap := textStyle(9, draw.XRight, draw.YCenter)
	c.FillText(cap, vg.Point{X: rect.Min.X - vg.Points(6), Y: (rect.Min.Y + rect.Max.Y) / 2}, caption)
}

// imageTile draws img into rect (scaled to fit, centred, aspect kept) with an
// outline, and a caption above it when not empty.
func imageTile(c draw.Canvas, rect vg.Rectangle, img image.Image, caption string, captionSize float64) {
	b := img.Bounds()
	w, h := rect.Max.X-rect.Min.X, rect.Max.Y-rect.Min.Y
	scale := math.Min(float64(w)/float64(b.Dx()), float64(h)/float64(b.Dy()))
	dw, dh := vg.Length(scale*float64(b.Dx())), vg.Length(scale*float64(b.Dy()))
	r := vg.Rectangle{Min: vg.Point{X: rect.Min.X + (w-dw)/2, Y: rect.Min.Y + (h-dh)/2}}
	r.Max = vg.Point{X: r.Min.X + dw, Y: r.Min.Y + dh}
	c.DrawImage(r, img)
	strokeRect(c, r, color.Gray{Y: 170}, vg.Points(0.5))
	if caption != "" {
		c.FillText(textStyle(captionSize, draw.XCenter, draw.YBottom), vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: r.Max.Y + vg.Points(1.5)}, caption)
	}
}
