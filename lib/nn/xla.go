package nn

import "github.com/gomlx/gomlx/core/graph"

// This file is the formulation of the layers for the XLA backends (CPU, CUDA): GoMLX's
// own convolution and max-pool, which XLA compiles to its convolution kernels (cuDNN
// on CUDA), and plain matrix products, all differentiated by GoMLX. XLA fuses the
// element-wise work around them itself.

// conv2DXLA is Conv2D with graph.Convolve: x [b, h, w, c], weights [k, k, c, f],
// biases [f] -> [b, h, w, f], stride 1, same zero padding.
func conv2DXLA(x, weights, biases *graph.Node) *graph.Node {
	f := biases.Shape().Dimensions[0]
	return graph.Add(graph.Convolve(x, weights).PadSame().Done(), graph.Reshape(biases, 1, 1, 1, f))
}

// maxPool2x2XLA is MaxPool2x2 with graph.MaxPool (window 2, stride 2, no padding:
// an odd last row or column is dropped).
func maxPool2x2XLA(x *graph.Node) *graph.Node { return graph.MaxPool(x).Window(2).Done() }

// linearXLA is Linear as a matrix product plus the biases.
func linearXLA(x, weights, biases *graph.Node) *graph.Node {
	return graph.Add(graph.MatMul(x, weights), graph.Reshape(biases, 1, biases.Shape().Dimensions[0]))
}
