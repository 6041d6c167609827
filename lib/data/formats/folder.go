package formats

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	"github.com/gopherdl/gopherdl/lib/data"
)

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
	// MaxPixels refuses, from its header and before decoding it, an image of more
	// pixels (width x height) than this; 0 means DefaultMaxPixels.
	MaxPixels int
	// Extensions are the file endings read as images, ignoring case; nil means .png,
	// .jpg, .jpeg, .gif, .bmp and .webp. Other files are skipped and reported.
	Extensions []string
}

// FolderReport says what LoadFolder did besides loading, for the caller to show.
type FolderReport struct {
	Skipped []string // files that are not images (by their ending) or hidden
	Resized int      // images resized to the common size
}

// String says it in a line: "skipped 1 files that are not images, resized 0 images".
func (r FolderReport) String() string {
	return fmt.Sprintf("skipped %d files that are not images, resized %d images", len(r.Skipped), r.Resized)
}

// folderItem is one image file of a class folder, with the size its header gives.
type folderItem struct {
	path  string
	label int32
	w, h  int
}

// LoadFolder loads root/<class>/<image> (the article's Dataset; torchvision's
// ImageFolder): classes are the sub-folders sorted by name, images are PNG, JPEG, GIF,
// BMP or WebP. Hidden files and non-images are skipped and listed in the report. An
// error names the file or folder at fault: a corrupt image, an image whose header
// claims more than MaxPixels pixels (refused before decoding), an empty class folder,
// fewer than two classes, a missing folder.
//
// Images are read twice: once for their headers (to choose the common size and check
// the limit), then one at a time for their pixels, so memory holds one decoded image
// besides the dataset.
func LoadFolder(root string, opts FolderOptions) (*data.Dataset, FolderReport, error) {
	var rep FolderReport
	if (opts.Height == 0) != (opts.Width == 0) || opts.Height < 0 || opts.Width < 0 {
		return nil, rep, fmt.Errorf("%s: FolderOptions.Height %d and Width %d: set both (> 0) to resize, or neither", root, opts.Height, opts.Width)
	}
	if ch := opts.Channels; ch != 0 && ch != 1 && ch != 3 {
		return nil, rep, fmt.Errorf("%s: FolderOptions.Channels %d: want 0 (infer), 1 or 3", root, ch)
	}
	classes, err := folderClasses(root, opts.Classes)
	if err != nil {
		return nil, rep, err
	}
	items, skipped, err := scanFolder(root, classes, opts)
	rep.Skipped = skipped
	if err != nil {
		return nil, rep, err
	}
	h, w := commonSize(items, opts)
	d, resized, err := readImages(filepath.Base(root), classes, items, h, w, opts)
	rep.Resized = resized
	return d, rep, err
}

// folderClasses returns classes when set, else the sorted names of root's visible
// sub-folders.
func folderClasses(root string, classes []string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("loading image folder: %w", err)
	}
	if classes == nil {
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				classes = append(classes, e.Name())
			}
		}
		slices.Sort(classes)
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("%s: no class sub-folders: want %s/<class>/<image>", root, root)
	}
	return classes, nil
}

// scanFolder lists the images of each class folder with the sizes their headers give,
// and the files it skipped.
func scanFolder(root string, classes []string, opts FolderOptions) (items []folderItem, skipped []string, err error) {
	exts, kinds := opts.Extensions, strings.Join(opts.Extensions, ", ")
	if exts == nil {
		exts, kinds = imageExtensions(), "PNG, JPEG, GIF, BMP or WebP"
	}
	counts := make([]int, len(classes))
	for label, class := range classes {
		dir := filepath.Join(root, class)
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, skipped, fmt.Errorf("loading image folder: class %q: %w", class, err)
		}
		for _, f := range files {
			path := filepath.Join(dir, f.Name())
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") || !hasExtension(f.Name(), exts) {
				skipped = append(skipped, path)
				continue
			}
			w, h, err := imageSize(path, opts.MaxPixels)
			if err != nil {
				return nil, skipped, err
			}
			items = append(items, folderItem{path, int32(label), w, h})
			counts[label]++
		}
		if counts[label] == 0 {
			return nil, skipped, fmt.Errorf("%s: class folder has no images (%s)", dir, kinds)
		}
	}
	if len(classes) < 2 {
		return nil, skipped, fmt.Errorf("%s: one class folder (%s, %d images): a classifier needs at least two classes, one sub-folder each", root, classes[0], counts[0])
	}
	return items, skipped, nil
}

// commonSize is the size opts asks for, else the size most images have (the larger
// one on a tie).
func commonSize(items []folderItem, opts FolderOptions) (h, w int) {
	if opts.Height > 0 {
		return opts.Height, opts.Width
	}
	sizes := map[[2]int]int{}
	for _, it := range items {
		sizes[[2]int{it.h, it.w}]++
	}
	best := 0
	for s, c := range sizes {
		if c > best || (c == best && (s[0]*s[1] > h*w || (s[0]*s[1] == h*w && s[0] > h))) {
			best, h, w = c, s[0], s[1]
		}
	}
	return h, w
}

// readImages decodes the images one at a time into a dataset of h x w images, and
// counts those it resized. It reads RGB unless opts asks for gray; when inferring,
// it keeps one channel if every image is gray.
func readImages(name string, classes []string, items []folderItem, h, w int, opts FolderOptions) (*data.Dataset, int, error) {
	readCh := 3
	if opts.Channels == 1 {
		readCh = 1
	}
	shape := data.Shape{Channels: readCh, Height: h, Width: w}
	d := &data.Dataset{Name: name, Height: h, Width: w, Channels: readCh, Classes: classes,
		Pixels: make([]uint8, 0, len(items)*shape.Size()), Labels: make([]int32, 0, len(items))}
	allGray, resized := true, 0
	for _, it := range items {
		if it.w != w || it.h != h {
			if opts.NoResize {
				return nil, resized, fmt.Errorf("%s: image is %dx%d, others are %dx%d, and resizing is off (FolderOptions.NoResize)", it.path, it.w, it.h, w, h)
			}
			resized++
		}
		img, err := ReadImageFile(it.path, opts.MaxPixels)
		if err != nil {
			return nil, resized, err
		}
		if opts.Channels == 0 && allGray {
			allGray = isGray(img)
		}
		px, err := data.Pixels(img, shape)
		if err != nil {
			return nil, resized, fmt.Errorf("%s: %w", it.path, err)
		}
		d.Pixels = append(d.Pixels, px...)
		d.Labels = append(d.Labels, it.label)
	}
	if opts.Channels == 0 && allGray {
		// Every image is gray: keep one of the three equal channels.
		for i := range len(d.Pixels) / 3 {
			d.Pixels[i] = d.Pixels[3*i]
		}
		d.Pixels = d.Pixels[:len(d.Pixels)/3]
		d.Channels = 1
	}
	return d, resized, nil
}

// imageSize reads the width and height from an image file's header, refusing images
// over maxPixels (DefaultMaxPixels when 0).
func imageSize(path string, maxPixels int) (w, h int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("loading image: %w", err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: not a valid image (%s): %w", path, strings.TrimPrefix(filepath.Ext(path), "."), err)
	}
	if err := checkSize(cfg, format, path, maxPixels, " (raise FolderOptions.MaxPixels to load it)"); err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}

// SaveFolder writes d as PNG files root/<class>/<index>.png, at most perClass images
// per class (all when perClass <= 0), each file atomically. Class names are made safe
// for file names ("T-shirt/top" becomes "T-shirt_top").
func SaveFolder(d *data.Dataset, root string, perClass int) error {
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
