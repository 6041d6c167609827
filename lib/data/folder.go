package data

import (
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // GIF decoder
	_ "image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	_ "golang.org/x/image/bmp" // BMP decoder
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // WebP decoder
)

// imageExts are the file endings LoadFolder decodes; other files are skipped.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true, ".webp": true}

// FolderOptions configures LoadFolder. The zero value infers everything.
type FolderOptions struct {
	// Channels is 1 (grayscale) or 3 (RGB); 0 infers 1 when every image is gray, else 3.
	Channels int
	// Height and Width resize every image to this size (a Catmull-Rom resampler).
	// Zero uses the size most images have.
	Height, Width int
	// NoResize makes images of another size an error instead of resizing them.
	NoResize bool
	// Classes, when set, fixes the class list (and order) instead of the sorted
	// sub-folder names: a test folder then gets the same labels as its train folder.
	Classes []string
}

// FolderReport says what LoadFolder did besides loading.
type FolderReport struct {
	Skipped []string // files that are not images (by their ending) or hidden
	Resized int      // images resized to the common size
}

// LoadFolder loads root/<class>/<image> (the article's Dataset; torchvision's
// ImageFolder): classes are the sub-folders sorted by name, images are PNG, JPEG, GIF,
// BMP or WebP. Hidden files and non-images are skipped and listed in the report; a
// corrupt image, an empty class folder or a missing folder is an error naming it.
func LoadFolder(root string, opts FolderOptions) (*Dataset, FolderReport, error) {
	var rep FolderReport
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, rep, fmt.Errorf("loading image folder: %w", err)
	}
	classes := opts.Classes
	if classes == nil {
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				classes = append(classes, e.Name())
			}
		}
		slices.Sort(classes)
	}
	if len(classes) == 0 {
		return nil, rep, fmt.Errorf("%s: no class sub-folders: want %s/<class>/<image>", root, root)
	}
	type item struct {
		path  string
		img   image.Image
		label int32
	}
	var items []item
	sizes := map[[2]int]int{}
	allGray := true
	for label, class := range classes {
		dir := filepath.Join(root, class)
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, rep, fmt.Errorf("loading image folder: class %q: %w", class, err)
		}
		n := 0
		for _, f := range files {
			path := filepath.Join(dir, f.Name())
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") || !imageExts[strings.ToLower(filepath.Ext(f.Name()))] {
				rep.Skipped = append(rep.Skipped, path)
				continue
			}
			img, err := decodeFile(path)
			if err != nil {
				return nil, rep, err
			}
			b := img.Bounds()
			sizes[[2]int{b.Dy(), b.Dx()}]++
			allGray = allGray && isGray(img)
			items = append(items, item{path, img, int32(label)})
			n++
		}
		if n == 0 {
			return nil, rep, fmt.Errorf("%s: class folder has no images (PNG, JPEG, GIF, BMP or WebP)", dir)
		}
	}
	h, w := opts.Height, opts.Width
	if h == 0 || w == 0 {
		best := 0
		for s, c := range sizes {
			if c > best || (c == best && s[0]*s[1] > h*w) {
				best, h, w = c, s[0], s[1]
			}
		}
	}
	ch := opts.Channels
	if ch == 0 {
		ch = 3
		if allGray {
			ch = 1
		}
	}
	if ch != 1 && ch != 3 {
		return nil, rep, fmt.Errorf("%s: FolderOptions.Channels %d: want 0 (infer), 1 or 3", root, ch)
	}
	d := &Dataset{Name: filepath.Base(root), Height: h, Width: w, Channels: ch, Classes: classes,
		Pixels: make([]uint8, 0, len(items)*h*w*ch), Labels: make([]int32, 0, len(items))}
	for _, it := range items {
		img := it.img
		if b := img.Bounds(); b.Dy() != h || b.Dx() != w {
			if opts.NoResize {
				return nil, rep, fmt.Errorf("%s: image is %dx%d, others are %dx%d, and resizing is off (FolderOptions.NoResize)", it.path, b.Dx(), b.Dy(), w, h)
			}
			dst := image.NewRGBA(image.Rect(0, 0, w, h))
			draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
			img = dst
			rep.Resized++
		}
		d.Pixels = appendPixels(d.Pixels, img, ch)
		d.Labels = append(d.Labels, it.label)
	}
	return d, rep, nil
}

func decodeFile(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading image: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid image (%s): %w", path, strings.TrimPrefix(filepath.Ext(path), "."), err)
	}
	return img, nil
}

func isGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != g || g != bl {
				return false
			}
		}
	}
	return true
}

func appendPixels(dst []uint8, img image.Image, ch int) []uint8 {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if ch == 1 {
				dst = append(dst, color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)
				continue
			}
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			dst = append(dst, c.R, c.G, c.B)
		}
	}
	return dst
}

// ToImage returns image i of d as a Go image (*image.Gray or *image.NRGBA).
func (d *Dataset) ToImage(i int) image.Image {
	px, _ := d.Image(i)
	r := image.Rect(0, 0, d.Width, d.Height)
	if d.Channels == 1 {
		return &image.Gray{Pix: slices.Clone(px), Stride: d.Width, Rect: r}
	}
	out := image.NewNRGBA(r)
	for p := range d.Width * d.Height {
		copy(out.Pix[4*p:], px[3*p:3*p+3])
		out.Pix[4*p+3] = 255
	}
	return out
}

// SaveFolder writes d as PNG files root/<class>/<index>.png, at most perClass images
// per class (all when perClass <= 0), each file atomically. Class names are made safe
// for file names ("T-shirt/top" becomes "T-shirt_top").
func SaveFolder(d *Dataset, root string, perClass int) error {
	counts := make([]int, len(d.Classes))
	for i := range d.Len() {
		_, l := d.Image(i)
		if perClass > 0 && counts[l] >= perClass {
			continue
		}
		counts[l]++
		path := filepath.Join(root, SafeName(d.Classes[l]), fmt.Sprintf("%05d.png", i))
		img := d.ToImage(i)
		if err := atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
			return err
		}
	}
	return nil
}

// SafeName turns a class name into a file name: path separators and other
// characters that are awkward in file names become '_'.
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == 0 {
			return '_'
		}
		return r
	}, s)
}
