package datasets_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/data/fetch"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

// fullFashionMNIST loads the full Fashion-MNIST from Debian's dataset-fashion-mnist,
// for the tests of those files: without it they fail in CI (CI=true), where .ci/run
// installs it, and skip elsewhere, saying what to install.
func fullFashionMNIST(t testing.TB) (train, test *data.Dataset) {
	t.Helper()
	train, test, err := datasets.LoadFashionMNIST("")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the full Fashion-MNIST is needed for this test in CI (.ci/run installs dataset-fashion-mnist): %v", err)
		}
		t.Skipf("needs the full Fashion-MNIST: apt-get install dataset-fashion-mnist (%v)", err)
	}
	return train, test
}

func TestFashionMNISTFromDebian(t *testing.T) {
	train, test := fullFashionMNIST(t)
	if train.Len() != 60000 || test.Len() != 10000 {
		t.Fatalf("got %d/%d images, want 60000/10000", train.Len(), test.Len())
	}
	if train.Height != 28 || train.Width != 28 || train.Channels != 1 {
		t.Fatalf("shape %dx%dx%d, want 28x28x1", train.Height, train.Width, train.Channels)
	}
	for c, n := range train.ClassCounts() {
		if n != 6000 {
			t.Errorf("class %q has %d training images, want 6000", train.Classes[c], n)
		}
	}
	if err := train.Validate(); err != nil {
		t.Fatal(err)
	}
	got, _, _, err := datasets.Open(context.Background(), "fashion-mnist", 1, fetch.Options{CacheDir: t.TempDir()})
	if err != nil || got.Len() != 60000 {
		t.Errorf("Open(fashion-mnist) with Debian's package: %v", err)
	}
}

func TestOpenFolderLayouts(t *testing.T) {
	train, test := embedded.MustLoad()
	root := t.TempDir()
	if err := formats.SaveFolder(train.Head(300), filepath.Join(root, "split", "train"), 0); err != nil {
		t.Fatal(err)
	}
	if err := formats.SaveFolder(test.Head(100), filepath.Join(root, "split", "test"), 0); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(root, "split", "test", "Bag", "notes.txt")
	os.WriteFile(stray, []byte("not an image"), 0o644)
	tr, te, rep, err := datasets.Open(context.Background(), filepath.Join(root, "split"), 1, fetch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 300 || te.Len() != 100 || !slices.Equal(tr.Classes, te.Classes) {
		t.Errorf("train/test folders: %d and %d images, classes %v / %v", tr.Len(), te.Len(), tr.Classes, te.Classes)
	}
	if !slices.Equal(rep.Skipped, []string{stray}) || rep.String() != "skipped 1 files that are not images, resized 0 images" {
		t.Errorf("report %+v (%q): want the stray file of the test folder, nothing resized", rep, rep)
	}
	// A single folder is split 80/20 by class.
	if err := formats.SaveFolder(train.Head(500), filepath.Join(root, "single"), 0); err != nil {
		t.Fatal(err)
	}
	tr, te, _, err = datasets.Open(context.Background(), filepath.Join(root, "single"), 1, fetch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len()+te.Len() != 500 || te.Len() < 90 || te.Len() > 110 {
		t.Errorf("single folder: %d train, %d test: want about 400/100", tr.Len(), te.Len())
	}
	// Options reach both splits: a size for large photos.
	tr, te, rep, err = datasets.OpenFolder(filepath.Join(root, "split"), formats.FolderOptions{Height: 14, Width: 14}, 1)
	if err != nil || tr.Shape().String() != "1x14x14" || te.Shape() != tr.Shape() || rep.Resized != 400 {
		t.Errorf("OpenFolder with a size: %v %v, %d resized, %v", tr.Shape(), te.Shape(), rep.Resized, err)
	}
	if _, _, _, err := datasets.Open(context.Background(), "no-such-dataset", 1, fetch.Options{}); err == nil || !strings.Contains(err.Error(), "not a known name") {
		t.Errorf("unknown name: %v", err)
	}
}

// MNIST comes from the Go module named in MNISTModule (through the module proxy).
func TestOpenMNISTFromGoModule(t *testing.T) {
	train, test, _, err := datasets.Open(context.Background(), "mnist", 1, fetch.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 || train.Height != 28 || train.Classes[3] != "3" {
		t.Fatalf("MNIST: %d/%d images of %dx%d", train.Len(), test.Len(), train.Height, train.Width)
	}
}
