package train

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
)

// Evaluation is a model's result on a dataset.
type Evaluation struct {
	Dataset     string    // the dataset's name
	Loss        float64   // mean cross-entropy
	Labels      []int32   // true classes, in dataset order
	Predictions []int32   // predicted classes
	Confidence  []float32 // probability of the predicted class
	// Probabilities[i] are image i's class probabilities.
	Probabilities [][]float32
	Report        metrics.Report
}

// Evaluate runs the model on every image of d (in order, no augmentation) and returns
// the loss, the predictions and every metric.
func (m *Model) Evaluate(d *data.Dataset) (ev *Evaluation, err error) {
	if d == nil {
		return nil, fmt.Errorf("train.Evaluate: no dataset")
	}
	if err := m.bindShared(d); err != nil {
		return nil, err
	}
	err = m.shared(fmt.Sprintf("evaluating on %q", d.Name), func() error {
		ev, err = m.evaluate(d)
		return err
	})
	return ev, err
}

// evaluate is Evaluate with the model held; d is bound to it.
func (m *Model) evaluate(d *data.Dataset) (*Evaluation, error) {
	if d.Len() == 0 {
		return nil, fmt.Errorf("the dataset is empty")
	}
	k := len(m.Classes)
	ev := &Evaluation{Dataset: d.Name}
	total := 0.0
	err := m.logProbs(d, func(idx int, logp []float32) {
		label := d.Labels[idx]
		best := 0
		probs := make([]float32, k)
		for c, v := range logp {
			probs[c] = float32(math.Exp(float64(v)))
			if v > logp[best] {
				best = c
			}
		}
		total -= float64(logp[label])
		ev.Labels = append(ev.Labels, label)
		ev.Predictions = append(ev.Predictions, int32(best))
		ev.Confidence = append(ev.Confidence, probs[best])
		ev.Probabilities = append(ev.Probabilities, probs)
	})
	if err != nil {
		return nil, err
	}
	ev.Loss = total / float64(len(ev.Labels))
	if ev.Report, err = metrics.Compute(ev.Labels, ev.Predictions, m.Classes); err != nil {
		return nil, err
	}
	return ev, nil
}

// logProbs runs the model on every image of d, in order, and calls each with the
// image's index and its log-probabilities (valid during the call only). Batches are
// Config.BatchSize images; a smaller last one is padded to a power of two, so the
// compiled graph sees few batch sizes.
func (m *Model) logProbs(d *data.Dataset, each func(idx int, logp []float32)) error {
	bs := m.Config.BatchSize
	if bs <= 0 {
		bs = 64
	}
	loader := data.NewLoader(d, bs, false)
	loader.Norm, loader.PadLast = m.Norm, true
	k := len(m.Classes)
	for b, err := range loader.Batches() {
		if err != nil {
			return err
		}
		logp, err := m.batchLogProbs(b)
		if err != nil {
			return err
		}
		for j, idx := range b.Indices {
			each(idx, logp[j*k:(j+1)*k])
		}
	}
	return nil
}

// batchLogProbs runs the inference graph on a batch (consuming its tensors) and
// returns the log-probabilities of its len(b.Indices) real images (all its images
// when Indices is nil: a batch made by hand).
func (m *Model) batchLogProbs(b data.Batch) ([]float32, error) {
	defer b.Images.FinalizeAll()
	defer b.Labels.FinalizeAll()
	exec, err := m.inferExec()
	if err != nil {
		return nil, err
	}
	out, err := m.execs.run(exec, b.Images)
	if err != nil {
		return nil, err
	}
	defer out[0].FinalizeAll()
	k := len(m.Classes)
	if dims := out[0].Shape().Dimensions; len(dims) != 2 || dims[1] != k {
		return nil, fmt.Errorf("the model's output is %s; want [batch, %d]: one score per class of %v (is it built for %d classes?)", out[0].Shape(), k, m.Classes, k)
	}
	logp := tensors.MustCopyFlatData[float32](out[0])
	if b.Indices == nil {
		return logp, nil
	}
	return logp[:len(b.Indices)*k], nil
}

// At returns the predicted classes and their confidences of the images at indices
// (dataset indices), in that order: what a grid of predictions needs.
func (ev *Evaluation) At(indices []int) (predictions []int32, confidence []float32) {
	predictions, confidence = make([]int32, len(indices)), make([]float32, len(indices))
	for i, idx := range indices {
		if idx >= 0 && idx < len(ev.Predictions) {
			predictions[i], confidence[i] = ev.Predictions[idx], ev.Confidence[idx]
		} else {
			predictions[i] = -1 // outside the evaluation: a plot refuses it, naming it
		}
	}
	return predictions, confidence
}

// MostConfidentlyWrong returns the dataset indices of up to n misclassified images,
// the most confident prediction first: the errors worth looking at.
func (ev *Evaluation) MostConfidentlyWrong(n int) []int {
	var idx []int
	for i := range ev.Labels {
		if ev.Labels[i] != ev.Predictions[i] {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return ev.Confidence[idx[a]] > ev.Confidence[idx[b]] })
	return idx[:max(min(n, len(idx)), 0)]
}

// EvalStep runs the model on one batch, in inference mode, and returns the
// log-probabilities of its images, n rows of len(Classes) values (n is the batch's
// real images, len(b.Indices), or all its rows when Indices is nil): the body of a
// hand-written evaluation loop, as Step is of a training loop. The batch's tensors
// are consumed.
func (m *Model) EvalStep(b data.Batch) (logp []float32, err error) {
	err = m.shared("evaluation step", func() error {
		if m.Classes == nil {
			b.Images.FinalizeAll()
			b.Labels.FinalizeAll()
			return errNotReady
		}
		logp, err = m.batchLogProbs(b)
		return err
	})
	return logp, err
}
