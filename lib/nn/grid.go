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
// never computed.

// grid is the Go formulation's form of a [b, h, w, c] activation.
type grid struct {
	data *graph.Node // [groups, c, b/groups, hq, wq]
	h, w int         // the valid rows and columns of each image
	// bias [c], when not nil, is still to be added to data, which is then a
	// convolution's raw output: its positions outside h x w hold values to ignore.
	// When nil, those positions hold zeros.
	bias *graph.Node
}

// groupsFor returns how many groups a batch of b images is split into, each
// group one batch item of every matrix product: the backend splits a batched
// product between its workers by batch item when it has at least twice as many
// items as workers (an unbatched one with a small output, like a weight gradient,
// it splits by output rows, each worker packing the whole other operand again). So
// twice the cores the process may use, but at least 8 images a group (each group
// carries two zero images), and a divisor of b.
func groupsFor(b int) int {
	for g := min(2*runtime.GOMAXPROCS(0), max(b/8, 1)); g > 1; g-- {
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
	var raw *graph.Node
	if gr := gridOf(x); gr != nil && gr.bias == nil {
		gd := gr.data.Shape().Dimensions
		xp := padGrid(gr.data, evenAtLeast(max(gd[3], h+p)), evenAtLeast(max(gd[4], w+p)))
		raw = convGrid(xp, false, weights, kernel, evenAtLeast(h))
	} else {
		xp := gridFromImages(x, groupsFor(d[0]), evenAtLeast(h+p), evenAtLeast(w+p))
		raw = convGrid(xp, true, weights, kernel, evenAtLeast(h))
	}
	out := graph.Add(gridToImages(raw, h, w), graph.Reshape(biases, 1, 1, 1, f))
	setGrid(out, &grid{data: raw, h: h, w: w, bias: biases})
	return out
}

// poolReLUGrid is MaxPool2x2(ReLU(y)) on the Go formulation, for y a Conv2D output
// with grid gr; it returns the pooled [b, h/2, w/2, f] node, with its grid recorded.
func poolReLUGrid(gr *grid) *graph.Node {
	z := poolReLU(gr.data, gr.bias, gr.h, gr.w)
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
	k, n := kernel*kernel*c, bg*ho*wq
	// One run per image of its first ho rows when that leaves out zero rows, else
	// one run for all the group's images.
	runs, run := bg, ho*wq
	if ho == hq {
		runs, run = 1, n
	}
	starts := convStarts(groups, c, kernel, runs, d[2], hq, wq, channelMajor)
	dtype := indexDType(int64(xp.Shape().Size()))
	var colsT, w2, idx *graph.Node
	return withGradient([]*graph.Node{xp, weights},
		func(in []*graph.Node) *graph.Node {
			gr := xp.Graph()
			idx = indexConst(gr, dtype, starts, groups*k*runs, 1)
			colsT = graph.BackendGather(graph.Reshape(in[0], -1), idx, 1, []int{1}, nil, []int{0}, []int{run}, false)
			colsT = graph.Reshape(colsT, groups, k, n)
			w2 = graph.Reshape(in[1], k, f)
			wT := graph.BroadcastPrefix(graph.Transpose(w2, 0, 1), groups)
			y := graph.DotGeneral(wT, []int{2}, []int{0}, colsT, []int{1}, []int{0})
			return graph.Reshape(y, groups, f, bg, ho, wq)
		},
		func(_, v *graph.Node) []*graph.Node {
			dy := graph.Reshape(v, groups, f, n)
			dw := graph.ReduceSum(graph.DotGeneral(colsT, []int{2}, []int{0}, dy, []int{2}, []int{0}), 0)
			dw = graph.Reshape(dw, kernel, kernel, c, f)
			dcolsT := graph.DotGeneral(graph.BroadcastPrefix(w2, groups), []int{2}, []int{0}, dy, []int{1}, []int{0})
			zeros := graph.Zeros(xp.Graph(), shapes.Make(xp.DType(), xp.Shape().Size()))
			dxp := graph.BackendScatterSum(zeros, idx, graph.Reshape(dcolsT, groups*k*runs, run), 1, []int{1}, nil, []int{0}, false, false)
			return []*graph.Node{graph.Reshape(dxp, d...), dw}
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

// poolReLU is ReLU(MaxPool2x2(y) + bias) of a convolution's raw grid output y
// [groups, f, bg, hq, wq] (hq, wq even) valid over h x w: [groups, f, bg, hq/2, wq/2],
// zero outside the valid h/2 x w/2 (PyTorch's floor mode drops an odd last row or
// column).
// Adding the bias and applying the ReLU after the pool gives the values of the
// article's order at a quarter of the work.
//
// Forward: a max over row pairs ([groups*f*bg*hq/2, 2, wq], the middle axis), then
// over column pairs ([..., 2], the last axis); bias, ReLU, then the mask. Gradient, with
// G = dZ where Z > 0 (zero outside the valid region, where Z is 0): the bias gets the
// sums of G; y gets up(G) at the first position of each window, in row-major order,
// that holds the maximum (PyTorch's and XLA's choice where a window ties, as a
// uniform region of an image makes it), up being the 2x2 nearest upsampling, done
// as a product with a constant 0/1 matrix [wq/2, 2*wq] (row pair and column pair at
// once); the first maximum is found with one more product (firstOf).
func poolReLU(y, bias *graph.Node, h, w int) *graph.Node {
	d := y.Shape().Dimensions
	groups, f, bg, hq, wq := d[0], d[1], d[2], d[3], d[4]
	hp, wp := hq/2, wq/2
	mask := make([]float64, bg*hp*wp)
	for i := range bg {
		for r := range h / 2 {
			for col := range w / 2 {
				mask[(i*hp+r)*wp+col] = 1
			}
		}
	}
	up := make([]float64, wp*2*wq)
	for j := range wp {
		for t := range 2 {
			up[j*2*wq+t*wq+2*j] = 1
			up[j*2*wq+t*wq+2*j+1] = 1
		}
	}
	// Every node that the gradient reuses keeps one shape: the Go backend copies a
	// Reshape's input when another op still needs it.
	var y3, pooled *graph.Node
	return withGradient([]*graph.Node{y, bias},
		func(in []*graph.Node) *graph.Node {
			y3 = graph.Reshape(in[0], groups*f*bg*hp, 2, wq)
			rows := graph.ReduceMax(y3, 1)
			pooled = graph.ReduceMax(graph.Reshape(rows, groups*f, bg*hp, wp, 2), 3)
			bb := graph.Reshape(graph.BroadcastPrefix(in[1], groups), groups*f, 1, 1)
			z := graph.Max(graph.Add(pooled, bb), zeroOf(y))
			z = graph.Mul(z, constOf(y, mask, 1, bg*hp, wp))
			return graph.Reshape(z, groups, f, bg, hp, wp)
		},
		func(out, v *graph.Node) []*graph.Node {
			zero := zeroOf(y)
			gz := graph.Where(graph.GreaterThan(out, zero), v, zero)
			db := graph.ReduceSum(graph.ReduceSum(gz, 2, 3, 4), 0)
			u := constOf(y, up, wp, 2*wq)
			upsample := func(t *graph.Node) *graph.Node {
				return graph.DotGeneral(t, []int{t.Rank() - 1}, nil, u, []int{0}, nil)
			}
			// e is 1 where y holds its window's maximum; first is then 1 at each
			// window's first such position and 0 elsewhere (see firstOf).
			e := graph.Where(graph.Equal(y3, graph.Reshape(upsample(pooled), groups*f*bg*hp, 2, wq)), graph.OnesLike(zero), zero)
			first := graph.Max(graph.MatMul(graph.Reshape(e, groups*f*bg*hp, 2*wq), constOf(y, firstOf(wq), 2*wq, 2*wq)), zero)
			dy := graph.Mul(graph.Reshape(upsample(gz), groups*f*bg*hp, 2*wq), first)
			return []*graph.Node{graph.Reshape(dy, d...), db}
		})
}

// firstOf is the [2*wq, 2*wq] matrix F that marks the first maximum of each 2x2
// window in a row pair of wq columns (the window's positions in row-major order:
// top left, top right, bottom left, bottom right). With e the row pair's 0/1
// indicator of the positions holding their window's maximum, (e·F)[p] is e[p] less
// twice the number of maxima before p in p's window: 1 where e[p] is 1 and no
// maximum comes before it, 0 or less everywhere else.
func firstOf(wq int) []float64 {
	n := 2 * wq
	order := func(p int) (window, rank int) { return (p % wq) / 2, 2*(p/wq) + p%2 }
	f := make([]float64, n*n)
	for q := range n {
		wqw, rq := order(q)
		for p := range n {
			wpw, rp := order(p)
			switch {
			case q == p:
				f[q*n+p] = 1
			case wqw == wpw && rq < rp:
				f[q*n+p] = -2
			}
		}
	}
	return f
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
