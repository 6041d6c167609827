package train_test

import (
	"context"
	"fmt"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

// See inside a trained model: the feature maps of conv1 for one image, conv1's
// weights, and the loss of every training step.
func ExampleModel_Activations() {
	trainDS, testDS := embedded.MustLoad()
	var losses []float64
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.Momentum, cfg.Quiet = 1, 0.9, true
	cfg.OnStep = func(s train.StepLoss) { losses = append(losses, s.Loss) }
	m := train.New(nn.Net(10), cfg)
	if _, err := m.Fit(context.Background(), trainDS.Head(640), testDS.Head(100)); err != nil {
		fmt.Println(err)
		return
	}
	acts, err := m.Activations(testDS.ToImage(0), "conv1/relu", "conv2/relu")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range acts {
		fmt.Println(a.Name, a.Shape) // [height, width, channels]
	}
	w, err := m.Variable("/conv1/conv/weights")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Name, w.Shape) // [kernel rows, kernel columns, input channels, filters]
	fmt.Println("steps:", len(losses))
	// Output:
	// conv1/relu [28 28 32]
	// conv2/relu [14 14 64]
	// /conv1/conv/weights [3 3 1 32]
	// steps: 10
}
