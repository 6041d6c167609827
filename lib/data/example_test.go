package data_test

import (
	"fmt"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
)

// Split a dataset into train, validation and test sets, each class in the same
// proportions, and batch the training set (the article's DataLoader).
func Example() {
	all, _ := embedded.MustLoad()
	tr, val, test, err := data.Split(all, 0.8, 0.1, 0.1, 42)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("train/validation/test:", tr.Len(), val.Len(), test.Len())

	norm := data.ComputeNormalization(tr) // on the training split only
	loader := data.NewLoader(tr, 64, true)
	loader.Norm = &norm
	for batch, err := range loader.Batches() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("first batch:", batch.Images.Shape(), batch.Labels.Shape())
		break
	}
	fmt.Println("batches per epoch:", loader.NumBatches())
	// Output:
	// train/validation/test: 4800 600 600
	// first batch: (Float32)[64, 28, 28, 1] (Int32)[64, 1]
	// batches per epoch: 75
}
