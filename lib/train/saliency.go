package train

import (
	"fmt"
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
// maximum is 1. It also returns the predicted classes.
func (m *Model) Saliency(d *data.Dataset, indices []int) (maps [][]float32, preds []int32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("saliency on %q: %v", d.Name, r)
		}
	}()
	if err := m.bind(d); err != nil {
		return nil, nil, err
	}
	exec, err := model.NewExec(m.Backend.Compute, m.Store, func(scope *model.Scope, images *graph.Node) (*graph.Node, *graph.Node) {
		weightsAsParameters(m.Store, images.Graph())
		logits := m.Fn(scope, images)
		score := graph.ReduceAllSum(graph.ReduceMax(logits, -1))
		grad := graph.Gradient(score, images)[0]
		return graph.ReduceMax(graph.Abs(grad), -1), graph.ArgMax(logits, -1, dtypes.Int32)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("saliency on %q: %w", d.Name, err)
	}
	sub := d.Subset(d.Name, indices)
	loader := data.NewLoader(sub, max(len(indices), 1), false)
	loader.Norm = m.Norm
	hw := d.Height * d.Width
	for b, err := range loader.Batches() {
		if err != nil {
			return nil, nil, err
		}
		out, err := exec.Call(b.Images)
		b.Images.FinalizeAll()
		b.Labels.FinalizeAll()
		if err != nil {
			return nil, nil, fmt.Errorf("saliency on %q: %w", d.Name, err)
		}
		flat := tensors.MustCopyFlatData[float32](out[0])
		preds = append(preds, tensors.MustCopyFlatData[int32](out[1])...)
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
