package datasets_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/data/fetch"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

// Open a folder of images with train/ and test/ sub-folders, as a learner's own
// images come; "fashion-mnist", "mnist" and "cifar10" open the same way.
func ExampleOpen() {
	train, test := embedded.MustLoad()
	root, err := os.MkdirTemp("", "gopherdl-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(root)
	formats.SaveFolder(train, filepath.Join(root, "train"), 50)
	formats.SaveFolder(test, filepath.Join(root, "test"), 10)

	tr, te, report, err := datasets.Open(context.Background(), root, 1, fetch.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d training and %d test images of %s; %s\n", tr.Len(), te.Len(), tr.Shape(), report)
	// Output:
	// 500 training and 100 test images of 1x28x28; skipped 0 files that are not images, resized 0 images
}
