// Package nn holds the layers and models of the walkthrough: a 2-D convolution, a 2x2
// max-pool, a fully connected layer and ReLU written so that they train fast on every
// GoMLX backend (the pure-Go one included), and the article's CNN, Net, with a printed
// summary.
//
// Images are channels-last: [batch, height, width, channels].
//
// Conv2D is an im2col convolution: the k*k shifted views of the zero-padded input are
// concatenated on the channel axis (with a column of ones for the bias) and multiplied
// by the kernel with one matrix product. MaxPool2x2 is a reshape plus a reduce-max;
// applied to a ReLU's output it runs as ReLU after the pool, which gives the same
// values with a quarter of the ReLU work.
//
// Conv2D, Linear and MaxPool2x2-of-ReLU give GoMLX's automatic differentiation
// hand-written gradients (fused.go), built from the graph operations the pure-Go
// backend runs fastest: no identity transposes, no slicing of the im2col gradient,
// compare-and-select instead of sign arithmetic for the max masks. On that backend
// they make the article's training step about twice as fast as the same layers
// differentiated by GoMLX (which has neither a fast convolution nor a max-pool
// gradient of its own there). The gradients are tested against float64 central
// differences. The layers are plain GoMLX graph code, so the XLA backends run them too.
package nn
