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
	err = m.shared("predicting", func() error {
		d, err := m.imagesDataset(imgs)
		if err != nil {
			return err
		}
		preds = make([][]Prediction, len(imgs))
		var bad error
		err = m.logProbs(d, func(idx int, logp []float32) {
			if bad == nil {
				preds[idx], bad = topK(m.Classes, logp, k, idx)
			}
		})
		if err != nil {
			return err
		}
		return bad
	})
	if err != nil {
		return nil, err
	}
	return preds, nil
}

// Explain predicts img as Predict does and computes its saliency map as
// SaliencyImage does, from one forward pass: what an explanation shows. The map is
// that of the most probable class, preds[0].
func (m *Model) Explain(img image.Image, k int) (preds []Prediction, saliency []float32, err error) {
	err = m.shared("explaining", func() error {
		d, err := m.imagesDataset([]image.Image{img})
		if err != nil {
			return err
		}
		maps, _, logp, err := m.saliencyOf(d)
		if err != nil {
			return err
		}
		preds, err = topK(m.Classes, logp, k, 0)
		saliency = maps[0]
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return preds, saliency, nil
}

// imagesDataset prepares images for the model, as a dataset with blank labels. The
// model is held.
func (m *Model) imagesDataset(imgs []image.Image) (*data.Dataset, error) {
	if m.Classes == nil {
		return nil, fmt.Errorf("%w: it does not know its classes or input shape (train it with Fit, or load it with train.Load)", errNotReady)
	}
	shape := m.Shape
	d := &data.Dataset{Name: "images", Height: shape.Height, Width: shape.Width, Channels: shape.Channels, Classes: m.Classes,
		Pixels: make([]uint8, 0, len(imgs)*shape.Size()), Labels: make([]int32, len(imgs))}
	for i, img := range imgs {
		if img == nil {
			return nil, fmt.Errorf("image %d is nil", i)
		}
		px, err := data.Pixels(img, shape)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		d.Pixels = append(d.Pixels, px...)
	}
	return d, nil
}

// topK turns the log-probabilities of image i into its k most probable classes,
// sorted; a NaN or infinite output is an error rather than a number nobody can use.
func topK(classes []string, logp []float32, k, i int) ([]Prediction, error) {
	out := make([]Prediction, len(logp))
	for c, v := range logp {
		p := math.Exp(float64(v))
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("image %d: class %q: %g: %w", i, classes[c], v, errNotFinite)
		}
		out[c] = Prediction{Class: classes[c], Index: c, Probability: p}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Probability > out[b].Probability })
	if k > 0 && k < len(out) {
		out = out[:k]
	}
	return out, nil
}
