package plot

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Worked examples of the two operations of a CNN's feature extractor, on grids
// small enough to show every number: a convolution and a 2x2 max-pool.

// ConvolveGrid computes a 2-D convolution of input with kernel as PyTorch's
// Conv2d(1, 1, k, padding=k//2, bias=False) does: stride 1, zero padding that keeps
// the size, and no flip of the kernel (a cross-correlation, as in every deep-learning
// library). out[r][c] is the sum of kernel[i][j]·input[r+i-k/2][c+j-k/2].
func ConvolveGrid(input, kernel [][]float64) ([][]float64, error) {
	h, w, err := gridSize("input", input)
	if err != nil {
		return nil, err
	}
	k, kw, err := gridSize("kernel", kernel)
	if err != nil {
		return nil, err
	}
	if k != kw || k%2 != 1 {
		return nil, fmt.Errorf("plot.ConvolveGrid: a %dx%d kernel: want a square kernel of odd size (3x3)", k, kw)
	}
	p := k / 2
	out := make([][]float64, h)
	for r := range h {
		out[r] = make([]float64, w)
		for c := range w {
			for i := range k {
				for j := range k {
					if y, x := r+i-p, c+j-p; y >= 0 && y < h && x >= 0 && x < w {
						out[r][c] += kernel[i][j] * input[y][x]
					}
				}
			}
		}
	}
	return out, nil
}

// ReLUGrid returns max(v, 0) of every value of g.
func ReLUGrid(g [][]float64) [][]float64 {
	out := make([][]float64, len(g))
	for r, row := range g {
		out[r] = make([]float64, len(row))
		for c, v := range row {
			out[r][c] = math.Max(v, 0)
		}
	}
	return out
}

// MaxPoolGrid computes a 2x2 max-pool with stride 2, as PyTorch's MaxPool2d(2, 2):
// out[r][c] is the largest of input[2r..2r+1][2c..2c+1]. An odd last row or column
// is dropped (PyTorch's floor mode).
func MaxPoolGrid(input [][]float64) ([][]float64, error) {
	h, w, err := gridSize("input", input)
	if err != nil {
		return nil, err
	}
	if h < 2 || w < 2 {
		return nil, fmt.Errorf("plot.MaxPoolGrid: a %dx%d input: want at least 2x2", h, w)
	}
	out := make([][]float64, h/2)
	for r := range h / 2 {
		out[r] = make([]float64, w/2)
		for c := range w / 2 {
			out[r][c] = max(input[2*r][2*c], input[2*r][2*c+1], input[2*r+1][2*c], input[2*r+1][2*c+1])
		}
	}
	return out, nil
}

// gridSize checks that g is a non-empty rectangle of finite numbers of at most
// 16x16 (more would not be readable) and returns its size.
func gridSize(what string, g [][]float64) (h, w int, err error) {
	if len(g) == 0 || len(g[0]) == 0 {
		return 0, 0, fmt.Errorf("plot: the %s grid is empty", what)
	}
	h, w = len(g), len(g[0])
	if h > 16 || w > 16 {
		return 0, 0, fmt.Errorf("plot: a %dx%d %s grid: at most 16x16 (the numbers are drawn in the cells)", h, w, what)
	}
	for r, row := range g {
		if len(row) != w {
			return 0, 0, fmt.Errorf("plot: row %d of the %s grid has %d values, row 0 has %d: want a rectangle", r, what, len(row), w)
		}
		for c, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, 0, fmt.Errorf("plot: the %s grid's value at row %d, column %d is %v: want a finite number", what, r, c, v)
			}
		}
	}
	return h, w, nil
}

// Cell is a position in a grid: row and column, from 0 at the top left.
type Cell struct{ Row, Col int }

// highlightColours mark the windows of a worked example and the outputs they make.
var highlightColours = []color.Color{vermillon, blue, green}

// Convolution draws a worked convolution: the input with its zero padding, the
// kernel, and the output ConvolveGrid computes, every number in its cell. For each
// output cell in highlight (at most 3; by default the top-left corner, where the
// padding counts, and the centre), the window of the input that produced it is
// framed in the cell's colour, and the sum of products is written out below.
func Convolution(title string, input, kernel [][]float64, highlight ...Cell) (*Figure, error) {
	out, err := ConvolveGrid(input, kernel)
	if err != nil {
		return nil, err
	}
	h, w, k, p := len(input), len(input[0]), len(kernel), len(kernel)/2
	if highlight, err = checkHighlights(highlight, h, w); err != nil {
		return nil, err
	}
	padded := zeroPadded(input, p)
	sums := make([]string, len(highlight))
	for i, hc := range highlight {
		sums[i] = productSum(padded, kernel, hc, out[hc.Row][hc.Col])
	}
	cell := 7 * vg.Millimeter
	gap := 12 * vg.Millimeter
	gridsW := vg.Length(w+2*p+k+w)*cell + 2*gap
	top := 16 * vg.Millimeter
	gridsH := vg.Length(h+2*p) * cell
	sumLine := 5 * vg.Millimeter
	width := max(gridsW+12*vg.Millimeter, 15*vg.Centimeter)
	height := top + gridsH + 8*vg.Millimeter + vg.Length(len(sums)+1)*sumLine + 2*vg.Millimeter
	inMax := absMax(input)
	kMax, outMax := absMax(kernel), absMax(out)
	return &Figure{Width: width, Height: height, draw: func(dc draw.Canvas) {
		left, y0, label := workedFrame(dc, title, width, gridsW, top)
		// The input, padded: the padding's zeros in grey.
		numberGrid(dc, vg.Point{X: left, Y: y0}, cell, padded, func(r, c int) gridCell {
			if r < p || r >= h+p || c < p || c >= w+p {
				return gridCell{fill: color.Gray{Y: 246}, faint: true}
			}
			return gridCell{fill: grayTint(padded[r][c], inMax)}
		})
		inner := cellRect(vg.Point{X: left, Y: y0}, cell, h+p-1, p)
		inner.Max = vg.Point{X: inner.Min.X + vg.Length(w)*cell, Y: inner.Min.Y + vg.Length(h)*cell}
		strokeRect(dc, inner, color.Gray{Y: 40}, vg.Points(1.2))
		dc.FillText(label, vg.Point{X: left + vg.Length(w+2*p)*cell/2, Y: y0 + vg.Points(3)}, fmt.Sprintf("input %dx%d (framed), zero padding %d", h, w, p))
		// The kernel, vertically centred.
		kx := left + vg.Length(w+2*p)*cell + gap
		ky := y0 - (gridsH-vg.Length(k)*cell)/2
		numberGrid(dc, vg.Point{X: kx, Y: ky}, cell, kernel, func(r, c int) gridCell {
			return gridCell{fill: diverging(0.6 * kernel[r][c] / kMax)}
		})
		dc.FillText(label, vg.Point{X: kx + vg.Length(k)*cell/2, Y: ky + vg.Points(3)}, fmt.Sprintf("kernel %dx%d", k, k))
		arrow(dc, kx-gap+vg.Millimeter*2, kx-vg.Millimeter*2, y0-gridsH/2)
		ox := kx + vg.Length(k)*cell + gap
		arrow(dc, ox-gap+vg.Millimeter*2, ox-vg.Millimeter*2, y0-gridsH/2)
		oy := y0 - vg.Length(p)*cell
		numberGrid(dc, vg.Point{X: ox, Y: oy}, cell, out, func(r, c int) gridCell {
			for i, hc := range highlight {
				if hc == (Cell{r, c}) {
					return gridCell{fill: tint(highlightColours[i], 0.35), bold: true}
				}
			}
			return gridCell{fill: diverging(0.4 * out[r][c] / outMax)}
		})
		dc.FillText(label, vg.Point{X: ox + vg.Length(w)*cell/2, Y: oy + vg.Points(3)}, fmt.Sprintf("output %dx%d", h, w))
		for i, hc := range highlight {
			col := highlightColours[i]
			win := cellRect(vg.Point{X: left, Y: y0}, cell, hc.Row, hc.Col)
			win.Max = vg.Point{X: win.Min.X + vg.Length(k)*cell, Y: win.Max.Y}
			win.Min.Y = win.Max.Y - vg.Length(k)*cell
			strokeRect(dc, win, col, vg.Points(2.2))
			strokeRect(dc, cellRect(vg.Point{X: ox, Y: oy}, cell, hc.Row, hc.Col), col, vg.Points(2.2))
			sty := textStyle(9, draw.XLeft, draw.YTop)
			sty.Color = col
			dc.FillText(sty, vg.Point{X: dc.Min.X + 6*vg.Millimeter, Y: y0 - gridsH - 6*vg.Millimeter - vg.Length(i+1)*sumLine}, sums[i])
		}
		dc.FillText(textStyle(9, draw.XLeft, draw.YTop), vg.Point{X: dc.Min.X + 6*vg.Millimeter, Y: y0 - gridsH - 6*vg.Millimeter},
			"each output: the sum of input · kernel over its window, the kernel laid on the window as drawn (row by row)")
	}}, nil
}

// checkHighlights returns the output cells to highlight in an h x w output: those
// given, or by default the top-left corner and the centre.
func checkHighlights(cells []Cell, h, w int) ([]Cell, error) {
	if len(cells) == 0 {
		return []Cell{{0, 0}, {h / 2, w / 2}}, nil
	}
	if len(cells) > len(highlightColours) {
		return nil, fmt.Errorf("plot.Convolution: %d cells to highlight: at most %d", len(cells), len(highlightColours))
	}
	for _, c := range cells {
		if c.Row < 0 || c.Row >= h || c.Col < 0 || c.Col >= w {
			return nil, fmt.Errorf("plot.Convolution: cell (%d, %d) outside the %dx%d output", c.Row, c.Col, h, w)
		}
	}
	return cells, nil
}

// zeroPadded returns g with p rows and columns of zeros around it.
func zeroPadded(g [][]float64, p int) [][]float64 {
	h, w := len(g), len(g[0])
	out := make([][]float64, h+2*p)
	for r := range out {
		out[r] = make([]float64, w+2*p)
		if r >= p && r < h+p {
			copy(out[r][p:], g[r-p])
		}
	}
	return out
}

// productSum writes out an output cell's sum of products: "row 0, column 0:
// 0·1 + 0·0 + ... = 3".
func productSum(padded, kernel [][]float64, hc Cell, result float64) string {
	var terms []string
	for i, row := range kernel {
		for j, kv := range row {
			x := padded[hc.Row+i][hc.Col+j]
			t := number(x) + "·" + number(kv)
			if kv < 0 {
				t = number(x) + "·(" + number(kv) + ")"
			}
			terms = append(terms, t)
		}
	}
	return fmt.Sprintf("output row %d, column %d:  %s = %s", hc.Row, hc.Col, strings.Join(terms, " + "), number(result))
}

// windowColours tint the 2x2 windows of a max-pool, alternating like a
// chequerboard so that neighbours differ.
var windowColours = []color.Color{tint(blue, 0.3), tint(vermillon, 0.3), tint(green, 0.3), tint(color.RGBA{230, 159, 0, 255}, 0.35)}

// MaxPooling draws a worked 2x2 max-pool with stride 2: the input with each window
// tinted, the maximum of each window in bold and framed, and the output
// (MaxPoolGrid) with each cell tinted as the window it came from. An odd last row
// or column is drawn grey: the pool drops it, as PyTorch does.
func MaxPooling(title string, input [][]float64) (*Figure, error) {
	out, err := MaxPoolGrid(input)
	if err != nil {
		return nil, err
	}
	h, w := len(input), len(input[0])
	winColour := func(r, c int) color.Color { return windowColours[((r/2)%2)*2+(c/2)%2] }
	// The first maximum of each window (row-major), as PyTorch's gradient picks it.
	isMax := func(r, c int) bool {
		wr, wc := r/2*2, c/2*2
		for _, p := range [][2]int{{wr, wc}, {wr, wc + 1}, {wr + 1, wc}, {wr + 1, wc + 1}} {
			if input[p[0]][p[1]] == out[r/2][c/2] {
				return p == [2]int{r, c}
			}
		}
		return false
	}
	cell := 8 * vg.Millimeter
	gap := 16 * vg.Millimeter
	top := 16 * vg.Millimeter
	gridsW := vg.Length(w+w/2)*cell + gap
	gridsH := vg.Length(h) * cell
	width := max(gridsW+20*vg.Millimeter, 12*vg.Centimeter)
	height := top + gridsH + 12*vg.Millimeter
	return &Figure{Width: width, Height: height, draw: func(dc draw.Canvas) {
		left, y0, label := workedFrame(dc, title, width, gridsW, top)
		numberGrid(dc, vg.Point{X: left, Y: y0}, cell, input, func(r, c int) gridCell {
			if r >= h/2*2 || c >= w/2*2 {
				return gridCell{fill: color.Gray{Y: 225}, faint: true}
			}
			return gridCell{fill: winColour(r, c), bold: isMax(r, c)}
		})
		for r := range h / 2 * 2 {
			for c := range w / 2 * 2 {
				if isMax(r, c) {
					rect := cellRect(vg.Point{X: left, Y: y0}, cell, r, c)
					strokeRect(dc, rect, color.Black, vg.Points(1.5))
				}
			}
		}
		for r := 0; r < h/2*2; r += 2 {
			for c := 0; c < w/2*2; c += 2 {
				win := cellRect(vg.Point{X: left, Y: y0}, cell, r+1, c)
				win.Max.X += cell
				win.Max.Y += cell
				strokeRect(dc, win, color.Gray{Y: 60}, vg.Points(1))
			}
		}
		dc.FillText(label, vg.Point{X: left + vg.Length(w)*cell/2, Y: y0 + vg.Points(3)}, fmt.Sprintf("input %dx%d: 2x2 windows, the maximum in bold", h, w))
		ox := left + vg.Length(w)*cell + gap
		oy := y0 - (gridsH-vg.Length(h/2)*cell)/2
		arrow(dc, ox-gap+2*vg.Millimeter, ox-2*vg.Millimeter, y0-gridsH/2)
		numberGrid(dc, vg.Point{X: ox, Y: oy}, cell, out, func(r, c int) gridCell {
			return gridCell{fill: winColour(2*r, 2*c), bold: true}
		})
		dc.FillText(label, vg.Point{X: ox + vg.Length(w/2)*cell/2, Y: oy + vg.Points(3)}, fmt.Sprintf("output %dx%d", h/2, w/2))
		if h%2 == 1 || w%2 == 1 {
			note := textStyle(9, draw.XCenter, draw.YTop)
			dc.FillText(note, vg.Point{X: left + vg.Length(w)*cell/2, Y: y0 - gridsH - 3*vg.Millimeter}, "grey: the odd last row or column, dropped")
		}
	}}, nil
}

// workedFrame paints a worked example's figure white with its title and returns
// where its grids start (left, and the top y under the title) and the style of
// their labels.
func workedFrame(dc draw.Canvas, title string, width, gridsW, top vg.Length) (left, y0 vg.Length, label text.Style) {
	whiteWithTitle(dc, title)
	return dc.Min.X + (width-gridsW)/2, dc.Max.Y - top, textStyle(9, draw.XCenter, draw.YBottom)
}

// arrow draws a horizontal arrow from x0 to x1 at height y.
func arrow(dc draw.Canvas, x0, x1, y vg.Length) {
	sty := draw.LineStyle{Color: color.Gray{Y: 80}, Width: vg.Points(1.2)}
	dc.StrokeLine2(sty, x0, y, x1, y)
	head := 1.5 * vg.Millimeter
	dc.FillPolygon(color.Gray{Y: 80}, []vg.Point{{X: x1, Y: y}, {X: x1 - 2*head, Y: y + head}, {X: x1 - 2*head, Y: y - head}})
}

// absMax is the largest absolute value of g, or 1 when all are 0.
func absMax(g [][]float64) float64 {
	m := 0.0
	for _, row := range g {
		for _, v := range row {
			m = math.Max(m, math.Abs(v))
		}
	}
	if m == 0 {
		return 1
	}
	return m
}

// grayTint shades an input value like a pixel, lightly enough for its number to
// stay readable: 0 white, the largest value mid grey (negative values blue).
func grayTint(v, maxAbs float64) color.Color {
	if v < 0 {
		return tint(blue, 0.4*(-v)/maxAbs)
	}
	return tint(color.Black, 0.45*v/maxAbs)
}
