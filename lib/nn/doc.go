// Package nn holds the layers and models of the walkthrough: a 2-D convolution and a
// 2x2 max-pool written so that they train fast on every GoMLX backend (the pure-Go one
// included), and the article's CNN, Net, with a printed summary.
//
// Images are channels-last: [batch, height, width, channels].
//
// Conv2D is an im2col convolution: the k*k shifted views of the zero-padded input are
// concatenated on the channel axis and multiplied by the kernel with one matrix product.
// MaxPool2x2 is a reshape plus a reduce-max. Both are plain GoMLX graph operations, so
// GoMLX's automatic differentiation gives their gradients; the pure-Go backend has
// neither a fast convolution nor a max-pool gradient of its own.
package nn
