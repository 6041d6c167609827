package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // GIF decoder
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	_ "golang.org/x/image/bmp" // BMP decoder
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // WebP decoder
)

// Shape is the shape of one image: channels, height and width. It is written, read
// and printed in that order everywhere ("1x28x28", PyTorch's order); in memory and in
// the model's tensors the channels come last ([batch, height, width, channels]).
type Shape struct {
	Channels int `json:"channels"`
	Height   int `json:"height"`
	Width    int `json:"width"`
}

// String is "CxHxW", e.g. "1x28x28".
func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.Channels, s.Height, s.Width) }

// Size is the number of values (bytes) of one image.
func (s Shape) Size() int { return s.Channels * s.Height * s.Width }

// Validate checks for 1 or 3 channels and a positive height and width.
func (s Shape) Validate() error {
	if s.Height <= 0 || s.Width <= 0 || (s.Channels != 1 && s.Channels != 3) {
		return fmt.Errorf("image shape %s: want 1 or 3 channels and a positive height and width", s)
	}
	return nil
}

// ParseShape reads "CxHxW", e.g. "3x32x32".
func ParseShape(s string) (Shape, error) {
	var sh Shape
	var rest string
	n, _ := fmt.Sscanf(s+" end", "%dx%dx%d %s", &sh.Channels, &sh.Height, &sh.Width, &rest)
	if n != 4 || rest != "end" {
		return Shape{}, fmt.Errorf("image shape %q: want CxHxW, e.g. 1x28x28 or 3x32x32", s)
	}
	return sh, sh.Validate()
}

// Shape returns the shape of the dataset's images.
func (d *Dataset) Shape() Shape { return Shape{Channels: d.Channels, Height: d.Height, Width: d.Width} }

// DefaultMaxPixels is the largest image (width x height) decoded when no other limit
// is given: 8192 x 8192, larger than any phone camera's photos. Decoding it takes
// about 256 MB.
const DefaultMaxPixels = 8192 * 8192

// ErrTooLarge is returned (wrapped) for an image whose header claims more pixels than
// the limit; it is refused before its pixels are decoded.
var ErrTooLarge = fmt.Errorf("image too large")

// ImageExts are the file endings DecodeImage and LoadFolder read.
var ImageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}

// IsImageFile reports whether name ends in one of ImageExts (case-insensitive).
func IsImageFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range ImageExts {
		if ext == e {
			return true
		}
	}
	return false
}

// DecodeImage decodes a PNG, JPEG, GIF, BMP or WebP image from b. It reads the header
// first and refuses, without decoding, an image of more than maxPixels pixels
// (DefaultMaxPixels when maxPixels <= 0), so that a small file claiming a huge image
// cannot take the memory. name (a file name, an upload's name) appears in every error.
func DecodeImage(b []byte, name string, maxPixels int) (image.Image, error) {
	return decodeLimited(bytes.NewReader(b), name, maxPixels)
}

// ReadImageFile reads and decodes the image file at path, as DecodeImage does.
func ReadImageFile(path string, maxPixels int) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading image: %w", err)
	}
	defer f.Close()
	return decodeLimited(f, path, maxPixels)
}

// decodeLimited checks r's header against the pixel limit, then decodes r from its start.
func decodeLimited(r io.ReadSeeker, name string, maxPixels int) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid image (PNG, JPEG, GIF, BMP or WebP): %w", name, err)
	}
	if err := checkSize(cfg, format, name, maxPixels, ""); err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid %s image: %w", name, format, err)
	}
	return img, nil
}

// checkSize refuses a header's image size when it is empty or over maxPixels
// (DefaultMaxPixels when <= 0); hint ends the message about the limit.
func checkSize(cfg image.Config, format, name string, maxPixels int, hint string) error {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("%s: %s image of %dx%d pixels: want a positive width and height", name, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return fmt.Errorf("%s: %w: its %s header says %dx%d pixels, over the limit of %d%s", name, ErrTooLarge, format, cfg.Width, cfg.Height, maxPixels, hint)
	}
	return nil
}

// Pixels returns img as bytes of the given shape, as the model reads them: resized to
// shape's height and width (Catmull-Rom) when its size differs, then converted to
// grayscale (1 channel) or RGB (3 channels, interleaved). LoadFolder and prediction
// both prepare images with it, so a model sees a new image as it saw its training
// images.
func Pixels(img image.Image, shape Shape) ([]uint8, error) {
	if err := shape.Validate(); err != nil {
		return nil, err
	}
	if img == nil {
		return nil, fmt.Errorf("no image (nil)")
	}
	if b := img.Bounds(); b.Empty() {
		return nil, fmt.Errorf("an image of %dx%d pixels: want a positive width and height", b.Dx(), b.Dy())
	}
	if b := img.Bounds(); b.Dx() != shape.Width || b.Dy() != shape.Height {
		dst := image.NewNRGBA(image.Rect(0, 0, shape.Width, shape.Height))
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
		img = dst
	}
	return appendPixels(make([]uint8, 0, shape.Size()), img, shape.Channels), nil
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
