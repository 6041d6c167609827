package formats_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

// Write a folder of images laid out as root/<class>/<image> (the article's Dataset),
// then load it; the report says what was not an image.
func Example() {
	train, _ := embedded.MustLoad()
	root, err := os.MkdirTemp("", "gopherdl-example-folder-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(root)
	if err := formats.SaveFolder(train, root, 20); err != nil {
		fmt.Println(err)
		return
	}
	os.WriteFile(filepath.Join(root, "Bag", "notes.txt"), []byte("not an image"), 0o644)

	ds, report, err := formats.LoadFolder(root, formats.FolderOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d images of %s in %d classes, the first %q\n", ds.Len(), ds.Shape(), len(ds.Classes), ds.Classes[0])
	fmt.Println(report)
	// Output:
	// 200 images of 1x28x28 in 10 classes, the first "Ankle boot"
	// skipped 1 files that are not images, resized 0 images
}
