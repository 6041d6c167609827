package nn

import (
	"fmt"
	"math"
	"runtime"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// This file is the formulation of the convolution and pooling layers for GoMLX's
// pure-Go backend, whose own convolution and pooling are plain loops but whose
// matrix products, gathers and scatter-adds are fast. Activations are held channels
// first on "grids" of zero-padded images ([groups, c, b/groups, hq, wq]), on which a
// convolution's im2col matrix is one Gather of contiguous runs and the convolution
// one batched matrix product, with no transpose of anything large in the gradients
// (convGrid says how). Conv2D and MaxPool2x2 return ordinary [b, h, w, c] nodes and
// record their grid; the next layer uses the grid, and a conversion nobody uses is
// never computed. A max-pool after a convolution takes the same convolution computed
// by phases (phase.go), which Conv2D records unbuilt: in the article's model the
// row-major convolution above only serves the layers' outputs (LayerOutputs), and
// the training and inference graphs never run it.

// grid is the Go formulation's form of a [b, h, w, c] activation.
type grid struct {
	data *graph.Node // [groups, c, b/groups, hq, wq]
	h, w int         // the valid rows and columns of each image
	// bias [c], when not nil, is still to be added to data, which is then a
	// convolution's raw output: its positions outside h x w hold values to ignore.
	// When nil, those positions hold zeros.
	bias *graph.Node
	// phases, for a convolution's raw output, returns the same convolution computed
	// by phases (convPhase), for a max-pool to take; it is built at the first call.
	phases func() phaseOut
}

// groupsFor returns how many groups a batch of b images is split into, each
// group one batch item of every matrix product: the backend splits a batched
// product between its workers by batch item when it has at least twice as many
// items as workers (an unbatched one with a small output, like a weight gradient,
// it splits by output rows, each worker packing the whole other operand again). So
// twice the cores the process may use, but at least 8 images a group (each group
// carries two zero images), and a divisor of b.
func groupsFor(b int) int {
	return divisorAtMost(b, min(2*runtime.GOMAXPROCS(0), max(b/8, 1)))
}

// phaseGroupsFor is groupsFor for a convolution by phases (convPhase), whose
// matrix products are batched over 4 phases times the groups: the fewest groups
// that give the backend twice as many batch items as workers, at least 8 images a
// group, and a divisor of b. Fewer groups make fewer, longer gathered slices.
func phaseGroupsFor(b int) int {
	return divisorAtMost(b, min((runtime.GOMAXPROCS(0)+1)/2, max(b/8, 1)))
}

// divisorAtMost returns the largest divisor of b that is at most n (1 when n < 2).
func divisorAtMost(b, n int) int {
	for g := n; g > 1; g-- {
		if b%g == 0 {
			return g
		}
	}
	return 1
}

// gridsKey keys the graph state mapping [b, h, w, c] nodes to their grids.
type gridsKey struct{}

func setGrid(x *graph.Node, gr *grid) {
	g := x.Graph()
	m, _ := g.State(gridsKey{}).(map[*graph.Node]*grid)
	if m == nil {
		m = map[*graph.Node]*grid{}
		g.AttachState(gridsKey{}, m)
	}
	m[x] = gr
}

// gridOf returns the grid recorded for x, or nil.
func gridOf(x *graph.Node) *grid {
	m, _ := x.Graph().State(gridsKey{}).(map[*graph.Node]*grid)
	return m[x]
}

// evenAtLeast returns the smallest even number >= n.
func evenAtLeast(n int) int { return n + n%2 }

// conv2DGrid is Conv2D on the Go formulation: x [b, h, w, c], weights [k, k, c, f],
// biases [f] -> [b, h, w, f], stride 1, same zero padding.
func conv2DGrid(x, weights, biases *graph.Node, kernel int) *graph.Node {
	d := x.Shape().Dimensions
	h, w := d[1], d[2]
	f := biases.Shape().Dimensions[0]
	p := kernel / 2
	in := gridOf(x)
	if in != nil && in.bias != nil {
		in = nil // a convolution's raw output: use the images
	}
	var raw *graph.Node
	if in != nil {
		gd := in.data.Shape().Dimensions
		xp := padGrid(in.data, evenAtLeast(max(gd[3], h+p)), evenAtLeast(max(gd[4], w+p)))
		raw = convGrid(xp, false, weights, kernel, evenAtLeast(h))
	} else {
		xp := gridFromImages(x, groupsFor(d[0]), evenAtLeast(h+p), evenAtLeast(w+p))
		raw = convGrid(xp, true, weights, kernel, evenAtLeast(h))
	}
	out := graph.Add(gridToImages(raw, h, w), graph.Reshape(biases, 1, 1, 1, f))
	var byPhase phaseOut
	phases := func() phaseOut {
		if byPhase.y == nil {
			if in != nil {
				byPhase = convPhase(phaseFromGrid(in, kernel), weights, kernel)
			} else {
				byPhase = convPhase(phaseFromImages(x, phaseGroupsFor(d[0]), kernel), weights, kernel)
			}
		}
		return byPhase
	}
	setGrid(out, &grid{data: raw, h: h, w: w, bias: biases, phases: phases})
	return out
}

// poolReLUGrid is MaxPool2x2(ReLU(y)) on the Go formulation, for y a Conv2D output
// with grid gr: the pool of the convolution computed by phases (poolPhase). It
// returns the pooled [b, h/2, w/2, f] node, with its grid recorded.
func poolReLUGrid(gr *grid) *graph.Node {
	y := gr.phases()
	z := poolPhase(y, gr.bias, gr.h, gr.w)
	out := gridToImages(z, gr.h/2, gr.w/2)
	setGrid(out, &grid{data: z, h: gr.h / 2, w: gr.w / 2})
	return out
}

// gridFromImages returns x [b, h, w, c] as a grid padded for a convolution, channels
// first: [c, groups, b/groups+2, hq, wq], with a zero image before and after each
// group's images.
func gridFromImages(x *graph.Node, groups, hq, wq int) *graph.Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	pads := []compute.PadAxis{{}, {}, {Start: 1, End: 1}, {End: hq - h}, {End: wq - w}}
	return withGradient([]*graph.Node{x},
		func(in []*graph.Node) *graph.Node {
			t := graph.Reshape(channelsFirst(in[0]), c, groups, b/groups, h, w)
			return graph.Pad(t, zeroOf(x), pads...)
		},
		func(_, v *graph.Node) []*graph.Node {
			t := graph.Reshape(graph.Pad(v, zeroOf(v), negated(pads)...), c, b, h, w)
			return []*graph.Node{channelsLast(t)}
		})
}

// padGrid adds a zero image before and after each group of the grid data
// [groups, c, bg, hq0, wq0] and zero rows and columns up to hq x wq:
// [groups, c, bg+2, hq, wq], a convolution's input.
func padGrid(data *graph.Node, hq, wq int) *graph.Node {
	d := data.Shape().Dimensions
	pads := []compute.PadAxis{{}, {}, {Start: 1, End: 1}, {End: hq - d[3]}, {End: wq - d[4]}}
	return withGradient([]*graph.Node{data},
		func(in []*graph.Node) *graph.Node { return graph.Pad(in[0], zeroOf(data), pads...) },
		func(_, v *graph.Node) []*graph.Node { return []*graph.Node{graph.Pad(v, zeroOf(v), negated(pads)...)} })
}

// gridToImages returns the [b, h, w, c] images of the grid data
// [groups, c, bg, hq, wq].
func gridToImages(data *graph.Node, h, w int) *graph.Node {
	d := data.Shape().Dimensions
	groups, c, bg, hq, wq := d[0], d[1], d[2], d[3], d[4]
	b := groups * bg
	pads := []compute.PadAxis{{}, {End: hq - h}, {End: wq - w}, {}}
	return withGradient([]*graph.Node{data},
		func(in []*graph.Node) *graph.Node {
			t := in[0]
			if groups > 1 {
				t = graph.Transpose(graph.Reshape(t, groups, c, bg*hq*wq), 0, 1)
			}
			x := channelsLast(graph.Reshape(t, c, b, hq, wq))
			if hq != h || wq != w {
				// The crop is a Gather of the b*h rows' first w*c values: GoMLX cannot
				// differentiate a Pad with negative paddings (see withGradient).
				idx := indexConst(x.Graph(), indexDType(int64(b)*int64(hq*wq*c)), cropStarts(b, h, hq, wq*c), b*h, 1)
				x = graph.BackendGather(graph.Reshape(x, -1), idx, 1, []int{1}, nil, []int{0}, []int{w * c}, true)
				x = graph.Reshape(x, b, h, w, c)
			}
			return x
		},
		func(_, v *graph.Node) []*graph.Node {
			t := channelsFirst(graph.Pad(v, zeroOf(v), pads...))
			if groups > 1 {
				t = graph.Transpose(graph.Reshape(t, c, groups, bg*hq*wq), 0, 1)
			}
			return []*graph.Node{graph.Reshape(t, groups, c, bg, hq, wq)}
		})
}

// cropStarts returns where each of the b*h image rows starts in b images of hq rows
// of rowLen values: the crop's gather indices, in int64 (a batch's activations may
// hold more than 2^31 values).
func cropStarts(b, h, hq, rowLen int) []int64 {
	starts := make([]int64, 0, b*h)
	for i := range b {
		for y := range h {
			starts = append(starts, (int64(i)*int64(hq)+int64(y))*int64(rowLen))
		}
	}
	return starts
}

// channelsFirst transposes [b, h, w, c] to [c, b, h, w], as one 2-D transpose.
func channelsFirst(x *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	if c == 1 {
		return graph.Reshape(x, 1, b, h, w)
	}
	return graph.Reshape(graph.Transpose(graph.Reshape(x, b*h*w, c), 0, 1), c, b, h, w)
}

// channelsLast transposes [c, b, h, w] to [b, h, w, c], as one 2-D transpose.
func channelsLast(x *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	c, b, h, w := d[0], d[1], d[2], d[3]
	if c == 1 {
		return graph.Reshape(x, b, h, w, 1)
	}
	return graph.Reshape(graph.Transpose(graph.Reshape(x, c, b*h*w), 0, 1), b, h, w, c)
}

// negated returns the paddings that undo pads (a crop).
func negated(pads []compute.PadAxis) []compute.PadAxis {
	out := make([]compute.PadAxis, len(pads))
	for i, p := range pads {
		out[i] = compute.PadAxis{Start: -p.Start, End: -p.End}
	}
	return out
}

func zeroOf(x *graph.Node) *graph.Node { return graph.ScalarZero(x.Graph(), x.DType()) }

// constOf returns a constant of x's dtype (float32 or float64) with the given values.
func constOf(x *graph.Node, values []float64, dims ...int) *graph.Node {
	var t *tensors.Tensor
	switch x.DType() {
	case dtypes.Float32:
		v := make([]float32, len(values))
		for i, f := range values {
			v[i] = float32(f)
		}
		t = tensors.FromFlatDataAndDimensions(v, dims...)
	case dtypes.Float64:
		t = tensors.FromFlatDataAndDimensions(values, dims...)
	default:
		panic(fmt.Errorf("nn: the layers take float32 or float64, got %s", x.DType()))
	}
	return graph.Const(x.Graph(), t)
}

// convGrid is the convolution of the padded grid xp with weights [k, k, c, f]:
// [groups, f, bg, ho, wq], without bias, the output grid keeping each image's first
// ho rows of the input grid (ho even, at least the image's height: the rows below
// only hold partial sums), valid at the positions inside each image. xp is
// [groups, c, bg+2, hq, wq] (padGrid), or [c, groups, bg+2, hq, wq] when
// channelMajor (gridFromImages).
//
// Forward: colsT [groups, k*k*c, bg*ho*wq], row (dy, dx, channel) of a group being
// the input channel's grid shifted by the offset, is one Gather of contiguous runs
// (one per image, or one per group when ho = hq); the output is Wᵀ·colsT, batched
// over the groups. Gradient, with dY [groups, f, bg*ho*wq]:
//   - weights: colsT·dYᵀ, batched, contracting the last axes of both, summed over the
//     groups;
//   - input: W·dY [groups, k*k*c, bg*ho*wq], each run added back at its offset by one
//     ScatterSum (the Gather's adjoint). Positions outside the images collect values
//     too; the layers that made xp drop them (the pads' gradients crop them, the
//     pooling's masks them).
func convGrid(xp *graph.Node, channelMajor bool, weights *graph.Node, kernel, ho int) *graph.Node {
	d := xp.Shape().Dimensions
	groups, c := d[0], d[1]
	if channelMajor {
		groups, c = c, groups
	}
	bg, hq, wq := d[2]-2, d[3], d[4]
	f := weights.Shape().Dimensions[3]
	n := bg * ho * wq
	// One run per image of its first ho rows when that leaves out zero rows, else
	// one run for all the group's images.
	runs, run := bg, ho*wq
	if ho == hq {
		runs, run = 1, n
	}
	starts := convStarts(groups, c, kernel, runs, d[2], hq, wq, channelMajor)
	return im2colConv(xp, weights, []int{xp.Shape().Size()}, starts, []int{0}, []int{run}, groups, n, groups, f, bg, ho, wq)
}

// im2colConv is the convolution product of convGrid and convPhase, with its
// gradient. colsT [batch, k*k*c, n] is one Gather from x, viewed as operand, of the
// slices sliceSizes starting at starts (len(startAxes) values per slice, the
// operand's axes they index, one slice per batch item and im2col row in order); the
// output is Wᵀ·colsT [batch, f, n], batched, reshaped to out. Gradient, with dY
// [batch, f, n]: colsT·dYᵀ for the weights [k, k, c, f] (contracting the last axes
// of both, summed over the batch), W·dY scatter-added back at the same slices for
// x (the Gather's adjoint).
func im2colConv(x, weights *graph.Node, operand []int, starts []int64, startAxes, sliceSizes []int, batch, n int, out ...int) *graph.Node {
	wd := weights.Shape().Dimensions
	k, f := wd[0]*wd[1]*wd[2], wd[3]
	slices := len(starts) / len(startAxes)
	size := 1
	for _, d := range operand {
		size *= d
	}
	dtype := indexDType(int64(size))
	offsetAxes := make([]int, len(sliceSizes)) // each slice's axes follow the slice's index
	for i := range offsetAxes {
		offsetAxes[i] = i + 1
	}
	var colsT, w2, idx *graph.Node
	return withGradient([]*graph.Node{x, weights},
		func(in []*graph.Node) *graph.Node {
			idx = indexConst(x.Graph(), dtype, starts, slices, len(startAxes))
			colsT = graph.BackendGather(graph.Reshape(in[0], operand...), idx, 1, offsetAxes, nil, startAxes, sliceSizes, false)
			colsT = graph.Reshape(colsT, batch, k, n)
			w2 = graph.Reshape(in[1], k, f)
			wT := graph.BroadcastPrefix(graph.Transpose(w2, 0, 1), batch)
			y := graph.DotGeneral(wT, []int{2}, []int{0}, colsT, []int{1}, []int{0})
			return graph.Reshape(y, out...)
		},
		func(_, v *graph.Node) []*graph.Node {
			dy := graph.Reshape(v, batch, f, n)
			dw := graph.ReduceSum(graph.DotGeneral(colsT, []int{2}, []int{0}, dy, []int{2}, []int{0}), 0)
			dcolsT := graph.DotGeneral(graph.BroadcastPrefix(w2, batch), []int{2}, []int{0}, dy, []int{1}, []int{0})
			zeros := graph.Zeros(x.Graph(), shapes.Make(x.DType(), operand...))
			updates := graph.Reshape(dcolsT, append([]int{slices}, sliceSizes...)...)
			dx := graph.BackendScatterSum(zeros, idx, updates, 1, offsetAxes, nil, startAxes, false, false)
			return []*graph.Node{graph.Reshape(dx, x.Shape().Dimensions...), graph.Reshape(dw, wd...)}
		})
}

// convStarts returns the gather indices of convGrid's runs in the flattened padded
// grid [groups, c, bg2, hq, wq] ([c, groups, ...] when channelMajor), bg2 = bg+2
// images per group: for each group, kernel offset (dy, dx) and channel, the start of
// each of the runs (one per image, or one for the group), in int64 (the grid may
// hold more than 2^31 values).
func convStarts(groups, c, kernel, runs, bg2, hq, wq int, channelMajor bool) []int64 {
	p := kernel / 2
	lb := int64(bg2) * int64(hq) * int64(wq)
	starts := make([]int64, 0, groups*kernel*kernel*c*runs)
	for g := range groups {
		for dy := range kernel {
			for dx := range kernel {
				for ch := range c {
					block := g*c + ch
					if channelMajor {
						block = ch*groups + g
					}
					for i := range runs {
						starts = append(starts, int64(block)*lb+int64((i+1)*hq*wq+(dy-p)*wq+(dx-p)))
					}
				}
			}
		}
	}
	return starts
}

// indexDType is the dtype of indices into a tensor of size elements: int32 while
// they fit, int64 beyond.
func indexDType(size int64) dtypes.DType {
	if size <= math.MaxInt32 {
		return dtypes.Int32
	}
	return dtypes.Int64
}

// indexScalar is v as a scalar tensor of the index dtype.
func indexScalar(dtype dtypes.DType, v int64) *tensors.Tensor {
	if dtype == dtypes.Int32 {
		return tensors.FromScalar(int32(v))
	}
	return tensors.FromScalar(v)
}

// indexConst is a constant of indices, in dtype (indexDType of the tensor indexed).
func indexConst(g *graph.Graph, dtype dtypes.DType, values []int64, dims ...int) *graph.Node {
	if dtype == dtypes.Int64 {
		return graph.Const(g, tensors.FromFlatDataAndDimensions(values, dims...))
	}
	v := make([]int32, len(values))
	for i, x := range values {
		v[i] = int32(x)
	}
	return graph.Const(g, tensors.FromFlatDataAndDimensions(v, dims...))
}
