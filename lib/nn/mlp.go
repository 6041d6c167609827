package nn

import "fmt"

// MLP returns a multilayer perceptron for the given number of classes, the baseline
// a CNN is measured against (d2l's softmax regression, then its MLP):
//
//	flatten the image, then for each size in hidden: Linear(-> size), ReLU;
//	then Linear(-> classes)
//
// The layers are named fc1, fc2, ... in order, as in Net, and initialised as
// PyTorch's nn.Linear is. MLP(10) has no hidden layer: softmax regression.
// MLP(10, 256) is PyTorch's nn.Sequential(nn.Flatten(), nn.Linear(784, 256),
// nn.ReLU(), nn.Linear(256, 10)) on 1x28x28 images. It returns logits, as Net does.
// Classes and hidden sizes must be > 0 (it panics otherwise, when the model is built: a
// programming error, which train.Model turns into an error).
func MLP(classes int, hidden ...int) ModelFn {
	return func(scope *Scope, images *Node) *Node {
		if classes <= 0 {
			panic(fmt.Errorf("nn.MLP: %d classes: want > 0", classes))
		}
		x := Flatten(images)
		for i, n := range hidden {
			if n <= 0 {
				panic(fmt.Errorf("nn.MLP: hidden layer %d has %d units: want > 0", i+1, n))
			}
			x = ReLU(Linear(scope.In("fc%d", i+1), x, n))
		}
		return Linear(scope.In("fc%d", len(hidden)+1), x, classes)
	}
}
