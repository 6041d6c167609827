package nn

import "github.com/gomlx/gomlx/core/graph"

// maxPool2x2XLA is MaxPool2x2 as GoMLX's graph.MaxPool (window 2, stride 2, no
// padding: an odd last row or column is dropped), which XLA compiles to its own
// kernels; its gradient goes to each window's first maximum (SelectAndScatter).
// Conv2D and Linear use GoMLX's layers there (layers.go).
func maxPool2x2XLA(x *graph.Node) *graph.Node { return graph.MaxPool(x).Window(2).Done() }
