package formats

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	"github.com/gopherdl/gopherdl/lib/data"
)

// maxIDXItems bounds the item count an IDX header may claim, so a corrupt header
// cannot ask for an absurd allocation.
const maxIDXItems = 10_000_000

// openMaybeGzip opens path and transparently gunzips it when it starts with the gzip magic.
func openMaybeGzip(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: gzip header: %w", path, err)
		}
		return gz, func() error { gz.Close(); return f.Close() }, nil
	}
	return br, f.Close, nil
}

// ReadIDXImages parses an IDX image file (magic 0x00000803: N x rows x cols unsigned
// bytes). name is used in errors.
func ReadIDXImages(r io.Reader, name string) (pixels []uint8, n, rows, cols int, err error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, 0, 0, fmt.Errorf("%s: IDX image header: want 16 bytes: %w", name, err)
	}
	if magic := binary.BigEndian.Uint32(hdr[0:]); magic != 0x803 {
		return nil, 0, 0, 0, fmt.Errorf("%s: IDX magic number 0x%08x: want 0x00000803 (unsigned-byte images, 3 dimensions)", name, magic)
	}
	n = int(binary.BigEndian.Uint32(hdr[4:]))
	rows = int(binary.BigEndian.Uint32(hdr[8:]))
	cols = int(binary.BigEndian.Uint32(hdr[12:]))
	if n > maxIDXItems || rows <= 0 || cols <= 0 || rows > 4096 || cols > 4096 {
		return nil, 0, 0, 0, fmt.Errorf("%s: IDX dimensions %d x %d x %d: want at most %d images of 1..4096 x 1..4096", name, n, rows, cols, maxIDXItems)
	}
	pixels, err = readN(r, n*rows*cols)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("%s: IDX pixel data: header promises %d images of %dx%d: %w", name, n, rows, cols, err)
	}
	return pixels, n, rows, cols, nil
}

// ReadIDXLabels parses an IDX label file (magic 0x00000801: N unsigned bytes).
func ReadIDXLabels(r io.Reader, name string) ([]int32, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%s: IDX label header: want 8 bytes: %w", name, err)
	}
	if magic := binary.BigEndian.Uint32(hdr[0:]); magic != 0x801 {
		return nil, fmt.Errorf("%s: IDX magic number 0x%08x: want 0x00000801 (unsigned-byte labels, 1 dimension)", name, magic)
	}
	n := int(binary.BigEndian.Uint32(hdr[4:]))
	if n > maxIDXItems {
		return nil, fmt.Errorf("%s: IDX label count %d: want at most %d", name, n, maxIDXItems)
	}
	raw, err := readN(r, n)
	if err != nil {
		return nil, fmt.Errorf("%s: IDX labels: header promises %d labels: %w", name, n, err)
	}
	labels := make([]int32, n)
	for i, b := range raw {
		labels[i] = int32(b)
	}
	return labels, nil
}

// readN reads exactly n bytes. io.ReadAll grows its buffer as data arrives, so a
// lying header cannot force a huge allocation up front.
func readN(r io.Reader, n int) ([]byte, error) {
	buf, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, err
	}
	if len(buf) < n {
		return nil, fmt.Errorf("truncated: got %d of %d bytes", len(buf), n)
	}
	return buf, nil
}

// LoadIDX loads an image file and a label file in IDX format, each gzipped or not.
func LoadIDX(name, imagesPath, labelsPath string, classes []string) (*data.Dataset, error) {
	r, closeImg, err := openMaybeGzip(imagesPath)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	defer closeImg()
	pixels, n, rows, cols, err := ReadIDXImages(r, imagesPath)
	if err != nil {
		return nil, err
	}
	lr, closeLab, err := openMaybeGzip(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	defer closeLab()
	labels, err := ReadIDXLabels(lr, labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, fmt.Errorf("%s: %d labels for %d images in %s", labelsPath, len(labels), n, imagesPath)
	}
	for i, l := range labels {
		if int(l) >= len(classes) {
			return nil, fmt.Errorf("%s: label %d of image %d: want 0..%d", labelsPath, l, i, len(classes)-1)
		}
	}
	return &data.Dataset{Name: name, Height: rows, Width: cols, Channels: 1, Pixels: pixels, Labels: labels, Classes: classes}, nil
}

// findIDX returns the path of base or base.gz in dir.
func findIDX(dir, base string) (string, error) {
	for _, p := range []string{filepath.Join(dir, base+".gz"), filepath.Join(dir, base)} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no %s(.gz)", dir, base)
}

// LoadMNISTStyle loads the train and test splits of an MNIST-style folder: the
// files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each optionally .gz.
func LoadMNISTStyle(name, dir string, classes []string) (train, test *data.Dataset, err error) {
	load := func(split, prefix string) (*data.Dataset, error) {
		img, err := findIDX(dir, prefix+"-images-idx3-ubyte")
		if err != nil {
			return nil, err
		}
		lab, err := findIDX(dir, prefix+"-labels-idx1-ubyte")
		if err != nil {
			return nil, err
		}
		return LoadIDX(name+"/"+split, img, lab, classes)
	}
	if train, err = load("train", "train"); err != nil {
		return nil, nil, err
	}
	if test, err = load("test", "t10k"); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// WriteIDX writes d as an IDX image file and an IDX label file (gzipped when the
// names end in .gz), each atomically.
func WriteIDX(d *data.Dataset, imagesPath, labelsPath string) error {
	if d.Channels != 1 {
		return fmt.Errorf("formats.WriteIDX %q: %d channels: IDX holds grayscale images only", d.Name, d.Channels)
	}
	img := make([]byte, 16, 16+len(d.Pixels))
	binary.BigEndian.PutUint32(img[0:], 0x803)
	binary.BigEndian.PutUint32(img[4:], uint32(d.Len()))
	binary.BigEndian.PutUint32(img[8:], uint32(d.Height))
	binary.BigEndian.PutUint32(img[12:], uint32(d.Width))
	img = append(img, d.Pixels...)
	lab := make([]byte, 8, 8+d.Len())
	binary.BigEndian.PutUint32(lab[0:], 0x801)
	binary.BigEndian.PutUint32(lab[4:], uint32(d.Len()))
	for _, l := range d.Labels {
		lab = append(lab, byte(l))
	}
	if err := writeMaybeGzip(imagesPath, img); err != nil {
		return err
	}
	return writeMaybeGzip(labelsPath, lab)
}

func writeMaybeGzip(path string, b []byte) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		if filepath.Ext(path) != ".gz" {
			_, err := w.Write(b)
			return err
		}
		gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := gz.Write(b); err != nil {
			return err
		}
		return gz.Close()
	})
}

// ReadIDXBytes parses IDX image and label files held in memory, each gzipped or not.
func ReadIDXBytes(name string, images, labels []byte, classes []string) (*data.Dataset, error) {
	open := func(b []byte) (io.Reader, error) {
		if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
			return gzip.NewReader(bytes.NewReader(b))
		}
		return bytes.NewReader(b), nil
	}
	ir, err := open(images)
	if err != nil {
		return nil, fmt.Errorf("%s images: %w", name, err)
	}
	pixels, n, rows, cols, err := ReadIDXImages(ir, name+" images")
	if err != nil {
		return nil, err
	}
	lr, err := open(labels)
	if err != nil {
		return nil, fmt.Errorf("%s labels: %w", name, err)
	}
	labs, err := ReadIDXLabels(lr, name+" labels")
	if err != nil {
		return nil, err
	}
	if len(labs) != n {
		return nil, fmt.Errorf("%s: %d labels for %d images", name, len(labs), n)
	}
	d := &data.Dataset{Name: name, Height: rows, Width: cols, Channels: 1, Pixels: pixels, Labels: labs, Classes: classes}
	return d, d.Validate()
}
