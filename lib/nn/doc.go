// Package nn holds the layers and models of the walkthrough: a 2-D convolution, a 2x2
// max-pool, a fully connected layer and ReLU, the article's CNN, Net, an MLP baseline,
// a printed summary, and each layer's output for a graph to return (LayerOutputs).
//
// Images are channels-last: [batch, height, width, channels]. The layer functions
// take and return such nodes, and create the same variables (names, shapes, meaning)
// on every backend, so checkpoints move between backends.
//
// Each backend gets the formulation it runs fastest, chosen from the graph's backend:
//
//   - On the XLA backends (CPU, CUDA), Conv2D and MaxPool2x2 are GoMLX's Convolve and
//     MaxPool, which XLA compiles to its own convolution kernels (cuDNN on CUDA), and
//     GoMLX differentiates everything (xla.go).
//   - On the pure-Go backend, whose convolution and pooling are plain loops, the
//     layers work on channels-first grids (grid.go): each image on a grid with zero
//     rows and columns that double as the next image's padding, so the transposed
//     im2col matrix is one gather of contiguous runs and the convolution one matrix
//     product (batched over groups of images, twice as many as the cores, which the
//     backend splits between its workers without repacking), with no transpose of
//     anything large in the gradients either. A max-pool after ReLU after Conv2D, as
//     in Net, takes the convolution computed by phases (phase.go): its input and
//     output split by the parity of rows and columns, so that each 2x2 window is
//     one position of four phase planes and the pool a maximum over a leading axis
//     (the backend's SIMD reduction) with an elementwise gradient; the bias and the
//     ReLU come after the pool (the same values, a quarter of the work). Conv2D,
//     MaxPool2x2 and Linear have hand-written
//     gradients there (withGradient in fused.go), tested against float64 central
//     differences, and the two formulations are tested to agree.
//
// On every backend a max-pool's gradient goes to the first position of each 2x2
// window, in row-major order, that holds the window's maximum, as PyTorch's and XLA's
// do: ties are common (a black background makes whole regions of conv2's input
// equal), and the gradients match PyTorch's there too (TestPoolGradientTies).
package nn
