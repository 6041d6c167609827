package nn

import (
	"github.com/gomlx/gomlx/core/graph"
)

// This file holds withGradient, through which the Go backend's formulation (grid.go)
// and Linear give GoMLX's reverse autodiff hand-written gradients, built from the ops
// that backend runs fastest; GoMLX's generic gradients are correct but slow there
// (the DotGeneral gradient transposes its result back even when the permutation is
// the identity, Max/ReduceMax gradients build their masks from two Sign ops each).
// It also holds Linear's fused form. The gradients are checked against float64
// central differences in the tests.

// withGradient returns fwd's result and makes reverse autodiff use vjp for it instead
// of differentiating through fwd's ops.
//
// fwd receives the inputs, each passed through an identity whose custom gradient is
// the one vjp computed for it. vjp receives the result and its gradient and returns
// one gradient per input, each shaped as its input; it runs when GoMLX builds the
// gradient graph. Autodiff still walks fwd's ops (so they must be differentiable by
// GoMLX: no Pad with negative paddings, for instance), but the gradients it builds
// for them reach only those identities, which discard them: they are dead code,
// which the backend never runs, as it never runs the parts of vjp's result that no
// requested gradient uses (the images' gradient in training). The identities cost
// nothing when fwd is the only user of its inputs (the Go backend then hands the
// buffer over instead of copying it). The gradients are first-order only: vjp's
// result is not differentiable again.
func withGradient(inputs []*graph.Node, fwd func(in []*graph.Node) *graph.Node,
	vjp func(out, v *graph.Node) []*graph.Node) *graph.Node {
	var grads []*graph.Node
	in := make([]*graph.Node, len(inputs))
	for i, x := range inputs {
		in[i] = graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node { return grads[i] })
	}
	var out *graph.Node
	out = graph.IdentityWithCustomGradient(fwd(in), func(_, v *graph.Node) *graph.Node {
		grads = vjp(out, v)
		return v
	})
	return out
}

// linearFused is Linear's computation: x [b, in], weights [in, out], biases [out] ->
// [b, out]. Its gradient takes xᵀ·dY for the weights (transposing the small x once)
// and dY·Wᵀ for x, where GoMLX's generic gradient transposes the weights' gradient
// back and copies x's through an identity transpose. (GoMLX's nn.Dense, with the Go
// backend's fused kernels, was no faster here: see lib/train's BenchmarkTrainStep.)
func linearFused(x, weights, biases *graph.Node) *graph.Node {
	out := biases.Shape().Dimensions[0]
	var xs, ws *graph.Node
	return withGradient([]*graph.Node{x, weights, biases},
		func(in []*graph.Node) *graph.Node {
			xs, ws = in[0], in[1]
			bias := graph.Reshape(in[2], 1, out)
			return graph.Add(graph.MatMul(xs, ws), bias)
		},
		func(_, v *graph.Node) []*graph.Node {
			dx := graph.DotGeneral(v, []int{1}, nil, ws, []int{1}, nil)
			dw := graph.MatMul(graph.Transpose(xs, 0, 1), v)
			db := graph.ReduceSum(v, 0)
			return []*graph.Node{dx, dw, db}
		})
}
