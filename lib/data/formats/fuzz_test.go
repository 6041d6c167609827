package formats

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
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

// FuzzReadCIFAR fuzzes the CIFAR record reader with records of 2x2 planes (13
// bytes): the same code as ReadCIFAR's 32x32, with inputs small enough to minimise.
func FuzzReadCIFAR(f *testing.F) {
	const plane = 4
	rec := make([]byte, 1+3*plane)
	rec[0] = 3
	f.Add(rec)
	f.Add(append(rec, 1, 2, 3))
	f.Add(append(append([]byte{}, rec...), rec...))
	f.Fuzz(func(t *testing.T, b []byte) {
		px, labels, err := readCIFARRecords(bytes.NewReader(b), "fuzz", 10, plane)
		if err == nil && (len(px) != len(labels)*3*plane || len(b) != len(labels)*(1+3*plane)) {
			t.Fatalf("%d pixels, %d labels from %d bytes", len(px), len(labels), len(b))
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz") {
			t.Fatalf("error does not name the input: %v", err)
		}
	})
}

// FuzzDecodeImage fuzzes the folder loader's decoding path: arbitrary bytes in a file
// named .png, .jpg, .gif, .bmp or .webp in a class folder. Each gives an image or an
// error naming the file, never a panic, and never more than the pixel limit decoded.
func FuzzDecodeImage(f *testing.F) {
	var pngBytes, jpgBytes bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	png.Encode(&pngBytes, img)
	jpeg.Encode(&jpgBytes, img, nil)
	f.Add(pngBytes.Bytes(), uint8(0))
	f.Add(jpgBytes.Bytes(), uint8(1))
	f.Add([]byte("GIF89a\x01\x00\x01\x00"), uint8(2))
	f.Add([]byte("BM"), uint8(3))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), uint8(4))
	f.Add(hugePNGHeader(40000, 40000), uint8(0))
	root := f.TempDir()
	exts := imageExtensions()
	f.Fuzz(func(t *testing.T, b []byte, ext uint8) {
		const limit = 64 * 64
		name := "x" + exts[int(ext)%len(exts)]
		img, err := DecodeImage(b, name, limit)
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error does not name the file: %v", err)
			}
		} else if r := img.Bounds(); r.Dx()*r.Dy() > limit || r.Dx() <= 0 || r.Dy() <= 0 {
			t.Fatalf("decoded a %dx%d image; the limit is %d pixels", r.Dx(), r.Dy(), limit)
		}
		// The same bytes as a file in a class folder, beside a valid image.
		dir := filepath.Join(root, "a")
		os.MkdirAll(dir, 0o755)
		os.MkdirAll(filepath.Join(root, "b"), 0o755)
		os.WriteFile(filepath.Join(root, "b", "ok.png"), pngBytes.Bytes(), 0o644)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		_, _, err = LoadFolder(root, FolderOptions{MaxPixels: limit})
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Fatalf("LoadFolder error does not name the file: %v", err)
		}
	})
}
