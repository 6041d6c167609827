package nn_test

import (
	"fmt"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// The article's CNN on 3x32x32 images (CIFAR-10's shape), layer by layer. Output
// shapes are the tensors' own: batch, height, width, channels.
func ExampleSummarize() {
	s, err := nn.Summarize(nn.Net(10), data.Shape{Channels: 3, Height: 32, Width: 32})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(s)
	// Output:
	// Layer                  Output [B,H,W,C]         Params
	// input 3x32x32          [B, 32, 32, 3]
	// /conv1 conv2d          [B, 32, 32, 32]             896
	// relu                   [B, 32, 32, 32]
	// maxpool2x2             [B, 16, 16, 32]
	// /conv2 conv2d          [B, 16, 16, 64]          18,496
	// relu                   [B, 16, 16, 64]
	// maxpool2x2             [B, 8, 8, 64]
	// flatten                [B, 4096]
	// /fc1 linear            [B, 128]                524,416
	// relu                   [B, 128]
	// /fc2 linear            [B, 10]                   1,290
	// Total trainable parameters: 545,098
}
