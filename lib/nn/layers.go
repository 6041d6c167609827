package nn

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// torchUniform returns PyTorch's default initialiser for Conv2d and Linear:
// uniform in [-1/sqrt(fanIn), 1/sqrt(fanIn)], for weights and biases alike (the
// scope's initialiser, which GoMLX's layers use too).
// Using it keeps plain SGD at lr 0.01 on the same footing as the PyTorch walkthrough.
func torchUniform(scope *model.Scope, fanIn int) *model.Scope {
	bound := 1 / math.Sqrt(float64(fanIn))
	return scope.WithInitializer(initializer.RandomUniformFn(scope, -bound, bound))
}

// Conv2D is a 2-D convolution with stride 1 and "same" zero padding (PyTorch's
// Conv2d(in, filters, kernel, padding=kernel/2) for odd kernels), plus a bias.
// x is [batch, height, width, channels]; the result is [batch, height, width, filters].
// It creates, in a "conv" sub-scope, "weights" shaped [kernel, kernel, channels, filters]
// and "biases" shaped [filters], initialised as PyTorch does.
//
// On the pure-Go backend it runs as one gather and one matrix product on a
// channels-first grid, with hand-written gradients (grid.go); on the XLA backends it
// is GoMLX's layers.Convolution, which makes the same variables.
func Conv2D(scope *Scope, x *Node, filters, kernel int) *Node {
	if x.Rank() != 4 {
		panic(fmt.Errorf("nn.Conv2D: input must be [batch, height, width, channels], got %s", x.Shape()))
	}
	if kernel%2 != 1 {
		panic(fmt.Errorf("nn.Conv2D: kernel must be odd for same padding, got %d", kernel))
	}
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	init := torchUniform(scope, kernel*kernel*c)
	var y *Node
	if formulationOf(g) == xlaForm {
		y = layers.Convolution(init, x).Filters(filters).KernelSize(kernel).PadSame().Done()
	} else {
		conv := init.In("conv")
		weights := conv.VariableWithShape("weights", shapes.Make(x.DType(), kernel, kernel, c, filters)).NodeValue(g)
		biases := conv.VariableWithShape("biases", shapes.Make(x.DType(), filters)).NodeValue(g)
		y = conv2DGrid(x, weights, biases, kernel)
	}
	return record(y, "conv2d", scope)
}

// MaxPool2x2 is a 2x2 max-pool with stride 2 (PyTorch's MaxPool2d(2, 2)) on
// [batch, height, width, channels]. Odd heights or widths drop their last row or
// column, as PyTorch's floor mode does.
//
// On the pure-Go backend, applied to ReLU(Conv2D(...)) as in the article's model, it
// pools the convolution's grid and applies the bias and the ReLU after the pool (the
// same values, a quarter of the work), with a hand-written gradient (grid.go);
// elsewhere it is GoMLX's MaxPool. Where a window holds its maximum more than once,
// the gradient goes to the first in row-major order, as in PyTorch and XLA.
func MaxPool2x2(x *Node) *Node {
	if x.Rank() != 4 {
		panic(fmt.Errorf("nn.MaxPool2x2: input must be [batch, height, width, channels], got %s", x.Shape()))
	}
	if in := reluInput(x); in != nil {
		if gr := gridOf(in); gr != nil && gr.bias != nil {
			return record(poolReLUGrid(gr), "maxpool2x2")
		}
	}
	// Elsewhere GoMLX's MaxPool: its gradient goes to each window's first maximum.
	return record(maxPool2x2XLA(x), "maxpool2x2")
}

// Linear is a fully connected layer with bias (PyTorch's nn.Linear), initialised as
// PyTorch does. x is [batch, features]; the result is [batch, outputs]. It creates
// "weights" [features, outputs] and "biases" [outputs] in a "dense" sub-scope. On
// the XLA backends it is GoMLX's layers.Dense, which makes the same variables; on
// the pure-Go backend a product with a hand-written gradient (fused.go).
func Linear(scope *Scope, x *Node, outputs int) *Node {
	if x.Rank() != 2 {
		panic(fmt.Errorf("nn.Linear: input must be [batch, features], got %s", x.Shape()))
	}
	g := x.Graph()
	in := x.Shape().Dimensions[1]
	init := torchUniform(scope, in)
	if formulationOf(g) == xlaForm {
		return record(layers.Dense(init, x, true, outputs), "linear", scope)
	}
	dense := init.In("dense")
	weights := dense.VariableWithShape("weights", shapes.Make(x.DType(), in, outputs)).NodeValue(g)
	biases := dense.VariableWithShape("biases", shapes.Make(x.DType(), outputs)).NodeValue(g)
	return record(linearFused(x, weights, biases), "linear", scope)
}

// Flatten reshapes [batch, ...] to [batch, product of the rest].
func Flatten(x *Node) *Node {
	d := x.Shape().Dimensions
	return record(graph.Reshape(x, d[0], x.Shape().Size()/d[0]), "flatten")
}
