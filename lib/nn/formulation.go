package nn

import (
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
)

// formulation is how the layers are written as graph operations; each backend gets
// the one it runs fastest.
type formulation int

const (
	// gridForm is for GoMLX's pure-Go backend, whose convolution and pooling are plain
	// loops: channels-first grids, one gather for the im2col matrix, matrix products
	// and hand-written gradients (grid.go).
	gridForm formulation = iota
	// xlaForm is for the XLA backends (CPU, CUDA): GoMLX's own Convolve and MaxPool,
	// which XLA compiles to its convolutions (cuDNN on CUDA), differentiated by GoMLX.
	xlaForm
)

func (f formulation) String() string {
	if f == gridForm {
		return "grid"
	}
	return "xla"
}

// formulationOf returns the formulation for the layers built in g: gridForm on the
// pure-Go backend, xlaForm on any other.
func formulationOf(g *graph.Graph) formulation {
	if b := g.Backend(); b != nil && b.String() == gobackend.BackendName {
		return gridForm
	}
	return xlaForm
}
