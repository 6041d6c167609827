package train

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	gomlxtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/metric"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
)

// ensureTrainer builds GoMLX's trainer, or rebuilds it when the optimiser's settings
// changed since it was built (the momentum buffers live on in the store).
func (m *Model) ensureTrainer() {
	c := m.Config
	opt := sgd{LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay}
	if m.trainer != nil && m.trainerOpt.Momentum == opt.Momentum && m.trainerOpt.WeightDecay == opt.WeightDecay {
		return
	}
	if m.trainer != nil {
		m.trainer.ResetComputationGraphs() // the old settings' compiled step
	}
	// The batch accuracy, besides the loss GoMLX's trainer reports by itself.
	acc := metric.NewBaseMetric("accuracy", "acc", metric.AccuracyMetricType, metric.SparseCategoricalAccuracyGraph, nil)
	m.trainer = gomlxtrain.NewTrainer(m.Backend.Compute, m.store, m.fn, loss.SparseCategoricalCrossEntropyLogits, &opt, []metric.Interface{acc}, nil)
	m.trainerOpt = opt
}

// Step runs one training step (forward, loss, backward, SGD update) on a batch and
// returns the batch's mean loss: the body of a hand-written training loop. Fit calls
// it for every batch. The batch's tensors are consumed.
func (m *Model) Step(b data.Batch) (loss float64, err error) {
	err = m.exclusive("training step", func() error {
		loss, _, err = m.step(b)
		return err
	})
	return loss, err
}

// step runs a training step and returns the batch's loss and accuracy.
func (m *Model) step(b data.Batch) (lossValue, accuracy float64, err error) {
	m.ensureTrainer()
	out, err := m.trainer.TrainStep(gomlxtrain.Batch{Inputs: []*tensors.Tensor{b.Images}, Labels: []*tensors.Tensor{b.Labels}})
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		for _, t := range out {
			t.FinalizeAll()
		}
	}()
	// GoMLX's trainer returns the batch loss, its moving average, then our metrics.
	if len(out) != 3 {
		return 0, 0, fmt.Errorf("training step: %d outputs, want 3 (loss, average loss, accuracy)", len(out))
	}
	if lossValue, err = scalar(out[0]); err != nil {
		return 0, 0, err
	}
	accuracy, err = scalar(out[2])
	return lossValue, accuracy, err
}

// validLR says whether lr can be a learning rate: finite and > 0.
func validLR(lr float64) bool { return lr > 0 && !math.IsInf(lr, 0) }

// noteBest makes e the best epoch (the one LoadBest and early stopping keep) when
// its evaluation loss is the lowest of m.History so far.
func (m *Model) noteBest(e metrics.Epoch) {
	if m.bestEpoch == 0 || e.EvalLoss < m.History[m.bestEpoch-1].EvalLoss {
		m.bestEpoch = e.Epoch
	}
}

// SetLearningRate sets the learning rate of the next steps (Fit sets it from the
// schedule before each epoch; a hand-written loop may call it).
func (m *Model) SetLearningRate(lr float64) error {
	if !validLR(lr) {
		return fmt.Errorf("learning rate %g: want a finite value > 0", lr)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("setting the learning rate: %w", ErrClosed)
	}
	return m.setLR(lr)
}

func (m *Model) setLR(lr float64) error {
	v := optimizer.LearningRateVar(m.store.RootScope(), dtypes.Float32, lr)
	if err := v.SetValue(tensors.FromScalar(float32(lr))); err != nil {
		return fmt.Errorf("setting the learning rate: %w", err)
	}
	return nil
}

// stopped is the error of a run stopped at a step: kind (ErrInterrupted,
// ErrDiverged), where, why, and the checkpoint kept.
func (m *Model) stopped(kind error, epoch, step int, why string) error {
	msg := fmt.Sprintf("at epoch %d, step %d", epoch+1, step+1)
	if why != "" {
		msg += ": " + why
	}
	if m.Config.CheckpointDir != "" && len(m.History) > 0 {
		msg += fmt.Sprintf("; the checkpoint of epoch %d is kept in %s", len(m.History), m.Config.CheckpointDir)
	}
	return fmt.Errorf("%w %s", kind, msg)
}

// scalar reads a scalar float tensor.
func scalar(t *tensors.Tensor) (float64, error) {
	switch v := t.Value().(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	}
	return 0, fmt.Errorf("reading a scalar: got %s, want a float32 or float64 scalar", t.Shape())
}
