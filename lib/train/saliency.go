package train

import (
	"fmt"
	"image"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

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
	m.mu.Lock()
	if err := m.bind(d); err != nil {
		m.mu.Unlock()
		return nil, nil, err
	}
	m.mu.Unlock()
	maps, preds, err = m.saliencyOf(d.Subset(d.Name, indices))
	if err != nil {
		return nil, nil, fmt.Errorf("saliency on %q: %w", d.Name, err)
	}
	return maps, preds, nil
}

// SaliencyImage returns the saliency map of one image, prepared as Predict prepares
// it (so the map has the model's input height and width), and its predicted class.
func (m *Model) SaliencyImage(img image.Image) (saliency []float32, pred int, err error) {
	d, err := m.imagesDataset([]image.Image{img})
	if err != nil {
		return nil, 0, err
	}
	maps, preds, err := m.saliencyOf(d)
	if err != nil {
		return nil, 0, fmt.Errorf("saliency: %w", err)
	}
	return maps[0], int(preds[0]), nil
}

// saliencyOf computes the maps of all of d's images in one batch.
func (m *Model) saliencyOf(d *data.Dataset) (maps [][]float32, preds []int32, err error) {
	err = m.guarded("computing saliency", func() error {
		maps, preds, err = m.saliencyLocked(d)
		return err
	})
	return maps, preds, err
}

// saliencyLocked is saliencyOf with the lock held.
func (m *Model) saliencyLocked(d *data.Dataset) (maps [][]float32, preds []int32, err error) {
	if d.Len() == 0 {
		return nil, nil, nil
	}
	if m.saliency == nil {
		m.saliency, err = model.NewExec(m.Backend.Compute, m.store, func(scope *model.Scope, images *graph.Node) (*graph.Node, *graph.Node) {
			weightsAsParameters(m.store, images.Graph())
			logits := m.fn(scope, images)
			score := graph.ReduceAllSum(graph.ReduceMax(logits, -1))
			grad := graph.Gradient(score, images)[0]
			return graph.ReduceMax(graph.Abs(grad), -1), graph.ArgMax(logits, -1, dtypes.Int32)
		})
		if err != nil {
			return nil, nil, err
		}
	}
	loader := data.NewLoader(d, d.Len(), false)
	loader.Norm = m.Norm
	hw := d.Height * d.Width
	for b, err := range loader.Batches() {
		if err != nil {
			return nil, nil, err
		}
		out, err := m.saliency.Call(b.Images)
		b.Images.FinalizeAll()
		b.Labels.FinalizeAll()
		if err != nil {
			return nil, nil, err
		}
		flat := tensors.MustCopyFlatData[float32](out[0])
		preds = append(preds, tensors.MustCopyFlatData[int32](out[1])...)
		for _, t := range out {
			t.FinalizeAll()
		}
		for i := range len(b.Indices) {
			sm := flat[i*hw : (i+1)*hw]
			peak := float32(0)
			for _, v := range sm {
				peak = max(peak, v)
			}
			row := make([]float32, hw)
			for j, v := range sm {
				if peak > 0 && !math.IsNaN(float64(v)) {
					row[j] = v / peak
				}
			}
			maps = append(maps, row)
		}
	}
	return maps, preds, nil
}
