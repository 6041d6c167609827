package metrics

import (
	"encoding/json"
	"path"
)

// Epoch is one training epoch's figures: what a training loop records, what curves
// are drawn from, and what metrics.json holds.
type Epoch struct {
	Epoch         int     `json:"epoch"` // 1-based
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"` // over the epoch's batches, as the weights moved
	// EvalLoss and EvalAccuracy are measured after the epoch on EvalSet: the
	// validation split when choosing settings, the test set when following the article.
	EvalLoss     float64 `json:"eval_loss"`
	EvalAccuracy float64 `json:"eval_accuracy"`
	EvalSet      string  `json:"eval_set"` // the evaluated dataset's name, e.g. "fashion-mnist/validation"
	LR           float64 `json:"lr"`
	// TrainImagesPerSecond is the training throughput of the epoch (evaluation excluded).
	TrainImagesPerSecond float64 `json:"train_images_per_second"`
	Seconds              float64 `json:"seconds"`
}

// EvalLabel names an evaluation set in captions: the last part of its name
// ("validation" for "fashion-mnist/validation"), or "evaluation" when it has none.
func EvalLabel(h []Epoch) string {
	for _, e := range h {
		if e.EvalSet != "" {
			return path.Base(e.EvalSet)
		}
	}
	return "evaluation"
}

// UnmarshalJSON reads an Epoch, including those of earlier checkpoints, which named
// the evaluation figures test_loss and test_accuracy.
func (e *Epoch) UnmarshalJSON(b []byte) error {
	type plain Epoch
	var v struct {
		plain
		TestLoss     *float64 `json:"test_loss"`
		TestAccuracy *float64 `json:"test_accuracy"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = Epoch(v.plain)
	if v.TestLoss != nil && e.EvalLoss == 0 {
		e.EvalLoss = *v.TestLoss
	}
	if v.TestAccuracy != nil && e.EvalAccuracy == 0 {
		e.EvalAccuracy, e.EvalSet = *v.TestAccuracy, "test"
	}
	return nil
}
