package train

import (
	"fmt"
	"image"
	"math"
	"sort"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

// Prediction is one class's probability for an image.
type Prediction struct {
	Class       string  `json:"class"`
	Index       int     `json:"index"` // the class's label
	Probability float64 `json:"probability"`
}

// String is "Sneaker 93.1%".
func (p Prediction) String() string { return fmt.Sprintf("%s %.1f%%", p.Class, 100*p.Probability) }

// Predict returns the k most probable classes of img, most probable first (every
// class when k <= 0). The image is prepared as the training images were: resized to
// the model's input shape, made grayscale or RGB, normalised as in training
// (data.Pixels, then the saved normalisation).
func (m *Model) Predict(img image.Image, k int) ([]Prediction, error) {
	preds, err := m.PredictBatch([]image.Image{img}, k)
	if err != nil {
		return nil, err
	}
	return preds[0], nil
}

// PredictFile reads an image file (PNG, JPEG, GIF, BMP or WebP; refused from its
// header when over formats.DefaultMaxPixels) and predicts it as Predict does.
func (m *Model) PredictFile(path string, k int) ([]Prediction, error) {
	img, err := formats.ReadImageFile(path, 0)
	if err != nil {
		return nil, err
	}
	preds, err := m.Predict(img, k)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return preds, nil
}

// PredictBatch predicts several images at once (faster than one at a time): one
// sorted list of the k most probable classes per image.
func (m *Model) PredictBatch(imgs []image.Image, k int) (preds [][]Prediction, err error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	d, err := m.imagesDataset(imgs)
	if err != nil {
		return nil, err
	}
	preds = make([][]Prediction, len(imgs))
	err = m.guarded("predicting", func() error {
		return m.logProbs(d, func(idx int, logp []float32) {
			preds[idx] = topK(m.Classes, logp, k)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("predicting: %w", err)
	}
	return preds, nil
}

// imagesDataset prepares images for the model, as a dataset with blank labels.
func (m *Model) imagesDataset(imgs []image.Image) (*data.Dataset, error) {
	m.mu.Lock()
	classes, shape := m.Classes, m.Shape
	m.mu.Unlock()
	if classes == nil {
		return nil, fmt.Errorf("predicting: %w: it does not know its classes or input shape (train it with Fit, or load it with train.Load)", ErrNotReady)
	}
	d := &data.Dataset{Name: "images", Height: shape.Height, Width: shape.Width, Channels: shape.Channels, Classes: classes,
		Pixels: make([]uint8, 0, len(imgs)*shape.Size()), Labels: make([]int32, len(imgs))}
	for i, img := range imgs {
		if img == nil {
			return nil, fmt.Errorf("predicting: image %d is nil", i)
		}
		px, err := data.Pixels(img, shape)
		if err != nil {
			return nil, fmt.Errorf("predicting: image %d: %w", i, err)
		}
		d.Pixels = append(d.Pixels, px...)
	}
	return d, nil
}

// topK turns log-probabilities into the k most probable classes, sorted.
func topK(classes []string, logp []float32, k int) []Prediction {
	out := make([]Prediction, len(logp))
	for c, v := range logp {
		out[c] = Prediction{Class: classes[c], Index: c, Probability: math.Exp(float64(v))}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Probability > out[b].Probability })
	if k > 0 && k < len(out) {
		out = out[:k]
	}
	return out
}
