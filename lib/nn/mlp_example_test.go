package nn_test

import (
	"fmt"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// An MLP baseline beside the article's CNN on 1x28x28 images: one hidden layer of
// 256 units, as nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
// nn.Linear(256, 10)) in PyTorch.
func ExampleMLP() {
	shape := data.Shape{Channels: 1, Height: 28, Width: 28}
	mlp, err := nn.Summarize(nn.MLP(10, 256), shape)
	if err != nil {
		fmt.Println(err)
		return
	}
	cnn, err := nn.Summarize(nn.Net(10), shape)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(mlp)
	fmt.Println("MLP:", mlp.Total, "CNN:", cnn.Total)
	// Output:
	// Layer                  Output [B,H,W,C]         Params
	// input 1x28x28          [B, 28, 28, 1]
	// flatten                [B, 784]
	// /fc1 linear            [B, 256]                200,960
	// relu                   [B, 256]
	// /fc2 linear            [B, 10]                   2,570
	// Total trainable parameters: 203,530
	// MLP: 203530 CNN: 421642
}

// The names of a model's layers, as train.Model.Activations takes them.
func ExampleSummary_Names() {
	s, err := nn.Summarize(nn.Net(10), data.Shape{Channels: 1, Height: 28, Width: 28})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, name := range s.Names() {
		fmt.Printf("%-18s %v\n", name, s.Layers[i].Output[1:])
	}
	// Output:
	// conv1              [28 28 32]
	// conv1/relu         [28 28 32]
	// conv1/maxpool2x2   [14 14 32]
	// conv2              [14 14 64]
	// conv2/relu         [14 14 64]
	// conv2/maxpool2x2   [7 7 64]
	// conv2/flatten      [3136]
	// fc1                [128]
	// fc1/relu           [128]
	// fc2                [10]
}
