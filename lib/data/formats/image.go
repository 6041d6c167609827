package formats

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // GIF decoder
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	_ "golang.org/x/image/bmp"  // BMP decoder
	_ "golang.org/x/image/webp" // WebP decoder
)

// DefaultMaxPixels is the largest image (width x height) decoded when no other limit
// is given: 8192 x 8192, larger than any phone camera's photos. Decoding it takes
// about 256 MB.
const DefaultMaxPixels = 8192 * 8192

// ErrTooLarge is returned (wrapped) for an image whose header claims more pixels than
// the limit; it is refused before its pixels are decoded.
var ErrTooLarge = errors.New("image too large")

// imageExtensions are the file endings an image folder is read for, unless
// FolderOptions.Extensions says otherwise.
func imageExtensions() []string {
	return []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}
}

// hasExtension reports whether name ends in one of exts, ignoring case.
func hasExtension(name string, exts []string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return slices.ContainsFunc(exts, func(e string) bool { return strings.ToLower(e) == ext })
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
