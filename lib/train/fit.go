package train

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	gomlxtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/metric"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/progress"
)

// Fit trains on trainDS until Config.Epochs epochs are done in total (counting those
// already done, and those found in Config.CheckpointDir, which it resumes from),
// evaluating on evalDS after each epoch: the validation split when choosing settings,
// or the test set when following the article. onEpoch, when given, is called after
// each epoch with the history so far (for live curves); the model is free for it to
// use (Evaluate, Predict, Save).
//
// It checks the data before training: at least two classes, images of every class to
// train on, something to evaluate on. It stops early, keeping the last checkpoint,
// when ctx is cancelled (ErrInterrupted), when the loss diverges (ErrDiverged), or
// when Config.Patience epochs pass without a better evaluation loss (a run stopped so
// stays stopped: calling Fit again trains nothing; FitMore trains on). It installs no
// signal handler: pass a context that Ctrl-C cancels (signal.NotifyContext, or
// nb.Context in a notebook) to stop it from the keyboard.
//
// Other calls on the model (Predict from another goroutine, say) wait while an epoch
// trains.
func (m *Model) Fit(ctx context.Context, trainDS, evalDS *data.Dataset, onEpoch ...func([]metrics.Epoch)) ([]metrics.Epoch, error) {
	return m.fit(ctx, trainDS, evalDS, 0, onEpoch)
}

// FitMore trains n more epochs than the model has done (after resuming from
// Config.CheckpointDir, when that holds more), with the current Config otherwise:
// Config.Epochs becomes the new total. It trains on after an early stop.
func (m *Model) FitMore(ctx context.Context, n int, trainDS, evalDS *data.Dataset, onEpoch ...func([]metrics.Epoch)) ([]metrics.Epoch, error) {
	if n <= 0 {
		return m.History, fmt.Errorf("train.FitMore: %d more epochs: want > 0", n)
	}
	return m.fit(ctx, trainDS, evalDS, n, onEpoch)
}

// fit is Fit, or FitMore when more > 0.
func (m *Model) fit(ctx context.Context, trainDS, evalDS *data.Dataset, more int, onEpoch []func([]metrics.Epoch)) (history []metrics.Epoch, err error) {
	if trainDS == nil || evalDS == nil {
		return m.History, fmt.Errorf("train.Fit: a training and an evaluation dataset are needed")
	}
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r, fmt.Sprintf("training on %q", trainDS.Name))
		}
	}()
	m.mu.Lock()
	defer m.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	if err := m.Config.check(); err != nil {
		return m.History, err
	}
	if _, err := m.compute(); err != nil {
		return m.History, err
	}
	if err := checkTrainingData(trainDS, evalDS); err != nil {
		return m.History, err
	}
	for _, d := range []*data.Dataset{trainDS, evalDS} {
		if err := m.bind(d); err != nil {
			return m.History, err
		}
	}
	if dir := m.Config.CheckpointDir; dir != "" {
		if err := m.resume(dir); err != nil {
			return m.History, err
		}
	}
	if more > 0 {
		m.Config.Epochs = len(m.History) + more
	}
	cfg := m.Config
	if m.customSchedule && cfg.Schedule == nil {
		return m.History, fmt.Errorf("this run used a custom schedule (a ScheduleFunc), which checkpoints cannot hold: set Config.Schedule again to continue it")
	}
	if len(m.History) > 0 && (m.Norm != nil) != cfg.Normalize {
		return m.History, fmt.Errorf("the model was trained with Normalize %v; it cannot continue with Normalize %v (the inputs would change meaning)", m.Norm != nil, cfg.Normalize)
	}
	epochs, quickNote := cfg.Epochs, ""
	if quick() {
		trainDS, evalDS = quickData(trainDS), quickData(evalDS)
		epochs = min(epochs, len(m.History)+quickEpochs)
		quickNote = fmt.Sprintf("quick mode ($%s=1): at most %d more epochs, on %d training and %d evaluation images", QuickEnv, quickEpochs, trainDS.Len(), evalDS.Len())
	}
	if more == 0 && m.stoppedEarly() {
		m.logf("this run stopped early after epoch %d (the best was epoch %d): nothing more to train; FitMore trains on\n", len(m.History), m.bestEpoch)
		return m.History, nil
	}
	if len(m.History) >= epochs {
		return m.History, nil
	}
	if m.Norm == nil && cfg.Normalize {
		norm := data.ComputeNormalization(trainDS)
		m.Norm = &norm
	}
	m.ensureTrainer()
	loader := data.NewLoader(trainDS, cfg.BatchSize, true)
	loader.Seed, loader.Norm, loader.Augment = cfg.Seed, m.Norm, cfg.Augment
	sched := cfg.schedule()
	var bar *progress.Bar
	if !cfg.Quiet {
		bar = progress.New(fmt.Sprintf("epoch %d/%d", len(m.History)+1, epochs), int64(trainDS.Len()), "images")
	}
	defer bar.Done()
	say := func(line string) {
		if !cfg.Quiet {
			bar.Log(m.log(), line)
		}
	}
	if cfg.Name != "" {
		say(cfg.Name)
	}
	if quickNote != "" {
		say(quickNote)
	}
	if m.ranWith != nil && len(m.History) > 0 {
		if changes := settingsChanges(*m.ranWith, m.ranSchedule, cfg); len(changes) > 0 {
			say(fmt.Sprintf("after epoch %d, continuing with %s", len(m.History), strings.Join(changes, ", ")))
		}
	}
	first := len(m.History)
	for epoch := first; epoch < epochs; epoch++ {
		lr := sched.LR(epoch)
		if !validLR(lr) {
			return m.History, fmt.Errorf("epoch %d: the schedule gives the learning rate %g: want a finite value > 0", epoch+1, lr)
		}
		if err := m.setLR(lr); err != nil {
			return m.History, err
		}
		loader.SetEpoch(epoch)
		if epoch > first {
			bar.Restart(fmt.Sprintf("epoch %d/%d", epoch+1, epochs), int64(trainDS.Len()))
		}
		start := time.Now()
		lossSum, accSum, seen, step := 0.0, 0.0, 0, 0
		for b, err := range loader.Batches() {
			if err != nil {
				return m.History, err
			}
			if ctx.Err() != nil {
				b.Images.FinalizeAll()
				b.Labels.FinalizeAll()
				bar.Done()
				return m.History, m.stopped(ErrInterrupted, epoch, step, "")
			}
			n := len(b.Indices)
			l, acc, err := m.step(b)
			if err != nil {
				return m.History, fmt.Errorf("epoch %d, step %d: %w", epoch+1, step+1, err)
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				bar.Done()
				return m.History, m.stopped(ErrDiverged, epoch, step, fmt.Sprintf("the loss is %s; lower the learning rate (now %g)", progress.Number(l), lr))
			}
			lossSum += l * float64(n)
			accSum += acc * float64(n)
			seen += n
			step++
			if cfg.OnStep != nil {
				cfg.OnStep(StepLoss{Epoch: epoch + 1, Step: epoch*loader.NumBatches() + step, Loss: l, LR: lr})
			}
			bar.SetSuffix("loss " + progress.Number(lossSum/float64(seen)))
			bar.Add(int64(n))
		}
		trainSecs := time.Since(start).Seconds()
		bar.Done()
		ev, err := m.evaluate(evalDS)
		if err != nil {
			return m.History, err
		}
		e := metrics.Epoch{Epoch: epoch + 1, TrainLoss: lossSum / float64(max(seen, 1)), TrainAccuracy: accSum / float64(max(seen, 1)),
			EvalLoss: ev.Loss, EvalAccuracy: ev.Report.Accuracy, EvalSet: evalDS.Name, LR: lr,
			TrainImagesPerSecond: float64(seen) / trainSecs, Seconds: time.Since(start).Seconds()}
		m.History = append(m.History, e)
		m.ranWith, m.ranSchedule = &cfg, specOf(cfg.Schedule)
		m.noteBest(e)
		say(epochLine(e, epochs))
		if cfg.CheckpointDir != "" {
			if err := m.save(cfg.CheckpointDir); err != nil {
				return m.History, err
			}
		}
		if err := m.unlockedCallbacks(onEpoch); err != nil {
			return m.History, err
		}
		if more == 0 && m.stoppedEarly() {
			best := m.History[m.bestEpoch-1]
			say(fmt.Sprintf("early stop: the %s loss has not improved for %d epochs; the best was epoch %d (%s)",
				metrics.EvalLabel(m.History), cfg.Patience, best.Epoch, progress.Number(best.EvalLoss)))
			break
		}
	}
	return m.History, nil
}

// stoppedEarly reports whether Config.Patience epochs have passed since the best one.
func (m *Model) stoppedEarly() bool {
	return m.Config.Patience > 0 && m.bestEpoch > 0 && len(m.History)-m.bestEpoch >= m.Config.Patience
}

// unlockedCallbacks calls Fit's callbacks with the model unlocked (they may use it),
// turning a panic in one into an error.
func (m *Model) unlockedCallbacks(fs []func([]metrics.Epoch)) (err error) {
	if len(fs) == 0 {
		return nil
	}
	h := slices.Clone(m.History)
	m.mu.Unlock()
	defer m.mu.Lock()
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r, "an onEpoch function")
		}
	}()
	for _, f := range fs {
		f(h)
	}
	return nil
}

// epochLine is the one line printed per epoch.
func epochLine(e metrics.Epoch, epochs int) string {
	w := len(fmt.Sprint(epochs))
	return fmt.Sprintf("epoch %*d/%d  lr %-8.3g  train loss %s acc %5.1f%%  %s loss %s acc %5.1f%%  %s images/s",
		w, e.Epoch, epochs, e.LR, progress.Number(e.TrainLoss), 100*e.TrainAccuracy,
		metrics.EvalLabel([]metrics.Epoch{e}), progress.Number(e.EvalLoss), 100*e.EvalAccuracy,
		progress.Thousands(int(math.Round(e.TrainImagesPerSecond))))
}

// check validates the hyperparameters.
func (c Config) check() error {
	switch {
	case c.Epochs <= 0 || c.BatchSize <= 0 || c.LR <= 0:
		return fmt.Errorf("train config: epochs %d, batch size %d, lr %g: want all > 0", c.Epochs, c.BatchSize, c.LR)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("train config: momentum %g: want 0 <= momentum < 1", c.Momentum)
	case c.WeightDecay < 0 || c.Patience < 0:
		return fmt.Errorf("train config: weight decay %g, patience %d: want both >= 0", c.WeightDecay, c.Patience)
	}
	return nil
}

// checkTrainingData refuses, before any training, data that would train a
// meaningless model: fewer than two classes, a class with no training images, or
// nothing to evaluate on.
func checkTrainingData(trainDS, evalDS *data.Dataset) error {
	counts := trainDS.ClassCounts()
	var missing []string
	present := 0
	for c, n := range counts {
		if n == 0 {
			missing = append(missing, trainDS.Classes[c])
		} else {
			present++
		}
	}
	describe := func(d *data.Dataset) string {
		parts := make([]string, len(d.Classes))
		for c, n := range d.ClassCounts() {
			parts[c] = fmt.Sprintf("%s %d", d.Classes[c], n)
		}
		return strings.Join(parts, ", ")
	}
	switch {
	case trainDS.Len() == 0:
		return fmt.Errorf("training set %q is empty", trainDS.Name)
	case len(trainDS.Classes) < 2 || present < 2:
		return fmt.Errorf("training set %q has images of %d class(es) (%s): a classifier needs at least two", trainDS.Name, present, describe(trainDS))
	case len(missing) > 0:
		return fmt.Errorf("training set %q has no images of %s (images per class: %s): give every class training images, or a larger split", trainDS.Name, strings.Join(missing, ", "), describe(trainDS))
	case evalDS.Len() == 0:
		return fmt.Errorf("evaluation set %q is empty: nothing to measure the model on (a split fraction of 0, or too few images to split?)", evalDS.Name)
	}
	return nil
}

// ensureTrainer builds GoMLX's trainer, or rebuilds it when the optimiser's settings
// changed since it was built (the momentum buffers live on in the store).
func (m *Model) ensureTrainer() {
	c := m.Config
	opt := SGD{LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay}
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
	err = m.guarded("training step", func() error {
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
