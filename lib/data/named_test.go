package data

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOpenFolderLayouts(t *testing.T) {
	train, test := embeddedFashion(t)
	root := t.TempDir()
	if err := SaveFolder(train.Head(300), filepath.Join(root, "split", "train"), 0); err != nil {
		t.Fatal(err)
	}
	if err := SaveFolder(test.Head(100), filepath.Join(root, "split", "test"), 0); err != nil {
		t.Fatal(err)
	}
	tr, te, err := Open(context.Background(), filepath.Join(root, "split"), 1, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 300 || te.Len() != 100 || !slices.Equal(tr.Classes, te.Classes) {
		t.Errorf("train/test folders: %d and %d images, classes %v / %v", tr.Len(), te.Len(), tr.Classes, te.Classes)
	}
	// A single folder is split 80/20 by class.
	if err := SaveFolder(train.Head(500), filepath.Join(root, "single"), 0); err != nil {
		t.Fatal(err)
	}
	tr, te, err = Open(context.Background(), filepath.Join(root, "single"), 1, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len()+te.Len() != 500 || te.Len() < 90 || te.Len() > 110 {
		t.Errorf("single folder: %d train, %d test: want about 400/100", tr.Len(), te.Len())
	}
	// Options reach both splits: a size for large photos.
	tr, te, err = OpenFolder(filepath.Join(root, "split"), FolderOptions{Height: 14, Width: 14}, 1)
	if err != nil || tr.Shape().String() != "1x14x14" || te.Shape() != tr.Shape() {
		t.Errorf("OpenFolder with a size: %v %v %v", tr.Shape(), te.Shape(), err)
	}
	if _, _, err := Open(context.Background(), "no-such-dataset", 1, FetchOptions{}); err == nil || !strings.Contains(err.Error(), "not a known name") {
		t.Errorf("unknown name: %v", err)
	}
}

// MNIST comes from the Go module named in MNISTModule (through the module proxy).
func TestOpenMNISTFromGoModule(t *testing.T) {
	train, test, err := Open(context.Background(), "mnist", 1, FetchOptions{CacheDir: t.TempDir(), Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 || train.Height != 28 || train.Classes[3] != "3" {
		t.Fatalf("MNIST: %d/%d images of %dx%d", train.Len(), test.Len(), train.Height, train.Width)
	}
}
