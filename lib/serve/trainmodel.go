package serve

import (
	"image"
	"os"
	"path/filepath"
	"time"

	"github.com/gopherdl/gopherdl/lib/serve/api"
	"github.com/gopherdl/gopherdl/lib/train"
)

// trainSource serves lib/train's checkpoint folders.
type trainSource struct{}

func (trainSource) latest(dir string) string { return train.LatestCheckpoint(dir) }

// version is the modification time of the folder's state file: a checkpoint written
// again under the same name (a fresh run that reached the same epoch) has a new one.
func (trainSource) version(folder string) time.Time {
	fi, err := os.Stat(filepath.Join(folder, train.StateFile))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

func (src trainSource) load(dir string, maxBatch int) (inference, checkpoint, error) {
	m, err := train.Load(dir)
	if err != nil {
		return nil, checkpoint{}, err
	}
	folder := m.LoadedFrom()
	m.Config.Quiet = true
	// One request batch is one graph call: PredictBatch splits at Config.BatchSize.
	m.Config.BatchSize = max(maxBatch, 1)
	ck := checkpoint{folder: folder, classes: m.Classes, shape: m.Shape, stamp: src.version(folder)}
	for _, e := range m.History {
		ck.history = append(ck.history, api.Epoch{Epoch: e.Epoch, TrainLoss: e.TrainLoss, TrainAccuracy: e.TrainAccuracy,
			EvalLoss: e.EvalLoss, EvalAccuracy: e.EvalAccuracy, EvalSet: e.EvalSet, LR: e.LR,
			TrainImagesPerSecond: e.TrainImagesPerSecond, Seconds: e.Seconds})
	}
	return &trainModel{m: m}, ck, nil
}

// trainModel is a *train.Model as the server uses it.
type trainModel struct{ m *train.Model }

func (t *trainModel) predict(imgs []image.Image) ([][]float64, error) {
	preds, err := t.m.PredictBatch(imgs, 0)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(preds))
	for i, p := range preds {
		out[i] = probabilities(p, len(t.m.Classes))
	}
	return out, nil
}

// explain computes the classes and the saliency map from one forward pass (and the
// backward pass the map needs).
func (t *trainModel) explain(img image.Image) ([]float64, []float32, error) {
	preds, sal, err := t.m.Explain(img, 0)
	if err != nil {
		return nil, nil, err
	}
	return probabilities(preds, len(t.m.Classes)), sal, nil
}

// close releases the model's compiled graphs and weights; calls after it fail with
// train.ErrClosed.
func (t *trainModel) close() error { return t.m.Close() }

// probabilities puts train's predictions back in class order.
func probabilities(preds []train.Prediction, classes int) []float64 {
	out := make([]float64, classes)
	for _, p := range preds {
		if p.Index >= 0 && p.Index < classes {
			out[p.Index] = p.Probability
		}
	}
	return out
}
