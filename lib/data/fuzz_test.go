package data

import (
	"bytes"
	"testing"
)

func FuzzReadIDXImages(f *testing.F) {
	f.Add(append(idxImagesHeader(0x803, 2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8))
	f.Add(idxImagesHeader(0x803, 1, 28, 28))
	f.Add([]byte{0, 0, 8, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		px, n, r, c, err := ReadIDXImages(bytes.NewReader(b), "fuzz")
		if err == nil && len(px) != n*r*c {
			t.Fatalf("%d pixels for %d x %d x %d", len(px), n, r, c)
		}
	})
}

func FuzzReadIDXLabels(f *testing.F) {
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 2, 1, 2})
	f.Add([]byte{0, 0, 8, 1, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		labels, err := ReadIDXLabels(bytes.NewReader(b), "fuzz")
		if err == nil && len(b) < 8+len(labels) {
			t.Fatalf("%d labels from %d bytes", len(labels), len(b))
		}
	})
}

func FuzzReadCIFAR(f *testing.F) {
	rec := make([]byte, cifarRecord)
	rec[0] = 3
	f.Add(rec)
	f.Add(append(rec, 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		px, labels, err := ReadCIFAR(bytes.NewReader(b), "fuzz", 10)
		if err == nil && (len(px) != len(labels)*3072 || len(b) != len(labels)*cifarRecord) {
			t.Fatalf("%d pixels, %d labels from %d bytes", len(px), len(labels), len(b))
		}
	})
}
