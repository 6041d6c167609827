package data

import "fmt"

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
