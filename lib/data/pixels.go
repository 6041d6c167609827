package data

import (
	"fmt"
	"image"
	"image/color"
	"slices"

	"golang.org/x/image/draw"
)

// Pixels returns img as bytes of the given shape, as the model reads them: resized to
// shape's height and width (Catmull-Rom) when its size differs, then converted to
// grayscale (1 channel) or RGB (3 channels, interleaved). Image folders and
// predictions both prepare images with it, so a model sees a new image as it saw its
// training images.
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

// PixelsImage turns the bytes of one image of the given shape (as Pixels returns
// them, channels interleaved) back into a Go image: *image.Gray for one channel,
// an opaque *image.NRGBA for three. It copies px.
func PixelsImage(px []uint8, shape Shape) image.Image {
	r := image.Rect(0, 0, shape.Width, shape.Height)
	if shape.Channels == 1 {
		return &image.Gray{Pix: slices.Clone(px), Stride: shape.Width, Rect: r}
	}
	out := image.NewNRGBA(r)
	for p := range shape.Width * shape.Height {
		copy(out.Pix[4*p:], px[3*p:3*p+3])
		out.Pix[4*p+3] = 255
	}
	return out
}

// ToImage returns image i of d as a Go image (*image.Gray or *image.NRGBA).
func (d *Dataset) ToImage(i int) image.Image {
	px, _ := d.Image(i)
	return PixelsImage(px, d.Shape())
}
