package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// embeddedFashion loads the Fashion-MNIST subset that package data/embedded compiles
// in, from its files beside this package: real images, on every machine.
func embeddedFashion(t testing.TB) (train, test *Dataset) {
	t.Helper()
	train, test, err := LoadMNISTStyle("fashion-mnist-small", "embedded", FashionMNISTClasses)
	if err != nil {
		t.Fatal(err)
	}
	return train, test
}

// fullFashionMNIST loads the full Fashion-MNIST from Debian's dataset-fashion-mnist,
// for the tests of those files: without it they fail in CI (CI=true), where .ci/run
// installs it, and skip elsewhere, saying what to install.
func fullFashionMNIST(t testing.TB) (train, test *Dataset) {
	t.Helper()
	train, test, err := LoadFashionMNIST("")
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
}

func TestIDXRoundTripGzipAndPlain(t *testing.T) {
	train, _ := embeddedFashion(t)
	sub := train.Head(100)
	dir := t.TempDir()
	for _, ext := range []string{"", ".gz"} {
		img, lab := filepath.Join(dir, "i"+ext), filepath.Join(dir, "l"+ext)
		if err := WriteIDX(sub, img, lab); err != nil {
			t.Fatal(err)
		}
		got, err := LoadIDX("x", img, lab, FashionMNISTClasses)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pixels, sub.Pixels) || !slices.Equal(got.Labels, sub.Labels) {
			t.Errorf("ext %q: round trip changed the data", ext)
		}
	}
}

func idxImagesHeader(magic uint32, n, r, c int) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b, magic)
	binary.BigEndian.PutUint32(b[4:], uint32(n))
	binary.BigEndian.PutUint32(b[8:], uint32(r))
	binary.BigEndian.PutUint32(b[12:], uint32(c))
	return b
}

func TestIDXBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	goodLabels := write("labels", append([]byte{0, 0, 8, 1, 0, 0, 0, 2}, 1, 2))
	for _, tc := range []struct {
		name, want string
		images     []byte
		labels     string
	}{
		{"wrong-magic", "magic number 0x00000804: want 0x00000803", idxImagesHeader(0x804, 2, 2, 2), goodLabels},
		{"truncated", "truncated: got 3 of 8 bytes", append(idxImagesHeader(0x803, 2, 2, 2), 1, 2, 3), goodLabels},
		{"short-header", "want 16 bytes", []byte{0, 0, 8}, goodLabels},
		{"huge-claim", "want at most", idxImagesHeader(0x803, 1<<30, 28, 28), goodLabels},
		{"count-mismatch", "2 labels for 1 images", append(idxImagesHeader(0x803, 1, 2, 2), 1, 2, 3, 4), goodLabels},
		{"label-range", "label 9 of image 0: want 0..1", append(idxImagesHeader(0x803, 1, 1, 1), 7),
			write("labels9", []byte{0, 0, 8, 1, 0, 0, 0, 1, 9})},
	} {
		p := write(tc.name, tc.images)
		classes := FashionMNISTClasses
		if tc.name == "label-range" {
			classes = classes[:2]
		}
		_, err := LoadIDX(tc.name, p, tc.labels, classes)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: error %q does not name the file", tc.name, err)
		}
	}
	if _, err := LoadIDX("missing", filepath.Join(dir, "nope"), goodLabels, FashionMNISTClasses); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing file: error %v, want one naming it", err)
	}
}

func synthRGB(n int) *Dataset {
	d := &Dataset{Name: "synth", Height: 32, Width: 32, Channels: 3, Classes: CIFAR10Classes}
	for i := range n {
		for p := range 32 * 32 * 3 {
			d.Pixels = append(d.Pixels, uint8((i*31+p*7)%256))
		}
		d.Labels = append(d.Labels, int32(i%10))
	}
	return d
}

func TestCIFARRoundTripAndFolder(t *testing.T) {
	dir := t.TempDir()
	d := synthRGB(20)
	for _, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		if err := WriteCIFAR(d, filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	// The format stores planes: check one record by hand.
	raw, _ := os.ReadFile(filepath.Join(dir, "test_batch.bin"))
	img, l := d.Image(1)
	if raw[cifarRecord] != byte(l) || raw[cifarRecord+1] != img[0] || raw[cifarRecord+1+1024] != img[1] || raw[cifarRecord+1+2048+5] != img[5*3+2] {
		t.Fatal("record 1 is not label + R, G, B planes")
	}
	train, test, err := LoadCIFAR10(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 100 || test.Len() != 20 || !bytes.Equal(test.Pixels, d.Pixels) || !slices.Equal(test.Labels, d.Labels) {
		t.Fatalf("loaded %d/%d images, round trip equal: %v", train.Len(), test.Len(), bytes.Equal(test.Pixels, d.Pixels))
	}
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), raw[:cifarRecord+100], 0o644)
	if _, _, err := LoadCIFAR10(dir); err == nil || !strings.Contains(err.Error(), "test_batch.bin: record 1 truncated") {
		t.Errorf("truncated file: %v", err)
	}
	raw[0] = 12
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), raw, 0o644)
	if _, _, err := LoadCIFAR10(dir); err == nil || !strings.Contains(err.Error(), "record 0: label 12: want 0..9") {
		t.Errorf("bad label: %v", err)
	}
	os.Remove(filepath.Join(dir, "data_batch_3.bin"))
	if _, _, err := LoadCIFAR10(dir); err == nil || !strings.Contains(err.Error(), "data_batch_3.bin") {
		t.Errorf("missing batch: %v", err)
	}
}

func TestFolderOfRealImages(t *testing.T) {
	train, _ := embeddedFashion(t)
	sub := train.Head(200)
	root := t.TempDir()
	if err := SaveFolder(sub, root, 0); err != nil {
		t.Fatal(err)
	}
	// Noise the loader must skip.
	os.WriteFile(filepath.Join(root, "Bag", ".DS_Store"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "Bag", "README.txt"), []byte("x"), 0o644)
	d, rep, err := LoadFolder(root, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 2 || rep.Resized != 0 {
		t.Errorf("report %+v: want 2 skipped, 0 resized", rep)
	}
	if d.Len() != 200 || d.Channels != 1 || d.Height != 28 {
		t.Fatalf("loaded %d images %dx%dx%d", d.Len(), d.Height, d.Width, d.Channels)
	}
	want := slices.Clone(FashionMNISTClasses)
	for i := range want {
		want[i] = SafeName(want[i])
	}
	slices.Sort(want)
	if !slices.Equal(d.Classes, want) {
		t.Errorf("classes %v, want sorted %v", d.Classes, want)
	}
	// Same images per class, as multisets of pixel sums.
	sums := func(ds *Dataset, name func(int32) string) map[string]int {
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
	a := sums(sub, func(l int32) string { return SafeName(sub.Classes[l]) })
	b := sums(d, func(l int32) string { return d.Classes[l] })
	for k, v := range a {
		if b[k] != v {
			t.Errorf("class %s: pixel sum %d after the folder round trip, want %d", k, b[k], v)
		}
	}
	// Forced RGB and a resize.
	d3, _, err := LoadFolder(root, FolderOptions{Channels: 3, Height: 32, Width: 32})
	if err != nil || d3.Channels != 3 || d3.Height != 32 {
		t.Fatalf("RGB 32x32: %v", err)
	}
}

func writePNG(t *testing.T, path string, w, h int, c color.Color) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, _ := os.Create(path)
	defer f.Close()
	if strings.HasSuffix(path, ".jpg") {
		jpeg.Encode(f, img, nil)
		return
	}
	png.Encode(f, img)
}

func TestFolderBadInput(t *testing.T) {
	red := color.RGBA{200, 10, 10, 255}
	t.Run("mixed sizes resized to the common one", func(t *testing.T) {
		root := t.TempDir()
		writePNG(t, filepath.Join(root, "a", "1.png"), 8, 6, red)
		writePNG(t, filepath.Join(root, "a", "2.jpg"), 8, 6, red)
		writePNG(t, filepath.Join(root, "b", "3.png"), 16, 16, red)
		d, rep, err := LoadFolder(root, FolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Width != 8 || d.Height != 6 || d.Channels != 3 || rep.Resized != 1 {
			t.Errorf("got %dx%dx%d, %d resized; want 8x6x3, 1 resized", d.Width, d.Height, d.Channels, rep.Resized)
		}
		_, _, err = LoadFolder(root, FolderOptions{NoResize: true})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "b", "3.png")) || !strings.Contains(err.Error(), "16x16") {
			t.Errorf("NoResize: %v", err)
		}
	})
	t.Run("corrupt image", func(t *testing.T) {
		root := t.TempDir()
		writePNG(t, filepath.Join(root, "a", "1.png"), 4, 4, red)
		os.WriteFile(filepath.Join(root, "a", "2.png"), []byte("\x89PNG garbage"), 0o644)
		_, _, err := LoadFolder(root, FolderOptions{})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "a", "2.png")) || !strings.Contains(err.Error(), "not a valid image") {
			t.Errorf("corrupt: %v", err)
		}
	})
	t.Run("empty class", func(t *testing.T) {
		root := t.TempDir()
		writePNG(t, filepath.Join(root, "a", "1.png"), 4, 4, red)
		os.MkdirAll(filepath.Join(root, "b"), 0o755)
		_, _, err := LoadFolder(root, FolderOptions{})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "b")+": class folder has no images") {
			t.Errorf("empty class: %v", err)
		}
	})
	t.Run("missing folder", func(t *testing.T) {
		_, _, err := LoadFolder("/no/such/folder", FolderOptions{})
		if err == nil || !strings.Contains(err.Error(), "/no/such/folder") {
			t.Errorf("missing: %v", err)
		}
	})
}

func TestSplitIsStratifiedAndSeeded(t *testing.T) {
	train, _ := embeddedFashion(t)
	d := train.Head(5000)
	tr, va, te, err := Split(d, 0.7, 0.15, 0.15, 42)
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
	tr2, _, _, _ := Split(d, 0.7, 0.15, 0.15, 42)
	tr3, _, _, _ := Split(d, 0.7, 0.15, 0.15, 43)
	if !bytes.Equal(tr.Pixels, tr2.Pixels) {
		t.Error("same seed, different split")
	}
	if bytes.Equal(tr.Pixels, tr3.Pixels) {
		t.Error("different seeds, same split")
	}
	if _, _, _, err := Split(d, 0.8, 0.3, 0, 1); err == nil {
		t.Error("fractions summing to 1.1 accepted")
	}
}

func TestLoaderBatchesShuffleNormaliseAugment(t *testing.T) {
	train, _ := embeddedFashion(t)
	d := train.Head(130)
	norm := ComputeNormalization(d)
	l := NewLoader(d, 64, true)
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
	l2 := NewLoader(d, 64, true)
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
	d := &Dataset{Name: "row", Height: 1, Width: 4, Channels: 1, Pixels: []uint8{10, 20, 30, 40}, Labels: []int32{0}, Classes: []string{"x"}}
	seen := map[string]bool{}
	l := NewLoader(d, 1, false)
	l.Augment = &Augmentation{HorizontalFlip: true}
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
	l.Augment = &Augmentation{CropPadding: 1}
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

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write(b)
	gz.Close()
	return buf.Bytes()
}

func TestSynthetic(t *testing.T) {
	d := Synthetic(25, 4, 2, 3, DigitClasses[:4])
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 25 || d.ImageSize() != 24 || !slices.Equal(d.ClassCounts(), []int{7, 6, 6, 6}) {
		t.Errorf("%d images of %d bytes, class counts %v", d.Len(), d.ImageSize(), d.ClassCounts())
	}
	if !bytes.Equal(d.Pixels, Synthetic(25, 4, 2, 3, DigitClasses[:4]).Pixels) {
		t.Error("two calls gave different pixels")
	}
}

// hugePNGHeader returns a PNG whose header claims w x h pixels, with a tiny image's
// data after it: what a decompression bomb looks like to a header reader.
func hugePNGHeader(w, h uint32) []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	p := b.Bytes()
	// Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ..., CRC after 13 data bytes.
	binary.BigEndian.PutUint32(p[16:], w)
	binary.BigEndian.PutUint32(p[20:], h)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

func TestImagesOverThePixelLimitAreRefusedFromTheHeader(t *testing.T) {
	bomb := hugePNGHeader(40000, 40000)
	if _, _, err := image.DecodeConfig(bytes.NewReader(bomb)); err != nil {
		t.Fatalf("the test PNG's header does not parse: %v", err)
	}
	_, err := DecodeImage(bomb, "upload.png", 0)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "upload.png") || !strings.Contains(err.Error(), "40000x40000") {
		t.Errorf("DecodeImage: %v; want ErrTooLarge naming the file and its size", err)
	}
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "a", "1.png"), 4, 4, color.White)
	writePNG(t, filepath.Join(root, "b", "2.png"), 4, 4, color.Black)
	path := filepath.Join(root, "b", "bomb.png")
	os.WriteFile(path, bomb, 0o644)
	_, _, err = LoadFolder(root, FolderOptions{})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "FolderOptions.MaxPixels") {
		t.Errorf("LoadFolder: %v; want ErrTooLarge naming %s and the option that raises the limit", err, path)
	}
	// A limit the caller lowers applies to ordinary images too.
	_, _, err = LoadFolder(root, FolderOptions{MaxPixels: 10})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxPixels 10 with 4x4 images: %v", err)
	}
}

func TestFolderWithOneClassIsRefused(t *testing.T) {
	root := t.TempDir()
	for i := range 3 {
		writePNG(t, filepath.Join(root, "cats", fmt.Sprintf("%d.png", i)), 4, 4, color.White)
	}
	_, _, err := LoadFolder(root, FolderOptions{})
	if err == nil || !strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), "cats, 3 images") {
		t.Errorf("one class: %v; want an error naming the folder, the class and its count", err)
	}
}

func TestPixelsMatchLoadFolder(t *testing.T) {
	train, _ := embeddedFashion(t)
	root := t.TempDir()
	if err := SaveFolder(train.Head(20), root, 0); err != nil {
		t.Fatal(err)
	}
	d, _, err := LoadFolder(root, FolderOptions{Channels: 3, Height: 32, Width: 32})
	if err != nil {
		t.Fatal(err)
	}
	// The first file of the first class, prepared as for a prediction.
	first := filepath.Join(root, d.Classes[0])
	files, _ := os.ReadDir(first)
	img, err := ReadImageFile(filepath.Join(first, files[0].Name()), 0)
	if err != nil {
		t.Fatal(err)
	}
	px, err := Pixels(img, d.Shape())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := d.Image(0)
	if !bytes.Equal(px, got) {
		t.Errorf("Pixels differs from what LoadFolder stored for the same file")
	}
	if s, err := ParseShape("3x32x32"); err != nil || s != d.Shape() || s.String() != "3x32x32" {
		t.Errorf("ParseShape: %v %v", s, err)
	}
	for _, bad := range []string{"32x32", "2x8x8", "1x28x28x", "ax1x1"} {
		if _, err := ParseShape(bad); err == nil {
			t.Errorf("ParseShape(%q) accepted", bad)
		}
	}
}

func TestLoaderPadLast(t *testing.T) {
	d := Synthetic(11, 4, 4, 1, DigitClasses)
	l := NewLoader(d, 8, false)
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
	shape := Shape{Channels: 1, Height: 28, Width: 28}
	if _, err := Pixels(image.NewGray(image.Rect(0, 0, 0, 0)), shape); err == nil {
		t.Error("a 0x0 image gave pixels")
	}
	if _, err := Pixels(nil, shape); err == nil {
		t.Error("a nil image gave pixels")
	}
}

func TestFolderSizeNeedsHeightAndWidth(t *testing.T) {
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "a", "1.png"), 4, 4, color.White)
	writePNG(t, filepath.Join(root, "b", "2.png"), 4, 4, color.Black)
	if _, _, err := LoadFolder(root, FolderOptions{Height: 8}); err == nil || !strings.Contains(err.Error(), "set both") {
		t.Errorf("a height without a width: %v", err)
	}
}
