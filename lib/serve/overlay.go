package serve

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
)

// overlay draws a saliency map (one value in [0, 1] per pixel, row-major) over img:
// the image dimmed to 60 %, and over it a black-red-yellow heat colour, as opaque as
// the pixel's saliency: lib/plot's SaliencyOverlay colours, composed here with
// image/draw so that the server does not link the charting library.
func overlay(img image.Image, sal []float32) (image.Image, error) {
	b := img.Bounds()
	r := image.Rect(0, 0, b.Dx(), b.Dy())
	if len(sal) != r.Dx()*r.Dy() {
		return nil, fmt.Errorf("a saliency map of %d values for a %dx%d image", len(sal), r.Dx(), r.Dy())
	}
	out := image.NewRGBA(r)
	draw.Draw(out, r, img, b.Min, draw.Src)
	draw.DrawMask(out, r, image.Black, image.Point{}, image.NewUniform(color.Alpha{A: 102}), image.Point{}, draw.Over)
	heat, mask := image.NewRGBA(r), image.NewAlpha(r)
	for i, v := range sal {
		s := float64(v)
		if math.IsNaN(s) {
			s = 0
		}
		s = min(max(s, 0), 1)
		x, y := i%r.Dx(), i/r.Dx()
		heat.SetRGBA(x, y, color.RGBA{R: uint8(min(1, 2*s) * 255), G: uint8(max(0, 2*s-1) * 255), A: 255})
		mask.SetAlpha(x, y, color.Alpha{A: uint8(math.Round(s * 255))})
	}
	draw.DrawMask(out, r, heat, image.Point{}, mask, image.Point{}, draw.Over)
	return out, nil
}
