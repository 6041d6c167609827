package data_test

import (
	"image"
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
)

// fashionStats are figures of the embedded Fashion-MNIST training images: the mean
// centre of mass (row, column) of their brightness, and the 5th and 95th
// percentiles of their mean brightness in [0, 1].
func fashionStats(t *testing.T) (cy, cx, meanLo, meanHi float64) {
	t.Helper()
	tr, _ := embedded.MustLoad()
	means := make([]float64, tr.Len())
	for i := range tr.Len() {
		px, _ := tr.Image(i)
		y, x, m := centreOfMass(px, 28)
		cy, cx, means[i] = cy+y, cx+x, m
	}
	slices.Sort(means)
	n := float64(tr.Len())
	return cy / n, cx / n, means[len(means)*5/100], means[len(means)*95/100]
}

// centreOfMass returns the brightness-weighted mean row and column of a square
// gray image of side w, and its mean brightness in [0, 1].
func centreOfMass(px []uint8, w int) (cy, cx, mean float64) {
	sum := 0.0
	for p, v := range px {
		sum += float64(v)
		cy += float64(v) * float64(p/w)
		cx += float64(v) * float64(p%w)
	}
	return cy / sum, cx / sum, sum / float64(len(px)) / 255
}

// paper draws a phone photo of something dark on a sheet of paper: light gray,
// darkening slightly to the right (uneven light), no alpha. ink(x, y) gives the
// object's darkness in [0, 1] at each pixel (0: paper).
func paper(w, h int, ink func(x, y int) float64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			g := 235 - float64(x)/12
			g -= ink(x, y) * (g - 25)
			img.Set(x, y, color.NRGBA{uint8(g), uint8(g), uint8(math.Max(0, g-5)), 255})
		}
	}
	return img
}

// TestPreparePhoto photographs a dark ellipse, twice as tall as wide, off-centre
// on light paper, and checks the result against Fashion-MNIST's convention: a
// black background, the object white and filling the frame's height, its centre of
// mass and mean brightness where Fashion-MNIST's are.
func TestPreparePhoto(t *testing.T) {
	cy, cx, meanLo, meanHi := fashionStats(t)
	// The ellipse: centre (70, 80), half-axes 30 across and 60 down.
	photo := paper(240, 180, func(x, y int) float64 {
		if dx, dy := float64(x-70)/30.5, float64(y-80)/60.5; dx*dx+dy*dy <= 1 {
			return 1
		}
		return 0
	})
	out, rep, err := data.PreparePhoto(photo, data.Shape{Channels: 1, Height: 28, Width: 28})
	if err != nil {
		t.Fatal(err)
	}
	if box := image.Rect(40, 20, 101, 141); !rep.Inverted || rep.Background < 0.8 || rep.Box != box {
		t.Errorf("report %+v: want inverted, a background near 0.9 and the box %v", rep, box)
	}
	if b := out.Bounds(); b.Dx() != 28 || b.Dy() != 28 {
		t.Fatalf("result %v, want 28x28", b)
	}
	var ring []float64
	for p, v := range out.Pix {
		if y, x := p/28, p%28; y == 0 || y == 27 || x == 0 || x == 27 {
			ring = append(ring, float64(v))
		}
	}
	if m := mean(ring); m > 20 {
		t.Errorf("the border's mean is %.0f of 255: want a black background", m)
	}
	if mx := slices.Max(out.Pix); mx < 240 {
		t.Errorf("the brightest pixel is %d: want the object stretched to white", mx)
	}
	y, x, m := centreOfMass(out.Pix, 28)
	if math.Hypot(y-13.5, x-13.5) > 0.5 || math.Hypot(y-cy, x-cx) > 1.5 {
		t.Errorf("centre of mass at row %.2f, column %.2f: want the frame's centre, 13.5, and near Fashion-MNIST's %.2f, %.2f", y, x, cy, cx)
	}
	if m < meanLo || m > meanHi {
		t.Errorf("mean brightness %.3f: outside Fashion-MNIST's 5-95 %% range %.3f-%.3f", m, meanLo, meanHi)
	}
	rows := 0
	for i := range 28 {
		if slices.Max(out.Pix[i*28:(i+1)*28]) > 50 {
			rows++
		}
	}
	if rows < 27 {
		t.Errorf("the ellipse spans %d rows: want its longer side to fill the frame, as Fashion-MNIST's objects do", rows)
	}
}

// TestPreparePhotoOfAFashionImage prints a Fashion-MNIST image as a dark object on
// paper (4 times larger, off-centre, the light uneven) and checks that preparing
// the photo gives back an image like the original: the same centre of mass and
// mean brightness, pixel by pixel close.
func TestPreparePhotoOfAFashionImage(t *testing.T) {
	tr, _ := embedded.MustLoad()
	orig := fullFrame(t, tr)
	photo := paper(200, 160, func(x, y int) float64 {
		if x -= 30; x >= 0 && x < 112 && y >= 10 && y < 122 {
			return float64(orig[((y-10)/4)*28+x/4]) / 255
		}
		return 0
	})
	out, rep, err := data.PreparePhoto(photo, data.Shape{Channels: 1, Height: 28, Width: 28})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Inverted || rep.Box != image.Rect(30, 10, 142, 122) {
		t.Errorf("report %+v: want inverted, the box (30,10)-(142,122)", rep)
	}
	oy, ox, om := centreOfMass(orig, 28)
	y, x, m := centreOfMass(out.Pix, 28)
	if math.Hypot(y-oy, x-ox) > 0.5 || math.Abs(m-om) > 0.05 {
		t.Errorf("centre of mass (%.2f, %.2f), mean %.3f; the original's (%.2f, %.2f), %.3f", y, x, m, oy, ox, om)
	}
	if d := meanDifference(out.Pix, orig); d > 0.06 {
		t.Errorf("mean difference from the original %.3f: want < 0.06", d)
	}
}

// fullFrame returns the first embedded training image whose object touches all four
// edges (its bounding box is the whole frame) and whose brightest pixel is 255.
func fullFrame(t *testing.T, d *data.Dataset) []uint8 {
	t.Helper()
	for i := range d.Len() {
		px, _ := d.Image(i)
		if full(px) && slices.Max(px) == 255 {
			return px
		}
	}
	t.Fatal("no image fills its frame in the embedded data")
	return nil
}

// meanDifference is the mean absolute difference of two images in [0, 1].
func meanDifference(a, b []uint8) float64 {
	d := 0.0
	for p := range a {
		d += math.Abs(float64(a[p])-float64(b[p])) / 255
	}
	return d / float64(len(a))
}

// TestPreparePhotoRoundTrip puts a Fashion-MNIST image, enlarged, off-centre on a
// larger black canvas (the dataset's own convention): it is not inverted, and
// preparing it gives back the original, up to resampling.
func TestPreparePhotoRoundTrip(t *testing.T) {
	tr, _ := embedded.MustLoad()
	orig := fullFrame(t, tr)
	canvas := image.NewGray(image.Rect(0, 0, 150, 120))
	for p, v := range orig {
		for dy := range 3 {
			for dx := range 3 {
				canvas.SetGray(10+3*(p%28)+dx, 25+3*(p/28)+dy, color.Gray{v})
			}
		}
	}
	out, rep, err := data.PreparePhoto(canvas, data.Shape{Channels: 3, Height: 28, Width: 28})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Inverted || rep.Background != 0 {
		t.Errorf("report %+v: a light object on black is not inverted", rep)
	}
	if d := meanDifference(out.Pix, orig); d > 0.04 {
		t.Errorf("mean difference from the original %.3f: want < 0.04", d)
	}
}

// full reports whether a 28x28 image's object reaches all four edges' rows or
// columns: its bounding box is the whole frame.
func full(px []uint8) bool {
	var top, bottom, left, right bool
	for p, v := range px {
		if v > 50 {
			y, x := p/28, p%28
			top, bottom, left, right = top || y == 0, bottom || y == 27, left || x == 0, right || x == 27
		}
	}
	return top && bottom && left && right
}

func TestPreparePhotoRefuses(t *testing.T) {
	shape := data.Shape{Channels: 1, Height: 28, Width: 28}
	blank := image.NewGray(image.Rect(0, 0, 50, 50))
	for i := range blank.Pix {
		blank.Pix[i] = 200
	}
	if _, _, err := data.PreparePhoto(blank, shape); err == nil || !strings.Contains(err.Error(), "no object stands out") {
		t.Errorf("a blank photo: %v", err)
	}
	blank.Pix[25*50+25] = 0 // one dark pixel: too small an object
	if _, _, err := data.PreparePhoto(blank, shape); err == nil || !strings.Contains(err.Error(), "smaller than 2x2") {
		t.Errorf("a speck: %v", err)
	}
	if _, _, err := data.PreparePhoto(nil, shape); err == nil {
		t.Error("no image: no error")
	}
	if _, _, err := data.PreparePhoto(blank, data.Shape{Channels: 2, Height: 28, Width: 28}); err == nil {
		t.Error("a shape of 2 channels: no error")
	}
	// A dark object on a transparent background counts as on white paper.
	clear := image.NewNRGBA(image.Rect(0, 0, 60, 60))
	for y := 20; y < 40; y++ {
		for x := 10; x < 30; x++ {
			clear.Set(x, y, color.NRGBA{0, 0, 0, 255})
		}
	}
	_, rep, err := data.PreparePhoto(clear, shape)
	if err != nil || !rep.Inverted || rep.Box != image.Rect(10, 20, 30, 40) {
		t.Errorf("a transparent background: %+v, %v; want inverted, box (10,20)-(30,40)", rep, err)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
