package formats

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	"github.com/gopherdl/gopherdl/lib/data"
)

// cifarSide is the width and height of CIFAR-10's images.
const cifarSide = 32

const cifarRecord = 1 + 3*cifarSide*cifarSide

// ReadCIFAR parses CIFAR-10's binary format: records of one label byte followed by
// 3,072 bytes (the red, green and blue 32x32 planes). It returns channels-last pixels.
// name is used in errors.
func ReadCIFAR(r io.Reader, name string, numClasses int) (pixels []uint8, labels []int32, err error) {
	return readCIFARRecords(r, name, numClasses, cifarSide*cifarSide)
}

// readCIFARRecords reads records of one label byte and three planes of planeSize
// bytes. The fuzz test gives it tiny planes: with 3,073-byte records the fuzzer spent
// its time minimising inputs instead of running them.
func readCIFARRecords(r io.Reader, name string, numClasses, planeSize int) (pixels []uint8, labels []int32, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	rec := make([]byte, 1+3*planeSize)
	for i := 0; ; i++ {
		n, err := io.ReadFull(br, rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: record %d truncated: got %d of %d bytes (1 label + %d pixels)", name, i, n, len(rec), 3*planeSize)
		}
		if int(rec[0]) >= numClasses {
			return nil, nil, fmt.Errorf("%s: record %d: label %d: want 0..%d", name, i, rec[0], numClasses-1)
		}
		labels = append(labels, int32(rec[0]))
		planes := rec[1:]
		for p := range planeSize {
			pixels = append(pixels, planes[p], planes[planeSize+p], planes[2*planeSize+p])
		}
	}
	if len(labels) == 0 {
		return nil, nil, fmt.Errorf("%s: no records: want records of %d bytes", name, len(rec))
	}
	return pixels, labels, nil
}

// LoadCIFARBatches loads the folder of CIFAR-10's binary version
// (cifar-10-batches-bin in cifar-10-binary.tar.gz): data_batch_1..5.bin for
// training and test_batch.bin for testing. The class names come from
// batches.meta.txt when it names as many classes as classes does, else from classes.
func LoadCIFARBatches(name, dir string, classes []string) (train, test *data.Dataset, err error) {
	if b, err := os.ReadFile(filepath.Join(dir, "batches.meta.txt")); err == nil {
		var names []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				names = append(names, l)
			}
		}
		if len(names) == len(classes) {
			classes = names
		}
	}
	load := func(split string, files ...string) (*data.Dataset, error) {
		d := &data.Dataset{Name: name + "/" + split, Height: cifarSide, Width: cifarSide, Channels: 3, Classes: classes}
		for _, f := range files {
			path := filepath.Join(dir, f)
			fh, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("loading %s: %w", name, err)
			}
			px, lab, err := ReadCIFAR(fh, path, len(classes))
			fh.Close()
			if err != nil {
				return nil, err
			}
			d.Pixels = append(d.Pixels, px...)
			d.Labels = append(d.Labels, lab...)
		}
		return d, nil
	}
	if train, err = load("train", "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"); err != nil {
		return nil, nil, err
	}
	if test, err = load("test", "test_batch.bin"); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// WriteCIFAR writes d (32x32x3) in CIFAR-10's binary format, atomically.
func WriteCIFAR(d *data.Dataset, path string) error {
	if d.Height != cifarSide || d.Width != cifarSide || d.Channels != 3 {
		return fmt.Errorf("formats.WriteCIFAR %q: images are %dx%dx%d, want 32x32x3", d.Name, d.Height, d.Width, d.Channels)
	}
	const plane = cifarSide * cifarSide
	return atomicfile.Write(path, func(w io.Writer) error {
		var rec [cifarRecord]byte
		for i := range d.Len() {
			img, l := d.Image(i)
			rec[0] = byte(l)
			for p := range plane {
				rec[1+p], rec[1+plane+p], rec[1+2*plane+p] = img[3*p], img[3*p+1], img[3*p+2]
			}
			if _, err := w.Write(rec[:]); err != nil {
				return err
			}
		}
		return nil
	})
}
