package formats

import (
	"archive/tar"
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
	"strings"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
)

// digits are ten class names for made-up data.
var digits = strings.Split("0123456789", "")

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
		classes := digits
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
	if _, err := LoadIDX("missing", filepath.Join(dir, "nope"), goodLabels, digits); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing file: error %v, want one naming it", err)
	}
}

func synthRGB(n int) *data.Dataset {
	d := &data.Dataset{Name: "synth", Height: 32, Width: 32, Channels: 3, Classes: digits}
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
	train, test, err := LoadCIFARBatches("synth", dir, digits)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 100 || test.Len() != 20 || !bytes.Equal(test.Pixels, d.Pixels) || !slices.Equal(test.Labels, d.Labels) {
		t.Fatalf("loaded %d/%d images, round trip equal: %v", train.Len(), test.Len(), bytes.Equal(test.Pixels, d.Pixels))
	}
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), raw[:cifarRecord+100], 0o644)
	if _, _, err := LoadCIFARBatches("synth", dir, digits); err == nil || !strings.Contains(err.Error(), "test_batch.bin: record 1 truncated") {
		t.Errorf("truncated file: %v", err)
	}
	raw[0] = 12
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), raw, 0o644)
	if _, _, err := LoadCIFARBatches("synth", dir, digits); err == nil || !strings.Contains(err.Error(), "record 0: label 12: want 0..9") {
		t.Errorf("bad label: %v", err)
	}
	os.Remove(filepath.Join(dir, "data_batch_3.bin"))
	if _, _, err := LoadCIFARBatches("synth", dir, digits); err == nil || !strings.Contains(err.Error(), "data_batch_3.bin") {
		t.Errorf("missing batch: %v", err)
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

func TestFolderSizeNeedsHeightAndWidth(t *testing.T) {
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "a", "1.png"), 4, 4, color.White)
	writePNG(t, filepath.Join(root, "b", "2.png"), 4, 4, color.Black)
	if _, _, err := LoadFolder(root, FolderOptions{Height: 8}); err == nil || !strings.Contains(err.Error(), "set both") {
		t.Errorf("a height without a width: %v", err)
	}
}

// An archive entry that would land outside the cache folder is refused.
func TestExtractRefusesEntriesOutsideTheFolder(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "evil.tar.gz")
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"cifar-10-batches-bin/ok.bin", "cifar-10-batches-bin/../../escaped.bin"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte{1})
	}
	tw.Close()
	gz.Close()
	os.WriteFile(archive, tgz.Bytes(), 0o644)
	os.MkdirAll(filepath.Join(dir, "cache"), 0o755)
	err := ExtractTarGz(archive, filepath.Join(dir, "cache"), "cifar-10-batches-bin")
	if err == nil || !strings.Contains(err.Error(), "escapes the folder") {
		t.Errorf("extracting an entry with ../..: %v; want it refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped.bin")); err == nil {
		t.Error("the escaping entry was written")
	}
}

// FolderOptions.Extensions chooses which files are images; the rest are skipped and
// reported.
func TestFolderExtensions(t *testing.T) {
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "a", "1.png"), 4, 4, color.White)
	writePNG(t, filepath.Join(root, "a", "2.PNG"), 4, 4, color.White)
	writePNG(t, filepath.Join(root, "b", "3.png"), 4, 4, color.Black)
	writePNG(t, filepath.Join(root, "b", "4.jpg"), 4, 4, color.Black)
	d, rep, err := LoadFolder(root, FolderOptions{})
	if err != nil || d.Len() != 4 || len(rep.Skipped) != 0 {
		t.Fatalf("default endings: %v, %d images, skipped %v", err, d.Len(), rep.Skipped)
	}
	d, rep, err = LoadFolder(root, FolderOptions{Extensions: []string{".png"}})
	if err != nil || d.Len() != 3 || !slices.Equal(rep.Skipped, []string{filepath.Join(root, "b", "4.jpg")}) {
		t.Fatalf(".png only: %v, %d images, skipped %v", err, d.Len(), rep.Skipped)
	}
	_, _, err = LoadFolder(root, FolderOptions{Extensions: []string{".webp"}})
	if err == nil || !strings.Contains(err.Error(), "class folder has no images (.webp)") {
		t.Errorf(".webp only: %v; want the empty class named with the endings looked for", err)
	}
}
