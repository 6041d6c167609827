package data

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"

	"golang.org/x/image/draw"
)

// PhotoReport says what PreparePhoto did to a photo.
type PhotoReport struct {
	// Background is the brightness of the photo's border in [0, 1] (its median),
	// taken as the background's.
	Background float64
	// Inverted is true when the background was light (over 0.5), as a phone photo
	// of a dark object on a table or a sheet of paper is: the photo was inverted to
	// Fashion-MNIST's convention, a light object on black.
	Inverted bool
	// Box is the object's bounding box in the photo's coordinates.
	Box image.Rectangle
}

// foreground is the level, in [0, 1] of the stretched image, above which a pixel
// belongs to the object.
const foreground = 0.2

// PreparePhoto makes a photo look like the images a Fashion-MNIST model was trained
// on: a light object on a black background, centred, filling the frame. It makes the
// photo grayscale (transparent parts count as white paper); inverts it when its
// border is light (a dark object on a light background, the opposite of
// Fashion-MNIST's convention); stretches its levels so that the background is 0 and
// the object's brightest pixel 1; crops it to the object's bounding box, padded with
// background to a square around the object's centre; and resizes that square to
// shape's height and width (golang.org/x/image/draw's Catmull-Rom). The result is
// gray whatever shape's channels (Predict turns it into RGB for an RGB model); read
// as the model reads pixels (v/255), its values lie in [0, 1].
//
// A photo with no object standing out from its border, or an object smaller than
// 2x2 pixels, is an error.
func PreparePhoto(img image.Image, shape Shape) (*image.Gray, PhotoReport, error) {
	if err := shape.Validate(); err != nil {
		return nil, PhotoReport{}, fmt.Errorf("preparing a photo: %w", err)
	}
	if img == nil || img.Bounds().Dx() < 2 || img.Bounds().Dy() < 2 {
		return nil, PhotoReport{}, fmt.Errorf("preparing a photo: want an image of at least 2x2 pixels")
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	v := grayOnWhite(img)
	rep := PhotoReport{Background: median(border(v, w, h))}
	if rep.Background > 0.5 {
		rep.Inverted = true
		for i := range v {
			v[i] = 1 - v[i]
		}
	}
	bg, hi := float32(min(rep.Background, 1-rep.Background)), slices.Max(v)
	if hi-bg < 0.1 {
		return nil, rep, fmt.Errorf("preparing a photo: no object stands out from the background (border %.2f, brightest after inversion %.2f): photograph it against a plain background of another brightness", rep.Background, hi)
	}
	for i, x := range v {
		v[i] = min(max((x-bg)/(hi-bg), 0), 1)
	}
	box, ok := objectBox(v, w, h)
	if !ok {
		return nil, rep, fmt.Errorf("preparing a photo: the object found is smaller than 2x2 pixels")
	}
	rep.Box = box.Add(b.Min)
	// The box, padded with background to a square around its centre.
	side := max(box.Dx(), box.Dy())
	sq := image.NewGray(image.Rect(0, 0, side, side))
	ox, oy := (side-box.Dx())/2, (side-box.Dy())/2
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			sq.Pix[(y-box.Min.Y+oy)*side+x-box.Min.X+ox] = uint8(math.Round(255 * float64(v[y*w+x])))
		}
	}
	out := image.NewGray(image.Rect(0, 0, shape.Width, shape.Height))
	draw.CatmullRom.Scale(out, out.Bounds(), sq, sq.Bounds(), draw.Src, nil)
	return out, rep, nil
}

// grayOnWhite returns img's luminance in [0, 1], row-major, with transparent parts
// blended onto white.
func grayOnWhite(img image.Image) []float32 {
	b := img.Bounds()
	v := make([]float32, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
			lum := (0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)) / 0xffff
			a := float64(c.A) / 0xffff
			v = append(v, float32(a*lum+1-a))
		}
	}
	return v
}

// border returns the values of the outer ring of an image w x h, 1/20 of its
// smaller side wide (at least one pixel).
func border(v []float32, w, h int) []float32 {
	m := max(1, min(w, h)/20)
	var out []float32
	for y := range h {
		for x := range w {
			if y < m || y >= h-m || x < m || x >= w-m {
				out = append(out, v[y*w+x])
			}
		}
	}
	return out
}

// median is the middle value of v (which it reorders).
func median(v []float32) float64 {
	slices.Sort(v)
	return float64(v[len(v)/2])
}

// objectBox is the bounding box of the rows and columns of v (w x h, in [0, 1])
// that hold foreground pixels: at least 1 % of the row's or column's length, so
// that a speck of noise does not stretch it. It is false when the box is under
// 2x2 pixels.
func objectBox(v []float32, w, h int) (image.Rectangle, bool) {
	rows, cols := make([]int, h), make([]int, w)
	for y := range h {
		for x := range w {
			if v[y*w+x] > foreground {
				rows[y]++
				cols[x]++
			}
		}
	}
	span := func(counts []int, need int) (lo, hi int) {
		lo, hi = -1, -1
		for i, n := range counts {
			if n >= need {
				if lo < 0 {
					lo = i
				}
				hi = i + 1
			}
		}
		return lo, hi
	}
	y0, y1 := span(rows, max(1, w/100))
	x0, x1 := span(cols, max(1, h/100))
	if y0 < 0 || x0 < 0 || y1-y0 < 2 || x1-x0 < 2 {
		return image.Rectangle{}, false
	}
	return image.Rect(x0, y0, x1, y1), true
}
