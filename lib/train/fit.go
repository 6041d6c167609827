package train

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

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

// run is one call of Fit: its settings, data and progress bar.
type run struct {
	ctx             context.Context
	cfg             Config
	first, epochs   int  // the first epoch to train (0-based), the total to reach
	more            bool // FitMore: no early stop
	trainDS, evalDS *data.Dataset
	loader          *data.Loader
	sched           Schedule
	bar             *progress.Bar
	onEpoch         []func([]metrics.Epoch)
}

// say shows a line above the progress bar.
func (m *Model) say(r *run, line string) {
	if !r.cfg.Quiet {
		r.bar.Log(m.log(), line)
	}
}

// fit is Fit, or FitMore when more > 0: setup, then one epoch after another.
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
	if m.closed {
		return m.History, fmt.Errorf("training on %q: %w", trainDS.Name, ErrClosed)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	r, err := m.setup(trainDS, evalDS, more)
	if err != nil || r == nil {
		return m.History, err
	}
	r.ctx, r.onEpoch = ctx, onEpoch
	defer r.bar.Done()
	for epoch := r.first; epoch < r.epochs; epoch++ {
		e, err := m.trainEpoch(r, epoch)
		if err != nil {
			return m.History, err
		}
		if stop, err := m.endEpoch(r, e); err != nil || stop {
			return m.History, err
		}
	}
	return m.History, nil
}

// setup checks the settings and the data, resumes from the checkpoint folder, and
// prepares the run; a nil run (and no error) means there is nothing to train.
func (m *Model) setup(trainDS, evalDS *data.Dataset, more int) (*run, error) {
	if err := m.Config.check(); err != nil {
		return nil, err
	}
	if _, err := m.compute(); err != nil {
		return nil, err
	}
	if err := checkTrainingData(trainDS, evalDS); err != nil {
		return nil, err
	}
	for _, d := range []*data.Dataset{trainDS, evalDS} {
		if err := m.bind(d); err != nil {
			return nil, err
		}
	}
	if dir := m.Config.CheckpointDir; dir != "" {
		if err := m.resume(dir); err != nil {
			return nil, err
		}
	}
	if err := m.applyInit(); err != nil {
		return nil, err
	}
	if more > 0 {
		m.Config.Epochs = len(m.History) + more
	}
	cfg := m.Config
	if m.customSchedule && cfg.Schedule == nil {
		return nil, fmt.Errorf("this run used a custom schedule (a Schedule type of its own), which checkpoints cannot hold: set Config.Schedule again to continue it")
	}
	if len(m.History) > 0 && (m.Norm != nil) != cfg.Normalize {
		return nil, fmt.Errorf("the model was trained with Normalize %v; it cannot continue with Normalize %v (the inputs would change meaning)", m.Norm != nil, cfg.Normalize)
	}
	if more == 0 && m.stoppedEarly() {
		m.logf("this run stopped early after epoch %d (the best was epoch %d): nothing more to train; FitMore trains on\n", len(m.History), m.bestEpoch)
		return nil, nil
	}
	if len(m.History) >= cfg.Epochs {
		return nil, nil
	}
	if m.Norm == nil && cfg.Normalize {
		norm := data.ComputeNormalization(trainDS)
		m.Norm = &norm
	}
	m.ensureTrainer()
	r := &run{cfg: cfg, first: len(m.History), epochs: cfg.Epochs, more: more > 0, trainDS: trainDS, evalDS: evalDS, sched: cfg.schedule()}
	r.loader = data.NewLoader(trainDS, cfg.BatchSize, true)
	r.loader.Seed, r.loader.Norm, r.loader.Augment = cfg.Seed, m.Norm, cfg.Augment
	if !cfg.Quiet {
		r.bar = progress.New(fmt.Sprintf("epoch %d/%d", r.first+1, r.epochs), int64(trainDS.Len()), "images")
	}
	if cfg.Name != "" {
		m.say(r, cfg.Name)
	}
	if m.ranWith != nil && len(m.History) > 0 {
		if changes := settingsChanges(*m.ranWith, m.ranSchedule, cfg); len(changes) > 0 {
			m.say(r, fmt.Sprintf("after epoch %d, continuing with %s", len(m.History), strings.Join(changes, ", ")))
		}
	}
	return r, nil
}

// trainEpoch trains one epoch (0-based) and evaluates the model after it.
func (m *Model) trainEpoch(r *run, epoch int) (metrics.Epoch, error) {
	lr := r.sched.LR(epoch)
	if !validLR(lr) {
		return metrics.Epoch{}, fmt.Errorf("epoch %d: the schedule gives the learning rate %g: want a finite value > 0", epoch+1, lr)
	}
	if err := m.setLR(lr); err != nil {
		return metrics.Epoch{}, err
	}
	r.loader.SetEpoch(epoch)
	if epoch > r.first {
		r.bar.Restart(fmt.Sprintf("epoch %d/%d", epoch+1, r.epochs), int64(r.trainDS.Len()))
	}
	start := time.Now()
	lossSum, accSum, seen, err := m.trainBatches(r, epoch, lr)
	if err != nil {
		return metrics.Epoch{}, err
	}
	trainSecs := time.Since(start).Seconds()
	r.bar.Done()
	ev, err := m.evaluate(r.evalDS)
	if err != nil {
		return metrics.Epoch{}, fmt.Errorf("evaluating on %q: %w", r.evalDS.Name, err)
	}
	return metrics.Epoch{Epoch: epoch + 1, TrainLoss: lossSum / float64(max(seen, 1)), TrainAccuracy: accSum / float64(max(seen, 1)),
		EvalLoss: ev.Loss, EvalAccuracy: ev.Report.Accuracy, EvalSet: r.evalDS.Name, LR: lr,
		TrainImagesPerSecond: float64(seen) / trainSecs, Seconds: time.Since(start).Seconds()}, nil
}

// trainBatches runs the steps of one epoch and returns the sums of the batch losses
// and accuracies, weighted by batch size, and the images seen. It stops at a
// cancelled context (ErrInterrupted) and at a loss that is not finite (ErrDiverged).
func (m *Model) trainBatches(r *run, epoch int, lr float64) (lossSum, accSum float64, seen int, err error) {
	step := 0
	for b, err := range r.loader.Batches() {
		if err != nil {
			return 0, 0, 0, err
		}
		if r.ctx.Err() != nil {
			b.Images.FinalizeAll()
			b.Labels.FinalizeAll()
			r.bar.Done()
			return 0, 0, 0, m.stopped(ErrInterrupted, epoch, step, "")
		}
		n := len(b.Indices)
		l, acc, err := m.step(b)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("epoch %d, step %d: %w", epoch+1, step+1, err)
		}
		if math.IsNaN(l) || math.IsInf(l, 0) {
			r.bar.Done()
			return 0, 0, 0, m.stopped(ErrDiverged, epoch, step, fmt.Sprintf("the loss is %s; lower the learning rate (now %g)", progress.Number(l), lr))
		}
		lossSum += l * float64(n)
		accSum += acc * float64(n)
		seen += n
		step++
		if r.cfg.OnStep != nil {
			r.cfg.OnStep(StepLoss{Epoch: epoch + 1, Step: epoch*r.loader.NumBatches() + step, Loss: l, LR: lr})
		}
		r.bar.SetSuffix("loss " + progress.Number(lossSum/float64(seen)))
		r.bar.Add(int64(n))
	}
	return lossSum, accSum, seen, nil
}

// endEpoch records an epoch trained: the history, the best epoch, the epoch's line,
// the checkpoint and the callbacks. stop says the run stops early.
func (m *Model) endEpoch(r *run, e metrics.Epoch) (stop bool, err error) {
	m.History = append(m.History, e)
	cfg := r.cfg
	m.ranWith, m.ranSchedule = &cfg, specOf(cfg.Schedule)
	m.noteBest(e)
	m.say(r, epochLine(e, r.epochs))
	if cfg.CheckpointDir != "" {
		if err := m.save(cfg.CheckpointDir); err != nil {
			return true, err
		}
	}
	if err := m.unlockedCallbacks(r.onEpoch); err != nil {
		return true, err
	}
	if !r.more && m.stoppedEarly() {
		best := m.History[m.bestEpoch-1]
		m.say(r, fmt.Sprintf("early stop: the %s loss has not improved for %d epochs; the best was epoch %d (%s)",
			metrics.EvalLabel(m.History), cfg.Patience, best.Epoch, progress.Number(best.EvalLoss)))
		return true, nil
	}
	return false, nil
}

// stoppedEarly reports whether Config.Patience epochs have passed since the best one.
func (m *Model) stoppedEarly() bool {
	return m.Config.Patience > 0 && m.bestEpoch > 0 && len(m.History)-m.bestEpoch >= m.Config.Patience
}

// unlockedCallbacks calls Fit's callbacks with the model unlocked (they may use it),
// turning a panic in one into an error. A callback that closes the model ends the
// run.
func (m *Model) unlockedCallbacks(fs []func([]metrics.Epoch)) (err error) {
	if len(fs) == 0 {
		return nil
	}
	h := slices.Clone(m.History)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if err == nil && m.closed {
			err = fmt.Errorf("after epoch %d: %w", len(h), ErrClosed)
		}
	}()
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
