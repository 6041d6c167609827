package plot_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/plot"
	"github.com/gopherdl/gopherdl/lib/train"
)

// A worked convolution and max-pool on a 6x6 grid with a vertical edge: the numbers
// the figures show, then the figures; in a notebook, MustDisplay shows them inline.
func ExampleConvolution() {
	input := [][]float64{
		{0, 0, 1, 3, 3, 3},
		{0, 0, 1, 3, 3, 3},
		{0, 0, 1, 3, 3, 3},
		{0, 0, 1, 3, 3, 3},
		{0, 0, 1, 3, 3, 3},
		{0, 0, 1, 3, 3, 3},
	}
	kernel := [][]float64{{-1, 0, 1}, {-1, 0, 1}, {-1, 0, 1}} // a vertical-edge detector
	out, err := plot.ConvolveGrid(input, kernel)
	if err != nil {
		fmt.Println(err)
		return
	}
	pooled, _ := plot.MaxPoolGrid(plot.ReLUGrid(out))
	fmt.Println("row 3 of the convolution:", out[3])
	fmt.Println("after ReLU and the pool:", pooled)
	dir, _ := os.MkdirTemp("", "gopherdl-example")
	defer os.RemoveAll(dir)
	conv := plot.Must(plot.Convolution("A 3x3 convolution", input, kernel, plot.Cell{Row: 0, Col: 0}, plot.Cell{Row: 3, Col: 3}))
	pool := plot.Must(plot.MaxPooling("A 2x2 max-pool", plot.ReLUGrid(out)))
	fmt.Println(conv.Save(filepath.Join(dir, "conv.png")), pool.Save(filepath.Join(dir, "pool.png")))
	// Output:
	// row 3 of the convolution: [0 3 9 6 0 -9]
	// after ReLU and the pool: [[3 9 0] [3 9 0] [3 9 0]]
	// <nil> <nil>
}

// Inside a model: its architecture, conv1's filters and the feature maps of conv1
// for one image, before training (an untrained model evaluated once has its random
// weights) and after a short training.
func ExampleFeatureMaps() {
	trainDS, testDS := embedded.MustLoad()
	s, err := nn.Summarize(nn.Net(10), data.Shape{Channels: 1, Height: 28, Width: 28})
	if err != nil {
		fmt.Println(err)
		return
	}
	arch := plot.Must(plot.Architecture("The article's CNN", s))
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.Momentum, cfg.Quiet = 1, 0.9, true
	var losses []float64
	cfg.OnStep = func(s train.StepLoss) { losses = append(losses, s.Loss) }
	m := train.New(nn.Net(10), cfg)
	if _, err := m.Evaluate(testDS.Head(64)); err != nil { // builds the model: random weights
		fmt.Println(err)
		return
	}
	img := testDS.ToImage(0)
	before, _ := m.Activations(img, "conv1/relu")
	if _, err := m.Fit(context.Background(), trainDS.Head(1280), testDS.Head(200)); err != nil {
		fmt.Println(err)
		return
	}
	after, _ := m.Activations(img, "conv1/relu")
	weights, _ := m.Variable("/conv1/conv/weights")
	figures := []*plot.Figure{arch,
		plot.Must(plot.Filters("conv1's filters", weights, 8)),
		plot.Must(plot.FeatureMaps("conv1 after ReLU, untrained", img, before[0], 8)),
		plot.Must(plot.FeatureMaps("conv1 after ReLU, after one epoch", img, after[0], 8)),
		plot.Must(plot.StepLoss("Training loss by step", []string{"SGD lr 0.01, momentum 0.9"}, [][]float64{losses},
			plot.StepLossOptions{StepsPerEpoch: 20, Classes: 10}))}
	for _, f := range figures {
		if _, err := f.PNG(96); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("figures:", len(figures), "steps:", len(losses))
	// Output:
	// figures: 5 steps: 20
}

// What the training loader's augmentation makes of three images, four draws each.
func ExampleAugmentations() {
	trainDS, _ := embedded.MustLoad()
	aug := data.Augmentation{CropPadding: 2, HorizontalFlip: true}
	f, err := plot.Augmentations("Random shifts by up to 2 pixels and flips", trainDS, []int{0, 1, 2}, aug, 4, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = f.PNG(96)
	fmt.Println(err)
	// Output:
	// <nil>
}
