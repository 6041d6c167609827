package nn

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
)

// This file is the Go formulation of a convolution whose output a 2x2 max-pool
// takes (ReLU between them), as in the article's model. The convolution computes
// its output split by the parity of its rows and columns, "phases": phase 2*t+s
// holds the outputs at rows 2r+t, columns 2c+s, at row r, column c of its plane.
// The pool's window (r, c) is then position (r, c) of the four phases, and the pool
// a maximum over the leading axis of [4, ...] (the Go backend's SIMD reduction),
// with a gradient of elementwise SIMD operations and one product with a 4x4 matrix,
// where the row-major layout needs maxima over strided pairs and 2x2 upsampling.
//
// The input is split the same way (a phase grid); each output phase's im2col row,
// for a kernel offset and channel, is then one input phase plane shifted by whole
// rows and columns: one slice per image of the gather, as on the row-major grid.

// phaseGrid is a convolution's input split by the parity of rows and columns:
// data [4, groups, c, bg, hq, wq] ([4, c, groups, bg, hq, wq] when channelMajor),
// phase 2*ty+tx holding the image's rows 2r+ty and columns 2c+tx at plane row top+r,
// column c, zeros everywhere else. Each plane has at least top zero rows above its
// image rows and as many below, and zero columns after them (phasePads); a row that
// reads before its first column reads the previous row's zero columns.
type phaseGrid struct {
	data         *graph.Node
	h, w         int // the image's rows and columns
	top          int // zero rows above each plane's first image row
	channelMajor bool
}

// phasePads returns, for an odd kernel, the zero rows a phase plane needs above and
// below its image rows, and the zero columns after each row. A tap reads up to
// ceil(p/2) rows and columns of a plane before and after its own (p = kernel/2); one
// more row above and below keeps every gathered slice inside its image's plane.
func phasePads(kernel int) (rows, cols int) {
	cols = (kernel/2 + 1) / 2
	if cols == 0 {
		return 0, 0
	}
	return cols + 1, cols
}

// splitMatrix is the constant [2*wz, 4*wq] 0/1 matrix that takes a pair of rows of
// wz values, the first w of each the image's, to the pair's four phases of wq
// values: value (ty, x) goes to phase 2*ty + x%2, column x/2; the other columns are
// zeros. A product with it is the Go backend's fastest way to split columns by
// parity (its transpose of a 2-wide axis runs element by element), and its rows and
// columns of zeros crop and pad at no cost.
func splitMatrix(x *graph.Node, wz, w, wq int) *graph.Node {
	m := make([]float64, 2*wz*4*wq)
	for ty := range 2 {
		for col := range w {
			m[(ty*wz+col)*4*wq+(2*ty+col%2)*wq+col/2] = 1
		}
	}
	return constOf(x, m, 2*wz, 4*wq)
}

// phaseSplit splits rows [rows, 2*wz] (row pairs of wz values, the first w of each
// the image's) into phases [4, rows, wq].
func phaseSplit(t *graph.Node, wz, w, wq int) *graph.Node {
	rows := t.Shape().Dimensions[0]
	t = graph.MatMul(t, splitMatrix(t, wz, w, wq)) // [rows, 4*wq]
	return graph.TransposeAllAxes(graph.Reshape(t, rows, 4, wq), 1, 0, 2)
}

// phaseJoin is phaseSplit's adjoint: [4, rows, wq] back to [rows, 2*wz].
func phaseJoin(v *graph.Node, wz, w, wq int) *graph.Node {
	rows := v.Shape().Dimensions[1]
	v = graph.Reshape(graph.TransposeAllAxes(v, 1, 0, 2), rows, 4*wq)
	return graph.DotGeneral(v, []int{1}, nil, splitMatrix(v, wz, w, wq), []int{1}, nil)
}

// phaseFromImages returns x [b, h, w, c] as a phase grid (channel major) for a
// convolution with the kernel, in groups of b/groups images: the split of its
// channels-first form [c, groups, b/groups, h, w].
func phaseFromImages(x *graph.Node, groups, kernel int) phaseGrid {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	return splitPhases(graph.Reshape(channelsFirst(x), c, groups, b/groups, h, w), h, w, true, kernel)
}

// phaseFromGrid returns the grid gr (no bias pending: zeros outside its h x w) as a
// phase grid for a convolution with the kernel.
func phaseFromGrid(gr *grid, kernel int) phaseGrid {
	return splitPhases(gr.data, gr.h, gr.w, false, kernel)
}

// splitPhases returns data [groups, c, bg, hz, wz] ([c, groups, ...] when
// channelMajor), images of h x w with zeros past them, as a phase grid for a
// convolution with the kernel: row pairs split by phaseSplit, then the planes'
// zero rows.
func splitPhases(data *graph.Node, h, w int, channelMajor bool, kernel int) phaseGrid {
	d := data.Shape().Dimensions
	a0, a1, bg, hz, wz := d[0], d[1], d[2], d[3], d[4]
	hp := (hz + 1) / 2
	h2, w2 := (h+1)/2, (w+1)/2
	rows, cols := phasePads(kernel)
	wq := w2 + cols
	// The rows past the image are zeros already.
	bottom := max(0, rows-(hp-h2))
	even := []compute.PadAxis{{}, {}, {}, {End: hz % 2}, {}}
	pads := []compute.PadAxis{{}, {}, {}, {}, {Start: rows, End: bottom}, {}}
	split := withGradient([]*graph.Node{data},
		func(in []*graph.Node) *graph.Node {
			t := in[0]
			if hz%2 > 0 {
				t = graph.Pad(t, zeroOf(t), even...)
			}
			t = phaseSplit(graph.Reshape(t, a0*a1*bg*hp, 2*wz), wz, w, wq)
			return graph.Pad(graph.Reshape(t, 4, a0, a1, bg, hp, wq), zeroOf(t), pads...)
		},
		func(_, v *graph.Node) []*graph.Node {
			t := graph.Reshape(graph.Pad(v, zeroOf(v), negated(pads)...), 4, a0*a1*bg*hp, wq)
			t = graph.Reshape(phaseJoin(t, wz, w, wq), a0, a1, bg, 2*hp, wz)
			if hz%2 > 0 {
				t = graph.Pad(t, zeroOf(v), negated(even)...)
			}
			return []*graph.Node{t}
		})
	return phaseGrid{data: split, h: h, w: w, top: rows, channelMajor: channelMajor}
}

// floorDiv is a/b rounded down (b > 0).
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// convPhase is the convolution of the phase grid in with weights [k, k, c, f]
// (stride 1, same zero padding), without bias, split by phases:
// [4, groups*f, bg*h2*wq], phase 2*t+s of filter f of group g at row r, column c of
// its image's plane being the output at row 2r+t, column 2c+s; h2 = ceil(h/2), and
// the columns from ceil(w/2) on hold values to ignore, as do the rows 2r+t >= h.
//
// colsT [4*groups, k*k*c, bg*h2*wq] is one Gather of [bg, h2*wq] slices of the
// phase planes, one per (output phase, group, kernel offset, channel); the output
// is Wᵀ·colsT, batched over (phase, group) (im2colConv, as convGrid's).
func convPhase(in phaseGrid, weights *graph.Node, kernel int) phaseOut {
	d := in.data.Shape().Dimensions
	groups, c, bg, hq, wq := d[1], d[2], d[3], d[4], d[5]
	if in.channelMajor {
		groups, c = c, groups
	}
	f := weights.Shape().Dimensions[3]
	p := kernel / 2
	h2 := (in.h + 1) / 2
	r, l, blocks := h2*wq, hq*wq, 4*groups*c
	starts := make([]int64, 0, 2*4*groups*kernel*kernel*c)
	for o := range 4 {
		t, s := o/2, o%2
		for g := range groups {
			for dy := range kernel {
				sy := floorDiv(t+dy-p, 2)
				ty := t + dy - p - 2*sy
				for dx := range kernel {
					sx := floorDiv(s+dx-p, 2)
					tx := s + dx - p - 2*sx
					for ch := range c {
						block := ((ty*2+tx)*groups+g)*c + ch
						if in.channelMajor {
							block = ((ty*2+tx)*c+ch)*groups + g
						}
						starts = append(starts, int64(block), int64((in.top+sy)*wq+sx))
					}
				}
			}
		}
	}
	y := im2colConv(in.data, weights, []int{blocks, bg, l}, starts, []int{0, 2}, []int{1, bg, r}, 4*groups, bg*r, 4, groups*f, bg*r)
	return phaseOut{y: y, groups: groups, bg: bg, h2: h2, wq: wq}
}

// phaseOut is convPhase's output y [4, groups*f, bg*h2*wq], with its layout.
type phaseOut struct {
	y                  *graph.Node
	groups, bg, h2, wq int
}

// poolPhase is ReLU(MaxPool2x2(y) + bias) of convPhase's output y [4, groups*f, n]
// for images of h x w: the pooled grid [groups, f, bg, h2, wq] (n = bg*h2*wq),
// zero outside the pooled h/2 x w/2 (PyTorch's floor mode drops an odd last row or
// column). As in the article's order, at a quarter of the work: the bias and the
// ReLU after the pool.
//
// Gradient, with G = dZ where Z > 0 (zero outside the pooled image, where Z is 0):
// the bias gets the sums of G; y gets G at the first phase, in the window's
// row-major order (the phase order), holding the window's maximum, as PyTorch's and
// XLA's max-pool gradients do where a window ties (a uniform region of an image
// makes it). With e = 1 + sign(y - max), 1 where y holds the maximum and 0 elsewhere,
// (F·e)[q] = e[q] - 2 * (maxima before q) for the 4x4 matrix F of firstOf4, 1 at
// each window's first maximum and 0 or less elsewhere.
func poolPhase(po phaseOut, bias *graph.Node, h, w int) *graph.Node {
	y, groups, bg, h2, wq := po.y, po.groups, po.bg, po.h2, po.wq
	f := bias.Shape().Dimensions[0]
	n := bg * h2 * wq
	mask := make([]float64, n)
	for i := range bg {
		for r := range h / 2 {
			for col := range w / 2 {
				mask[(i*h2+r)*wq+col] = 1
			}
		}
	}
	// Every node that the gradient reuses keeps one shape: the Go backend copies a
	// Reshape's input when another op still needs it.
	var y4, pooled *graph.Node
	return withGradient([]*graph.Node{y, bias},
		func(in []*graph.Node) *graph.Node {
			y4 = in[0]
			pooled = graph.Reshape(graph.ReduceMax(y4, 0), 1, groups*f, n)
			bb := graph.Reshape(graph.BroadcastPrefix(in[1], groups), 1, groups*f, 1)
			z := graph.Max(graph.Add(pooled, bb), zeroOf(y))
			z = graph.Mul(z, constOf(y, mask, 1, 1, n))
			return graph.Reshape(z, groups, f, bg, h2, wq)
		},
		func(out, v *graph.Node) []*graph.Node {
			zero := zeroOf(y)
			gz := graph.Reshape(graph.Where(graph.GreaterThan(out, zero), v, zero), 1, groups*f, n)
			db := graph.ReduceSum(graph.Reshape(graph.ReduceSum(gz, 2), groups, f), 0)
			e := graph.AddScalar(graph.Sign(graph.Sub(y4, pooled)), 1)
			first := graph.Max(graph.DotGeneral(constOf(y, firstOf4, 4, 4), []int{1}, nil, e, []int{0}, nil), zero)
			return []*graph.Node{graph.Mul(first, gz), db}
		})
}

// firstOf4 is the 4x4 matrix F of poolPhase: row q is 1 at q and -2 before it.
var firstOf4 = []float64{
	1, 0, 0, 0,
	-2, 1, 0, 0,
	-2, -2, 1, 0,
	-2, -2, -2, 1,
}
