// Package data holds a labelled image dataset in memory and batches it for GoMLX: the
// Dataset (PyTorch's Dataset: Len, Image, class names), Split for stratified
// train/validation/test splits, and the Loader (PyTorch's DataLoader: shuffled,
// normalised, optionally augmented batches as GoMLX tensors; it implements GoMLX's
// train.Dataset).
//
// A Dataset holds images as bytes, channels-last ([N, height, width, channels]).
// Where datasets come from is the job of the packages in its sub-folders, which build
// on it: data/formats reads and writes the file formats (image folders, IDX, CIFAR-10's
// binary), data/fetch downloads into a cache, data/datasets opens a dataset by name
// ("fashion-mnist", "mnist", "cifar10", a folder), data/embedded holds the embedded
// default.
package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Dataset is a labelled set of images held in memory.
type Dataset struct {
	// Name says where the data came from, e.g. "fashion-mnist/train".
	Name string
	// Height, Width and Channels give every image's shape (channels-last).
	Height, Width, Channels int
	// Pixels holds Len()*Height*Width*Channels bytes, image after image, each
	// row-major with interleaved channels (RGBRGB...).
	Pixels []uint8
	// Labels holds one class index per image, in [0, len(Classes)).
	Labels []int32
	// Classes names the classes, indexed by label.
	Classes []string
}

// Len is the number of images (PyTorch's __len__).
func (d *Dataset) Len() int { return len(d.Labels) }

// ImageSize is the number of bytes of one image.
func (d *Dataset) ImageSize() int { return d.Height * d.Width * d.Channels }

// Image returns the bytes of image i and its label (PyTorch's __getitem__). The
// slice aliases the dataset's storage.
func (d *Dataset) Image(i int) ([]uint8, int32) {
	n := d.ImageSize()
	return d.Pixels[i*n : (i+1)*n], d.Labels[i]
}

// ClassCounts returns how many images each class has.
func (d *Dataset) ClassCounts() []int {
	counts := make([]int, len(d.Classes))
	for _, l := range d.Labels {
		counts[l]++
	}
	return counts
}

// Subset returns a new dataset made of the images at the given indices, in that order.
func (d *Dataset) Subset(name string, indices []int) *Dataset {
	n := d.ImageSize()
	out := &Dataset{Name: name, Height: d.Height, Width: d.Width, Channels: d.Channels,
		Classes: d.Classes, Pixels: make([]uint8, 0, len(indices)*n), Labels: make([]int32, 0, len(indices))}
	for _, i := range indices {
		img, l := d.Image(i)
		out.Pixels = append(out.Pixels, img...)
		out.Labels = append(out.Labels, l)
	}
	return out
}

// Head returns the first n images (all of them when n <= 0 or n >= Len). It shares storage.
func (d *Dataset) Head(n int) *Dataset {
	if n <= 0 || n >= d.Len() {
		return d
	}
	out := *d
	out.Pixels = d.Pixels[:n*d.ImageSize()]
	out.Labels = d.Labels[:n]
	return &out
}

// Validate checks that the sizes and labels are consistent.
func (d *Dataset) Validate() error {
	if d.Height <= 0 || d.Width <= 0 || (d.Channels != 1 && d.Channels != 3) {
		return fmt.Errorf("dataset %q: image shape %dx%dx%d: want positive height and width and 1 or 3 channels",
			d.Name, d.Height, d.Width, d.Channels)
	}
	if len(d.Pixels) != d.Len()*d.ImageSize() {
		return fmt.Errorf("dataset %q: %d pixel bytes for %d images of %d bytes", d.Name, len(d.Pixels), d.Len(), d.ImageSize())
	}
	for i, l := range d.Labels {
		if l < 0 || int(l) >= len(d.Classes) {
			return fmt.Errorf("dataset %q: image %d has label %d, want 0..%d", d.Name, i, l, len(d.Classes)-1)
		}
	}
	return nil
}

// Split divides d into train, validation and test sets with the given fractions of
// every class (stratified), shuffled with seed. The fractions must be >= 0 and sum to
// at most 1; what they leave out is dropped. A zero fraction gives an empty set.
func Split(d *Dataset, trainFrac, valFrac, testFrac float64, seed uint64) (train, val, test *Dataset, err error) {
	if trainFrac < 0 || valFrac < 0 || testFrac < 0 || trainFrac+valFrac+testFrac > 1+1e-9 {
		return nil, nil, nil, fmt.Errorf("data.Split %q: fractions %g, %g, %g: want each >= 0 and a sum <= 1",
			d.Name, trainFrac, valFrac, testFrac)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	byClass := make([][]int, len(d.Classes))
	for i, l := range d.Labels {
		byClass[l] = append(byClass[l], i)
	}
	var tr, va, te []int
	for _, idx := range byClass {
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		// Cumulative cut points: the three parts always add up to the whole when the
		// fractions sum to 1.
		n := float64(len(idx))
		c1 := int(n*trainFrac + 0.5)
		c2 := min(int(n*(trainFrac+valFrac)+0.5), len(idx))
		c3 := min(int(n*(trainFrac+valFrac+testFrac)+0.5), len(idx))
		tr = append(tr, idx[:c1]...)
		va = append(va, idx[c1:c2]...)
		te = append(te, idx[c2:c3]...)
	}
	for _, s := range [][]int{tr, va, te} {
		r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	}
	return d.Subset(d.Name+"/train", tr), d.Subset(d.Name+"/validation", va), d.Subset(d.Name+"/test", te), nil
}

// Concat joins datasets of one shape and one class list.
func Concat(name string, parts ...*Dataset) (*Dataset, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("data.Concat %q: no datasets", name)
	}
	out := &Dataset{Name: name, Height: parts[0].Height, Width: parts[0].Width, Channels: parts[0].Channels, Classes: parts[0].Classes}
	for _, p := range parts {
		if p.Height != out.Height || p.Width != out.Width || p.Channels != out.Channels || !slices.Equal(p.Classes, out.Classes) {
			return nil, fmt.Errorf("data.Concat %q: %q has shape %dx%dx%d and classes %v, want %dx%dx%d and %v",
				name, p.Name, p.Height, p.Width, p.Channels, p.Classes, out.Height, out.Width, out.Channels, out.Classes)
		}
		out.Pixels = append(out.Pixels, p.Pixels...)
		out.Labels = append(out.Labels, p.Labels...)
	}
	return out, nil
}

// String describes the dataset: its size, image shape and images per class.
func (d *Dataset) String() string {
	s := fmt.Sprintf("%s: %d images of %s (channels x height x width), %d classes\n", d.Name, d.Len(), d.Shape(), len(d.Classes))
	for c, n := range d.ClassCounts() {
		s += fmt.Sprintf("  %2d %-14s %6d\n", c, d.Classes[c], n)
	}
	return s
}

// Synthetic returns n images of height x width x channels with fixed pseudo-random
// pixels and labels cycling through the classes: data for benchmarks and tests, where
// what is measured does not depend on the pictures.
func Synthetic(n, height, width, channels int, classes []string) *Dataset {
	d := &Dataset{Name: "synthetic", Height: height, Width: width, Channels: channels, Classes: classes,
		Pixels: make([]uint8, n*height*width*channels), Labels: make([]int32, n)}
	r := rand.New(rand.NewPCG(uint64(n), 0x5717))
	for i := range d.Pixels {
		d.Pixels[i] = uint8(r.Uint32())
	}
	for i := range d.Labels {
		d.Labels[i] = int32(i % len(classes))
	}
	return d
}
