package data_test

import (
	"fmt"
	"image"
	"image/color"

	"github.com/gopherdl/gopherdl/lib/data"
)

// Prepare a photo of a dark object on a light background (as a phone takes it) for
// a model trained on Fashion-MNIST, a light object on black: PreparePhoto inverts
// it, centres the object and resizes it to the model's input.
func ExamplePreparePhoto() {
	photo := image.NewGray(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			photo.SetGray(x, y, color.Gray{Y: 230}) // light paper
			if x >= 40 && x < 120 && y >= 20 && y < 180 {
				photo.SetGray(x, y, color.Gray{Y: 30}) // a dark object, off to the left
			}
		}
	}
	img, rep, err := data.PreparePhoto(photo, data.Shape{Channels: 1, Height: 28, Width: 28})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("inverted:", rep.Inverted, "object:", rep.Box)
	fmt.Println("size:", img.Bounds().Dx(), "x", img.Bounds().Dy())
	fmt.Println("corner, centre:", img.GrayAt(0, 0).Y, img.GrayAt(14, 14).Y) // black background, white object
	// Output:
	// inverted: true object: (40,20)-(120,180)
	// size: 28 x 28
	// corner, centre: 0 255
}
