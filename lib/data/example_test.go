package data_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
)

// Load a folder of images laid out as root/<class>/<image> (the article's Dataset),
// split it into train, validation and test sets, and batch the training set (the
// article's DataLoader).
func Example() {
	// Write a small image folder from the embedded Fashion-MNIST subset.
	train, _ := embedded.MustLoad()
	root := filepath.Join(os.TempDir(), "gopherdl-example-folder")
	defer os.RemoveAll(root)
	if err := data.SaveFolder(train, root, 20); err != nil {
		fmt.Println(err)
		return
	}

	ds, report, err := data.LoadFolder(root, data.FolderOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d images of %dx%dx%d in %d classes, %d files skipped\n",
		ds.Len(), ds.Height, ds.Width, ds.Channels, len(ds.Classes), len(report.Skipped))

	tr, val, test, err := data.Split(ds, 0.8, 0.1, 0.1, 42)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("train/validation/test:", tr.Len(), val.Len(), test.Len())

	norm := data.ComputeNormalization(tr)
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
	// Output:
	// 200 images of 28x28x1 in 10 classes, 0 files skipped
	// train/validation/test: 160 20 20
	// first batch: (Float32)[64, 28, 28, 1] (Int32)[64, 1]
}
