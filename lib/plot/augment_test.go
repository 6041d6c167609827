package plot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gopherdl/gopherdl/lib/data"
)

// TestAugmentations draws a dot moved by the loader's augmentation and checks that
// each caption names where the dot went, and that a seed repeats its draws.
func TestAugmentations(t *testing.T) {
	const n = 12
	d := &data.Dataset{Name: "dots", Height: n, Width: n, Channels: 1, Classes: []string{"dot", "other"},
		Pixels: make([]uint8, 2*n*n), Labels: []int32{0, 1}}
	d.Pixels[3*n+4] = 255       // image 0: a dot at row 3, column 4
	d.Pixels[n*n+(8*n+2)] = 200 // image 1: a dot at row 8, column 2
	aug := data.Augmentation{CropPadding: 2, HorizontalFlip: true}
	f, err := Augmentations("dots", d, []int{0, 1}, aug, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	txt := svgText(t, f)
	if !strings.Contains(txt, "dot\nas stored\n") || !strings.Contains(txt, "other\nas stored\n") {
		t.Errorf("no class caption; text:\n%s", txt)
	}
	// Replay the same draws to find the dot in each.
	loader := data.NewLoader(d.Subset(d.Name, []int{0, 1}), 2, false)
	loader.Augment, loader.Seed = &aug, 3
	words := regexp.MustCompile(`(right|left|up|down) (\d)`)
	flips := 0
	for k := range 6 {
		for b, err := range loader.Batches() {
			if err != nil {
				t.Fatal(err)
			}
			flat := tensorsFlat(t, b)
			for row, start := range [][2]int{{3, 4}, {8, 2}} {
				img := flat[row*n*n : (row+1)*n*n]
				y, x := -1, -1
				for p, v := range img {
					if v > 0 {
						y, x = p/n, p%n
					}
				}
				caption := describeShift(d.Pixels[row*n*n:(row+1)*n*n], quantise(img), d.Shape(), 2)
				if !strings.Contains(txt, fmt.Sprintf("draw %d\n%s", k+1, caption)) {
					t.Errorf("draw %d of image %d: caption %q not in the figure", k+1, row, caption)
				}
				wantX, wantY := start[1], start[0]
				if strings.Contains(caption, "flipped") {
					wantX = n - 1 - wantX
					flips++
				}
				for _, m := range words.FindAllStringSubmatch(caption, -1) {
					v, _ := strconv.Atoi(m[2])
					switch m[1] {
					case "right":
						wantX += v
					case "left":
						wantX -= v
					case "down":
						wantY += v
					case "up":
						wantY -= v
					}
				}
				if caption == "" || y != wantY || x != wantX {
					t.Errorf("draw %d of image %d: caption %q, the dot at row %d, column %d; want row %d, column %d", k+1, row, caption, y, x, wantY, wantX)
				}
			}
		}
	}
	if flips == 0 || flips == 12 {
		t.Errorf("%d of 12 draws flipped: want some", flips)
	}
	again := svgText(t, Must(Augmentations("dots", d, []int{0, 1}, aug, 6, 3)))
	other := svgText(t, Must(Augmentations("dots", d, []int{0, 1}, aug, 6, 4)))
	if again != txt || other == txt {
		t.Error("the same seed should repeat the draws, another seed change them")
	}
	if _, err := Augmentations("", d, []int{2}, aug, 2, 1); err == nil {
		t.Error("an index outside the dataset: no error")
	}
	if _, err := Augmentations("", d, []int{0}, aug, 0, 1); err == nil {
		t.Error("no draws: no error")
	}
}

func tensorsFlat(t *testing.T, b data.Batch) []float32 {
	t.Helper()
	defer b.Images.FinalizeAll()
	defer b.Labels.FinalizeAll()
	return tensors.MustCopyFlatData[float32](b.Images)
}

func quantise(v []float32) []uint8 {
	out := make([]uint8, len(v))
	for i, x := range v {
		out[i] = uint8(x*255 + 0.5)
	}
	return out
}
