package train

import (
	"fmt"
	"image"
	"math"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gopherdl/gopherdl/lib/data"
)

// Saliency returns, for each image of d at indices, a gradient saliency map
// (Simonyan et al., 2013): the absolute gradient of the predicted class's logit with
// respect to each input pixel, the largest over channels, scaled so each map's
// maximum is 1 (height x width values, row-major). It also returns the predicted
// classes.
func (m *Model) Saliency(d *data.Dataset, indices []int) (maps [][]float32, preds []int32, err error) {
	if d == nil {
		return nil, nil, fmt.Errorf("train.Saliency: no dataset")
	}
	for _, i := range indices {
		if i < 0 || i >= d.Len() {
			return nil, nil, fmt.Errorf("saliency on %q: index %d outside the dataset's %d images", d.Name, i, d.Len())
		}
	}
	if err := m.bindShared(d); err != nil {
		return nil, nil, err
	}
	err = m.shared(fmt.Sprintf("saliency on %q", d.Name), func() error {
		maps, preds, _, err = m.saliencyOf(d.Subset(d.Name, indices))
		return err
	})
	return maps, preds, err
}

// SaliencyImage returns the saliency map of one image, prepared as Predict prepares
// it (so the map has the model's input height and width), and its predicted class.
// Explain gives the class probabilities too, from the same pass.
func (m *Model) SaliencyImage(img image.Image) (saliency []float32, pred int, err error) {
	err = m.shared("saliency", func() error {
		d, err := m.imagesDataset([]image.Image{img})
		if err != nil {
			return err
		}
		maps, preds, _, err := m.saliencyOf(d)
		if err != nil {
			return err
		}
		saliency, pred = maps[0], int(preds[0])
		return nil
	})
	return saliency, pred, err
}

// saliencyOf computes the maps, the predicted classes and the log-probabilities
// (len(d.Classes) per image) of all of d's images in one batch. The model is held.
func (m *Model) saliencyOf(d *data.Dataset) (maps [][]float32, preds []int32, logp []float32, err error) {
	if d.Len() == 0 {
		return nil, nil, nil, nil
	}
	exec, err := m.saliencyExec()
	if err != nil {
		return nil, nil, nil, err
	}
	loader := data.NewLoader(d, d.Len(), false)
	loader.Norm = m.Norm
	hw := d.Height * d.Width
	for b, err := range loader.Batches() {
		if err != nil {
			return nil, nil, nil, err
		}
		out, err := m.execs.run(exec, b.Images)
		b.Images.FinalizeAll()
		b.Labels.FinalizeAll()
		if err != nil {
			return nil, nil, nil, err
		}
		flat := tensors.MustCopyFlatData[float32](out[0])
		preds = append(preds, tensors.MustCopyFlatData[int32](out[1])...)
		logp = append(logp, tensors.MustCopyFlatData[float32](out[2])...)
		for _, t := range out {
			t.FinalizeAll()
		}
		for i := range len(b.Indices) {
			maps = append(maps, scaledMap(flat[i*hw:(i+1)*hw]))
		}
	}
	return maps, preds, logp, nil
}

// scaledMap scales a saliency map so its largest value is 1. A NaN gradient counts
// as 0, an infinite one as the largest.
func scaledMap(sm []float32) []float32 {
	peak := float32(0)
	for _, v := range sm {
		if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
			peak = max(peak, v)
		}
	}
	row := make([]float32, len(sm))
	for j, v := range sm {
		switch {
		case math.IsInf(float64(v), 0):
			row[j] = 1
		case peak > 0 && !math.IsNaN(float64(v)):
			row[j] = v / peak
		}
	}
	return row
}
