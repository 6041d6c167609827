package data_test

import (
	"bytes"
	"fmt"
	"image"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
)

// digits are ten class names for synthetic data.
var digits = strings.Split("0123456789", "")

func TestSplitIsStratifiedAndSeeded(t *testing.T) {
	train, _ := embedded.MustLoad()
	d := train.Head(5000)
	tr, va, te, err := data.Split(d, 0.7, 0.15, 0.15, 42)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len()+va.Len()+te.Len() != d.Len() {
		t.Errorf("split sizes %d+%d+%d != %d", tr.Len(), va.Len(), te.Len(), d.Len())
	}
	total := d.ClassCounts()
	for c, n := range va.ClassCounts() {
		want := float64(total[c]) * 0.15
		if float64(n) < want-1 || float64(n) > want+1 {
			t.Errorf("class %d: %d validation images, want about %.1f", c, n, want)
		}
	}
	tr2, _, _, _ := data.Split(d, 0.7, 0.15, 0.15, 42)
	tr3, _, _, _ := data.Split(d, 0.7, 0.15, 0.15, 43)
	if !bytes.Equal(tr.Pixels, tr2.Pixels) {
		t.Error("same seed, different split")
	}
	if bytes.Equal(tr.Pixels, tr3.Pixels) {
		t.Error("different seeds, same split")
	}
	if _, _, _, err := data.Split(d, 0.8, 0.3, 0, 1); err == nil {
		t.Error("fractions summing to 1.1 accepted")
	}
}

func TestLoaderBatchesShuffleNormaliseAugment(t *testing.T) {
	train, _ := embedded.MustLoad()
	d := train.Head(130)
	norm := data.ComputeNormalization(d)
	l := data.NewLoader(d, 64, true)
	l.Seed, l.Norm = 7, &norm
	var sizes []int
	var first []int
	var sum, sq float64
	var count int
	for b, err := range l.Batches() {
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, b.Images.Shape().Dimensions[0])
		if first == nil {
			first = slices.Clone(b.Indices)
		}
		for _, v := range tensors.MustCopyFlatData[float32](b.Images) {
			sum += float64(v)
			sq += float64(v) * float64(v)
			count++
		}
		labels := tensors.MustCopyFlatData[int32](b.Labels)
		for i, idx := range b.Indices {
			if labels[i] != d.Labels[idx] {
				t.Fatalf("label of image %d is %d in the batch, %d in the dataset", idx, labels[i], d.Labels[idx])
			}
		}
	}
	if !slices.Equal(sizes, []int{64, 64, 2}) || l.NumBatches() != 3 {
		t.Errorf("batch sizes %v (NumBatches %d), want [64 64 2]", sizes, l.NumBatches())
	}
	mean := sum / float64(count)
	std := sq/float64(count) - mean*mean
	if mean > 1e-3 || mean < -1e-3 || std < 0.99 || std > 1.01 {
		t.Errorf("normalised mean %g, variance %g: want 0 and 1", mean, std)
	}
	// Next epoch: another order; a fresh loader with the same seed: the first order again.
	var second []int
	for b := range l.Batches() {
		second = b.Indices
		break
	}
	if slices.Equal(first, second) {
		t.Error("two epochs gave the same order")
	}
	l2 := data.NewLoader(d, 64, true)
	l2.Seed, l2.Norm = 7, &norm
	for b := range l2.Batches() {
		if !slices.Equal(b.Indices, first) {
			t.Error("same seed, different first-epoch order")
		}
		break
	}
	l2.DropLast = true
	if l2.NumBatches() != 2 {
		t.Errorf("DropLast: %d batches, want 2", l2.NumBatches())
	}
}

func TestAugmentationFlipAndCrop(t *testing.T) {
	// One 1x4 "image" with distinct pixels: a flip must reverse it, a crop must shift it
	// and fill with zeros.
	d := &data.Dataset{Name: "row", Height: 1, Width: 4, Channels: 1, Pixels: []uint8{10, 20, 30, 40}, Labels: []int32{0}, Classes: []string{"x"}}
	seen := map[string]bool{}
	l := data.NewLoader(d, 1, false)
	l.Augment = &data.Augmentation{HorizontalFlip: true}
	for range 40 {
		for b := range l.Batches() {
			v := tensors.MustCopyFlatData[float32](b.Images)
			seen[fmtRow(v)] = true
		}
	}
	if len(seen) != 2 || !seen["10 20 30 40"] || !seen["40 30 20 10"] {
		t.Errorf("flip outcomes %v, want the row and its mirror", seen)
	}
	seen = map[string]bool{}
	l.Augment = &data.Augmentation{CropPadding: 1}
	for range 60 {
		for b := range l.Batches() {
			seen[fmtRow(tensors.MustCopyFlatData[float32](b.Images))] = true
		}
	}
	for _, want := range []string{"10 20 30 40", "0 10 20 30", "20 30 40 0"} {
		if !seen[want] {
			t.Errorf("crop outcomes %v lack %q", seen, want)
		}
	}
}

func fmtRow(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.Itoa(int(x*255 + 0.5))
	}
	return strings.Join(parts, " ")
}

func TestSynthetic(t *testing.T) {
	d := data.Synthetic(25, 4, 2, 3, []string{"a", "b", "c", "d"})
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 25 || d.ImageSize() != 24 || !slices.Equal(d.ClassCounts(), []int{7, 6, 6, 6}) {
		t.Errorf("%d images of %d bytes, class counts %v", d.Len(), d.ImageSize(), d.ClassCounts())
	}
	if !bytes.Equal(d.Pixels, data.Synthetic(25, 4, 2, 3, []string{"a", "b", "c", "d"}).Pixels) {
		t.Error("two calls gave different pixels")
	}
}

func TestLoaderPadLast(t *testing.T) {
	d := data.Synthetic(11, 4, 4, 1, digits)
	l := data.NewLoader(d, 8, false)
	l.PadLast = true
	var rows, real []int
	for b, err := range l.Batches() {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, b.Images.Shape().Dimensions[0])
		real = append(real, len(b.Indices))
		if b.Images.Shape().Dimensions[0] == 4 {
			px := tensors.MustCopyFlatData[float32](b.Images)
			for _, v := range px[3*16:] {
				if v != 0 {
					t.Fatalf("padding image holds %g, want blank", v)
				}
			}
		}
	}
	if fmt.Sprint(rows, real) != "[8 4] [8 3]" {
		t.Errorf("batches of %v rows with %v real images; want [8 4] [8 3]", rows, real)
	}
}

func TestPixelsRefusesEmptyImages(t *testing.T) {
	shape := data.Shape{Channels: 1, Height: 28, Width: 28}
	if _, err := data.Pixels(image.NewGray(image.Rect(0, 0, 0, 0)), shape); err == nil {
		t.Error("a 0x0 image gave pixels")
	}
	if _, err := data.Pixels(nil, shape); err == nil {
		t.Error("a nil image gave pixels")
	}
}

func TestParseShape(t *testing.T) {
	if s, err := data.ParseShape("3x32x32"); err != nil || s != (data.Shape{Channels: 3, Height: 32, Width: 32}) || s.String() != "3x32x32" {
		t.Errorf("ParseShape: %v %v", s, err)
	}
	for _, bad := range []string{"32x32", "2x8x8", "1x28x28x", "ax1x1"} {
		if _, err := data.ParseShape(bad); err == nil {
			t.Errorf("ParseShape(%q) accepted", bad)
		}
	}
}

func TestPixelsImageRoundTrip(t *testing.T) {
	d := data.Synthetic(2, 3, 4, 3, digits)
	for i := range d.Len() {
		px, _ := d.Image(i)
		back, err := data.Pixels(d.ToImage(i), d.Shape())
		if err != nil || !bytes.Equal(back, px) {
			t.Errorf("image %d: Pixels(ToImage) differs from the dataset's bytes (%v)", i, err)
		}
	}
}
