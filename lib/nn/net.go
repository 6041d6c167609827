package nn

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// Node is a value in the computation graph: a batch of images, activations, logits
// (GoMLX's graph.Node). Models and notebooks can name it without importing GoMLX.
type Node = graph.Node

// Scope holds a model's variables (GoMLX's model.Scope); Scope.In opens a named
// sub-scope, as PyTorch's attribute names do.
type Scope = model.Scope

// ModelFn is a model: it maps a batch of images [batch, height, width, channels] to
// logits [batch, classes], creating its variables in scope. It is the signature
// GoMLX's train.Trainer accepts.
type ModelFn = func(scope *Scope, images *Node) *Node

// Net returns the article's CNN for the given number of classes:
//
//	conv1: Conv2d(C -> 32, 3x3, padding 1), ReLU, MaxPool 2x2
//	conv2: Conv2d(32 -> 64, 3x3, padding 1), ReLU, MaxPool 2x2
//	flatten, fc1: Linear(64*H/4*W/4 -> 128), ReLU
//	fc2: Linear(128 -> classes)
//
// The flatten size follows from the input shape: 64*8*8 for 3x32x32 images, 64*7*7
// for 1x28x28. It returns logits; the article's log_softmax is left to the loss,
// which takes logits (feeding log_softmax to CrossEntropyLoss applies it twice).
func Net(classes int) ModelFn {
	return func(scope *model.Scope, images *graph.Node) *graph.Node {
		x := images
		x = MaxPool2x2(ReLU(Conv2D(scope.In("conv1"), x, 32, 3)))
		x = MaxPool2x2(ReLU(Conv2D(scope.In("conv2"), x, 64, 3)))
		x = Flatten(x)
		x = ReLU(Linear(scope.In("fc1"), x, 128))
		return Linear(scope.In("fc2"), x, classes)
	}
}

// Dropout zeroes each value of x with probability rate while training, and scales
// the rest by 1/(1-rate) (PyTorch's nn.Dropout); in evaluation and prediction it
// returns x unchanged. It is GoMLX's dropout (layers.DropoutStatic).
func Dropout(scope *Scope, x *Node, rate float64) *Node {
	return record(layers.DropoutStatic(scope, x, rate), "dropout")
}

// ReLU is max(x, 0).
func ReLU(x *Node) *Node {
	y := activation.Relu(x)
	if x.Rank() == 4 {
		g := x.Graph()
		m, _ := g.State(reluInputsKey{}).(map[*graph.Node]*graph.Node)
		if m == nil {
			m = map[*graph.Node]*graph.Node{}
			g.AttachState(reluInputsKey{}, m)
		}
		m[y] = x
	}
	return record(y, "relu")
}

// reluInputsKey keys the graph state mapping ReLU outputs to their inputs, which
// MaxPool2x2 uses to run ReLU after pooling.
type reluInputsKey struct{}

// reluInput returns the input of x when x is the output of ReLU, else nil.
func reluInput(x *graph.Node) *graph.Node {
	m, _ := x.Graph().State(reluInputsKey{}).(map[*graph.Node]*graph.Node)
	return m[x]
}
