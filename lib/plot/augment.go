package plot

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gopherdl/gopherdl/lib/data"
)

// Augmentations draws what a training Loader's augmentation makes of a few images:
// one row per image of d at indices, first as stored (captioned with its class),
// then draws random versions, made by a data.Loader with aug exactly as training
// batches are (pixels in [0, 1], no normalisation), each captioned with the shift
// and flip it got. seed fixes the draws: the same seed, the same pictures.
func Augmentations(title string, d *data.Dataset, indices []int, aug data.Augmentation, draws int, seed uint64) (*Figure, error) {
	if d == nil || len(indices) == 0 || len(indices) > 8 || draws < 1 || draws > 8 {
		return nil, fmt.Errorf("plot.Augmentations: %d images with %d draws each: want 1 to 8 of both", len(indices), draws)
	}
	if aug.CropPadding < 0 {
		return nil, fmt.Errorf("plot.Augmentations: crop padding %d: want >= 0", aug.CropPadding)
	}
	for _, i := range indices {
		if i < 0 || i >= d.Len() {
			return nil, fmt.Errorf("plot.Augmentations: index %d outside %q (%d images)", i, d.Name, d.Len())
		}
	}
	sub := d.Subset(d.Name, indices)
	loader := data.NewLoader(sub, len(indices), false)
	loader.Augment, loader.Seed = &aug, seed
	shape, size := sub.Shape(), sub.ImageSize()
	tiles := make([]Tile, len(indices)*(draws+1))
	for row, idx := range indices {
		orig, label := d.Image(idx)
		tiles[row*(draws+1)] = Tile{Image: upscale(data.PixelsImage(orig, shape), 4), Caption: d.Classes[label] + "\nas stored"}
	}
	for k := range draws {
		for b, err := range loader.Batches() {
			if err != nil {
				return nil, fmt.Errorf("plot.Augmentations: %w", err)
			}
			flat := tensors.MustCopyFlatData[float32](b.Images)
			b.Images.FinalizeAll()
			b.Labels.FinalizeAll()
			for row := range indices {
				px := make([]uint8, size)
				for p, v := range flat[row*size : (row+1)*size] {
					px[p] = uint8(math.Round(float64(v) * 255))
				}
				orig, _ := sub.Image(row)
				tiles[row*(draws+1)+k+1] = Tile{Image: upscale(data.PixelsImage(px, shape), 4),
					Caption: fmt.Sprintf("draw %d\n%s", k+1, describeShift(orig, px, shape, aug.CropPadding))}
			}
		}
	}
	return ImageGrid(title, tiles, draws+1)
}

// describeShift finds the shift (up to pad pixels) and flip that turn orig into
// got, as the loader's random crop and flip do, and says it in words: "right 1,
// up 2, flipped" (mirrored, then moved right 1 and up 2). Several can fit (an object on a black background moved less than
// its margin); the one with the least movement, unflipped first, is named.
func describeShift(orig, got []uint8, s data.Shape, pad int) string {
	best, bestCost := "", math.MaxInt
	for _, flip := range []bool{false, true} {
		for oy := -pad; oy <= pad; oy++ {
			for ox := -pad; ox <= pad; ox++ {
				cost := abs(ox) + abs(oy)
				if cost >= bestCost || !shiftedEqual(orig, got, s, ox, oy, flip) {
					continue
				}
				// Output (y, x) reads the source at (y+oy, x+ox), or at (y+oy, w-1-x+ox)
				// flipped: the content moves by -oy down and by -ox right, or by +ox
				// right of its mirror image.
				dx, dy := -ox, -oy
				if flip {
					dx = ox
				}
				var parts []string
				if dx > 0 {
					parts = append(parts, fmt.Sprintf("right %d", dx))
				} else if dx < 0 {
					parts = append(parts, fmt.Sprintf("left %d", -dx))
				}
				if dy > 0 {
					parts = append(parts, fmt.Sprintf("down %d", dy))
				} else if dy < 0 {
					parts = append(parts, fmt.Sprintf("up %d", -dy))
				}
				if flip {
					parts = append(parts, "flipped")
				}
				if len(parts) == 0 {
					parts = []string{"unchanged"}
				}
				best, bestCost = strings.Join(parts, ", "), cost
			}
		}
		if best != "" {
			break
		}
	}
	return best
}

// shiftedEqual reports whether got is orig read at offset (ox, oy), mirrored when
// flip, with zeros outside: the loader's crop and flip.
func shiftedEqual(orig, got []uint8, s data.Shape, ox, oy int, flip bool) bool {
	h, w, ch := s.Height, s.Width, s.Channels
	for y := range h {
		for x := range w {
			sy, sx := y+oy, x+ox
			if flip {
				sx = w - 1 - x + ox
			}
			for c := range ch {
				v := uint8(0)
				if sy >= 0 && sy < h && sx >= 0 && sx < w {
					v = orig[(sy*w+sx)*ch+c]
				}
				if got[(y*w+x)*ch+c] != v {
					return false
				}
			}
		}
	}
	return true
}

func abs(v int) int { return max(v, -v) }
