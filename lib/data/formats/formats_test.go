package formats_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

func TestIDXRoundTripGzipAndPlain(t *testing.T) {
	train, _ := embedded.MustLoad()
	sub := train.Head(100)
	dir := t.TempDir()
	for _, ext := range []string{"", ".gz"} {
		img, lab := filepath.Join(dir, "i"+ext), filepath.Join(dir, "l"+ext)
		if err := formats.WriteIDX(sub, img, lab); err != nil {
			t.Fatal(err)
		}
		got, err := formats.LoadIDX("x", img, lab, datasets.FashionMNISTClasses())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pixels, sub.Pixels) || !slices.Equal(got.Labels, sub.Labels) {
			t.Errorf("ext %q: round trip changed the data", ext)
		}
	}
}

func TestFolderOfRealImages(t *testing.T) {
	train, _ := embedded.MustLoad()
	sub := train.Head(200)
	root := t.TempDir()
	if err := formats.SaveFolder(sub, root, 0); err != nil {
		t.Fatal(err)
	}
	// Noise the loader must skip.
	os.WriteFile(filepath.Join(root, "Bag", ".DS_Store"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "Bag", "README.txt"), []byte("x"), 0o644)
	d, rep, err := formats.LoadFolder(root, formats.FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 2 || rep.Resized != 0 {
		t.Errorf("report %+v: want 2 skipped, 0 resized", rep)
	}
	if d.Len() != 200 || d.Channels != 1 || d.Height != 28 {
		t.Fatalf("loaded %d images %dx%dx%d", d.Len(), d.Height, d.Width, d.Channels)
	}
	want := datasets.FashionMNISTClasses()
	for i := range want {
		want[i] = formats.SafeName(want[i])
	}
	slices.Sort(want)
	if !slices.Equal(d.Classes, want) {
		t.Errorf("classes %v, want sorted %v", d.Classes, want)
	}
	// Same images per class, as multisets of pixel sums.
	sums := func(ds *data.Dataset, name func(int32) string) map[string]int {
		m := map[string]int{}
		for i := range ds.Len() {
			px, l := ds.Image(i)
			s := 0
			for _, v := range px {
				s += int(v)
			}
			m[name(l)] += s
		}
		return m
	}
	a := sums(sub, func(l int32) string { return formats.SafeName(sub.Classes[l]) })
	b := sums(d, func(l int32) string { return d.Classes[l] })
	for k, v := range a {
		if b[k] != v {
			t.Errorf("class %s: pixel sum %d after the folder round trip, want %d", k, b[k], v)
		}
	}
	// Forced RGB and a resize.
	d3, _, err := formats.LoadFolder(root, formats.FolderOptions{Channels: 3, Height: 32, Width: 32})
	if err != nil || d3.Channels != 3 || d3.Height != 32 {
		t.Fatalf("RGB 32x32: %v", err)
	}
}

func TestPixelsMatchLoadFolder(t *testing.T) {
	train, _ := embedded.MustLoad()
	root := t.TempDir()
	if err := formats.SaveFolder(train.Head(20), root, 0); err != nil {
		t.Fatal(err)
	}
	d, _, err := formats.LoadFolder(root, formats.FolderOptions{Channels: 3, Height: 32, Width: 32})
	if err != nil {
		t.Fatal(err)
	}
	// The first file of the first class, prepared as for a prediction.
	first := filepath.Join(root, d.Classes[0])
	files, _ := os.ReadDir(first)
	img, err := formats.ReadImageFile(filepath.Join(first, files[0].Name()), 0)
	if err != nil {
		t.Fatal(err)
	}
	px, err := data.Pixels(img, d.Shape())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := d.Image(0)
	if !bytes.Equal(px, got) {
		t.Errorf("Pixels differs from what LoadFolder stored for the same file")
	}
}
