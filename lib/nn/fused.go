package nn

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// This file holds the fused forms of the layers: each computes its forward pass with
// GoMLX graph ops and gives reverse autodiff a hand-written gradient, built from the
// ops the pure-Go backend runs fastest. GoMLX's generic gradients are correct but,
// for this model on that backend, spend most of the step in element-by-element copies:
// the DotGeneral gradient transposes its result back even when the permutation is the
// identity, the im2col concatenation's gradient slices the patch gradient along its
// last axis, and Max/ReduceMax gradients build their masks from two Sign ops each.
// The gradients here are checked against float64 central differences in the tests.

// withGradient returns fwd's result and makes reverse autodiff use vjp for it instead
// of differentiating through fwd's ops.
//
// fwd receives the inputs with their gradients stopped and link, a scalar zero that
// depends on every input: fwd must add link into its result somewhere cheap (a bias,
// the zero of a ReLU), which is how autodiff reaches the inputs. vjp receives the
// gradient of the result and returns one gradient per input, each shaped as its input;
// it runs when GoMLX builds the gradient graph, and the backend only runs the parts of
// it that some requested gradient uses (the images' gradient is skipped in training).
// The gradients are first-order only: vjp's result is not differentiable again.
func withGradient(inputs []*graph.Node, fwd func(in []*graph.Node, link *graph.Node) *graph.Node,
	vjp func(v *graph.Node) []*graph.Node) *graph.Node {
	var grads []*graph.Node
	stopped := make([]*graph.Node, len(inputs))
	var link *graph.Node
	for i, x := range inputs {
		stopped[i] = graph.StopGradient(x)
		// The gradient arriving here is the (dead) gradient of link: replace it with
		// the one vjp computed for this input.
		w := graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node { return grads[i] })
		first := w
		if w.Rank() > 0 {
			ranges := make([]graph.SliceAxisSpec, w.Rank())
			for a := range ranges {
				ranges[a] = graph.AxisRange(0, 1)
			}
			first = graph.Reshape(graph.Slice(w, ranges...))
		}
		if link == nil {
			link = first
		} else {
			link = graph.Add(link, first)
		}
	}
	link = graph.MulScalar(link, 0)
	out := fwd(stopped, link)
	return graph.IdentityWithCustomGradient(out, func(_, v *graph.Node) *graph.Node {
		grads = vjp(v)
		return v
	})
}

// conv2DFused is Conv2D's computation: x [b, h, w, c], weights [k, k, c, f], biases
// [f] -> [b, h, w, f], stride 1, same zero padding.
//
// Forward: the im2col matrix with a column of ones appended, [b*h*w, k*k*c+1], times
// the weights with the biases appended as a last row: one matrix product, no separate
// bias add. Gradient, with dY the output gradient as [b*h*w, f]:
//   - weights and biases: colsᵀ·dY. The backend's matrix product wants the contracted
//     axis last on its left side, so either dY is transposed (dYᵀ·cols, when f <=
//     k*k*c+1) or, for few input channels, colsᵀ is built directly, channels first;
//   - x: for each kernel offset, dY·W_offsetᵀ ([b*h*w, c], no transpose), padded back
//     to its offset and summed, then the padding cropped.
func conv2DFused(x, weights, biases *graph.Node, kernel int) *graph.Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	f := biases.Shape().Dimensions[0]
	n, k := b*h*w, kernel*kernel*c
	pad := kernel / 2
	var cols, colsT, wAug *graph.Node
	return withGradient([]*graph.Node{x, weights, biases},
		func(in []*graph.Node, link *graph.Node) *graph.Node {
			g := x.Graph()
			xp := in[0]
			if pad > 0 {
				// graph.Pad has no gradient on the Go backend, but none is needed here.
				xp = graph.Pad(xp, graph.ScalarZero(g, x.DType()), compute.PadAxis{},
					compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{})
			}
			ones := graph.Ones(g, shapes.Make(x.DType(), b, h, w, 1))
			views := append(patchViews(xp, 1, h, w, kernel), ones)
			cols = graph.Reshape(graph.Concatenate(views, -1), n, k+1)
			if f > k+1 {
				// Few input channels (the images): the weight gradient needs colsᵀ.
				// Built channels first, it is one concatenation of whole planes, cheaper
				// than transposing cols; only the gradient uses it.
				colsT = patchesChannelsFirst(xp, h, w, kernel)
			}
			bias := graph.Add(in[2], link)
			wAug = graph.Concatenate([]*graph.Node{graph.Reshape(in[1], k, f), graph.Reshape(bias, 1, f)}, 0)
			return graph.Reshape(graph.MatMul(cols, wAug), b, h, w, f)
		},
		func(v *graph.Node) []*graph.Node {
			dy := graph.Reshape(v, n, f)
			var dwAug *graph.Node
			if f <= k+1 {
				// [f, n]·[n, k+1] -> [f, k+1], then a small transpose.
				dwAug = graph.Transpose(graph.MatMul(graph.Transpose(dy, 0, 1), cols), 0, 1)
			} else {
				// [k+1, n]·[n, f] -> [k+1, f].
				dwAug = graph.MatMul(colsT, dy)
			}
			dw := graph.Reshape(graph.Slice(dwAug, graph.AxisRange(0, k)), kernel, kernel, c, f)
			db := graph.Reshape(graph.Slice(dwAug, graph.AxisRange(k, k+1)), f)

			var dxp, prev *graph.Node
			zero := graph.ScalarZero(x.Graph(), x.DType())
			for dyi := range kernel {
				for dxi := range kernel {
					off := (dyi*kernel + dxi) * c
					wk := graph.Slice(wAug, graph.AxisRange(off, off+c)) // [c, f]
					if prev != nil {
						// Chain the products so they run one after the other: the Go
						// backend's worker pool deadlocks when more matrix products than
						// workers start at once (compute v0.1.4).
						wk = graph.Add(wk, graph.MulScalar(graph.Reshape(graph.Slice(prev, graph.AxisRange(0, 1), graph.AxisRange(0, 1))), 0))
					}
					part := graph.DotGeneral(dy, []int{1}, nil, wk, []int{1}, nil)
					prev = part
					part = graph.Pad(graph.Reshape(part, b, h, w, c), zero,
						compute.PadAxis{},
						compute.PadAxis{Start: dyi, End: 2*pad - dyi},
						compute.PadAxis{Start: dxi, End: 2*pad - dxi},
						compute.PadAxis{})
					if dxp == nil {
						dxp = part
					} else {
						dxp = graph.Add(dxp, part)
					}
				}
			}
			dx := dxp
			if pad > 0 {
				dx = graph.Slice(dxp, graph.AxisRange(), graph.AxisRange(pad, pad+h), graph.AxisRange(pad, pad+w), graph.AxisRange())
			}
			return []*graph.Node{dx, dw, db}
		})
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

// patchesChannelsFirst returns the transposed im2col matrix with its row of ones,
// [k*k*c+1, b*h*w], of xp ([b, h+2p, w+2p, c], already padded).
func patchesChannelsFirst(xp *graph.Node, h, w, kernel int) *graph.Node {
	d := xp.Shape().Dimensions
	b, hp, wp, c := d[0], d[1], d[2], d[3]
	if c == 1 {
		xp = graph.Reshape(xp, 1, b, hp, wp)
	} else {
		xp = graph.TransposeAllAxes(xp, 3, 0, 1, 2)
	}
	views := append(patchViews(xp, 2, h, w, kernel), graph.Ones(xp.Graph(), shapes.Make(xp.DType(), 1, b, h, w)))
	return graph.Reshape(graph.Concatenate(views, 0), kernel*kernel*c+1, b*h*w)
}

// poolReLUFused is ReLU(MaxPool2x2(x)) for x [b, h, w, c] with even h and w, which
// equals MaxPool2x2(ReLU(x)) (max commutes with a non-decreasing function) at a
// quarter of the ReLU work. Its gradient sends each output's gradient, where the
// output is positive, to the window positions holding the maximum: one comparison and
// one select over the input, instead of GoMLX's Sub/Sign/Add/Sign/Mul chains for Max
// and ReduceMax.
func poolReLUFused(x *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	var x6, pooled, out *graph.Node
	return withGradient([]*graph.Node{x},
		func(in []*graph.Node, link *graph.Node) *graph.Node {
			x6 = graph.Reshape(in[0], b, h/2, 2, w/2, 2, c)
			pooled = graph.ReduceMax(x6, 2, 4)
			// link as [1, 1, 1, 1]: the backend broadcasts it inside Max.
			out = graph.Max(pooled, graph.Reshape(link, 1, 1, 1, 1))
			return out
		},
		func(v *graph.Node) []*graph.Node {
			zero := graph.ScalarZero(x.Graph(), x.DType())
			vPos := graph.Where(graph.GreaterThan(pooled, graph.Reshape(zero, 1, 1, 1, 1)), v, zero)
			up := func(t *graph.Node) *graph.Node {
				return graph.BroadcastToShape(graph.Reshape(t, b, h/2, 1, w/2, 1, c), x6.Shape())
			}
			dx := graph.Where(graph.Equal(x6, up(pooled)), up(vPos), zero)
			return []*graph.Node{graph.Reshape(dx, b, h, w, c)}
		})
}

// linearFused is Linear's computation: x [b, in], weights [in, out], biases [out] ->
// [b, out]. Its gradient takes xᵀ·dY for the weights (transposing the small x once)
// and dY·Wᵀ for x; GoMLX's generic gradient transposes the weights' gradient back
// and copies x's through an identity transpose.
func linearFused(x, weights, biases *graph.Node) *graph.Node {
	out := biases.Shape().Dimensions[0]
	var xs, ws *graph.Node
	return withGradient([]*graph.Node{x, weights, biases},
		func(in []*graph.Node, link *graph.Node) *graph.Node {
			xs, ws = in[0], in[1]
			bias := graph.Reshape(graph.Add(in[2], link), 1, out)
			return graph.Add(graph.MatMul(xs, ws), bias)
		},
		func(v *graph.Node) []*graph.Node {
			dx := graph.DotGeneral(v, []int{1}, nil, ws, []int{1}, nil)
			dw := graph.MatMul(graph.Transpose(xs, 0, 1), v)
			db := graph.ReduceSum(v, 0)
			return []*graph.Node{dx, dw, db}
		})
}
