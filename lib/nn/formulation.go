package nn

import (
	"fmt"

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

// formulationKey keys a graph's formulation override (see useFormulation).
type formulationKey struct{}

// formulationOf returns the formulation for the layers built in g: the one set with
// useFormulation, else gridForm on the pure-Go backend and xlaForm on any other.
func formulationOf(g *graph.Graph) formulation {
	if f, ok := g.State(formulationKey{}).(formulation); ok {
		return f
	}
	if b := g.Backend(); b != nil && b.String() == gobackend.BackendName {
		return gridForm
	}
	return xlaForm
}

// useFormulation makes the layers built in g use f whatever the backend; the tests
// use it to run both formulations on the pure-Go backend.
func useFormulation(g *graph.Graph, f formulation) { g.AttachState(formulationKey{}, f) }

// WithFormulation returns fn with its layers written in the named formulation, "grid"
// (the pure-Go backend's) or "xla" (the XLA backends'), whatever backend runs it;
// "" keeps the backend's choice. Both compute the same function with the same
// variables: it lets a test or a notebook check one against the other on one backend.
// Another name panics when the model is built.
func WithFormulation(fn ModelFn, name string) ModelFn {
	return func(scope *Scope, images *Node) *Node {
		switch name {
		case "":
		case gridForm.String():
			useFormulation(images.Graph(), gridForm)
		case xlaForm.String():
			useFormulation(images.Graph(), xlaForm)
		default:
			panic(fmt.Errorf("nn.WithFormulation: formulation %q: want \"grid\" or \"xla\"", name))
		}
		return fn(scope, images)
	}
}
