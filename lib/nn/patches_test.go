package nn

import (
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// The im2col view of an image batch, built from slices and concatenations that GoMLX
// differentiates by itself: the reference the tests hold the layers against.

// padSpatial adds pad zeros on both sides of the height and width axes of x,
// shaped [batch, height, width, channels], by concatenation.
func padSpatial(x *Node, pad int) *Node {
	if pad == 0 {
		return x
	}
	g := x.Graph()
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	zh := graph.Zeros(g, shapes.Make(x.DType(), b, pad, w, c))
	x = graph.Concatenate([]*graph.Node{zh, x, zh}, 1)
	zw := graph.Zeros(g, shapes.Make(x.DType(), b, h+2*pad, pad, c))
	return graph.Concatenate([]*graph.Node{zw, x, zw}, 2)
}

// patches returns the im2col view of x ([batch, height, width, channels]) for a
// kernel x kernel window with stride 1 and "same" zero padding: shape
// [batch, height, width, kernel*kernel*channels], ordered (dy, dx, channel).
func patches(x *Node, kernel int) *Node {
	d := x.Shape().Dimensions
	views := patchViews(padSpatial(x, kernel/2), 1, d[1], d[2], kernel)
	if len(views) == 1 {
		return views[0]
	}
	return graph.Concatenate(views, -1)
}

// patchViews returns the kernel*kernel shifted views of xp, which is an input already
// zero padded by kernel/2 on both sides of its height and width, those being axes
// hAxis and hAxis+1: the pieces of the input's im2col matrix, in (dy, dx) order, each
// with xp's shape but height h and width w.
func patchViews(xp *graph.Node, hAxis, h, w, kernel int) []*graph.Node {
	views := make([]*graph.Node, 0, kernel*kernel+1)
	spec := make([]graph.SliceAxisSpec, xp.Rank())
	for dy := range kernel {
		for dx := range kernel {
			for a := range spec {
				spec[a] = graph.AxisRange()
			}
			spec[hAxis], spec[hAxis+1] = graph.AxisRange(dy, dy+h), graph.AxisRange(dx, dx+w)
			views = append(views, graph.Slice(xp, spec...))
		}
	}
	return views
}
