package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"sort"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	gomlxtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/progress"
)

// Config holds the training hyperparameters. DefaultConfig returns the article's.
type Config struct {
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	// StepSize and Gamma make the StepLR schedule used when Schedule is nil.
	StepSize int     `json:"step_size"`
	Gamma    float64 `json:"gamma"`
	// Schedule, when set, replaces StepLR.
	Schedule Schedule `json:"-"`
	// Seed fixes the initial weights and the shuffling: a run repeats on one backend.
	Seed uint64 `json:"seed"`
	// Normalize standardises each channel with the training set's mean and std.
	Normalize bool `json:"normalize"`
	// Augment applies random crops and flips to training batches.
	Augment *data.Augmentation `json:"augment,omitempty"`
	// CheckpointDir, when set, gets a checkpoint after every epoch, and Fit resumes
	// from the newest one found there.
	CheckpointDir string `json:"-"`
	// Quiet turns off the progress bar and the per-epoch lines.
	Quiet bool `json:"-"`
	// Log receives the per-epoch lines (default: standard output).
	Log io.Writer `json:"-"`
}

// DefaultConfig is the article's setup: 10 epochs, batch 64, SGD lr 0.01 without
// momentum, StepLR(step_size=7, gamma=0.1), seed 1, pixels scaled to [0, 1] as
// ToTensor does (set Normalize to also standardise each channel).
func DefaultConfig() Config {
	return Config{Epochs: 10, BatchSize: 64, LR: 0.01, StepSize: 7, Gamma: 0.1, Seed: 1}
}

func (c Config) schedule() Schedule {
	if c.Schedule != nil {
		return c.Schedule
	}
	return StepLR{Base: c.LR, StepSize: c.StepSize, Gamma: c.Gamma}
}

// Epoch is one epoch's figures.
type Epoch struct {
	Epoch        int     `json:"epoch"` // 1-based
	TrainLoss    float64 `json:"train_loss"`
	TestLoss     float64 `json:"test_loss"`
	TestAccuracy float64 `json:"test_accuracy"`
	LR           float64 `json:"lr"`
	// TrainImagesPerSecond is the training throughput of the epoch (evaluation excluded).
	TrainImagesPerSecond float64 `json:"train_images_per_second"`
	Seconds              float64 `json:"seconds"`
}

// Model is a model function with its variables, its input shape and classes, its
// normalisation and its training history.
type Model struct {
	Backend *Backend
	Store   *model.Store
	Fn      nn.ModelFn
	Config  Config

	Classes                 []string
	Height, Width, Channels int
	Norm                    *data.Normalization // nil: pixels scaled to [0, 1] only
	History                 []Epoch

	trainer  *gomlxtrain.Trainer
	evalExec *model.Exec
}

// New returns an untrained model.
func New(backend *Backend, fn nn.ModelFn, cfg Config) *Model {
	store := model.NewStore()
	store.SetParam(initializer.ParamInitialSeed, int64(cfg.Seed))
	return &Model{Backend: backend, Store: store, Fn: fn, Config: cfg}
}

// ErrDiverged is returned (wrapped) by Fit when the loss becomes NaN or infinite.
var ErrDiverged = errors.New("training diverged")

// ErrInterrupted is returned (wrapped) by Fit when its context is cancelled, or on
// an interrupt signal (Ctrl-C, a notebook's interrupt button).
var ErrInterrupted = errors.New("training interrupted")

func (m *Model) logf(format string, args ...any) {
	if m.Config.Quiet {
		return
	}
	w := m.Config.Log
	if w == nil {
		w = os.Stdout
	}
	fmt.Fprintf(w, format, args...)
}

func (m *Model) bind(d *data.Dataset) error {
	if m.Classes == nil {
		m.Classes, m.Height, m.Width, m.Channels = d.Classes, d.Height, d.Width, d.Channels
		return nil
	}
	if d.Height != m.Height || d.Width != m.Width || d.Channels != m.Channels || len(d.Classes) != len(m.Classes) {
		return fmt.Errorf("dataset %q has %dx%dx%d images in %d classes; the model takes %dx%dx%d in %d classes",
			d.Name, d.Channels, d.Height, d.Width, len(d.Classes), m.Channels, m.Height, m.Width, len(m.Classes))
	}
	return nil
}

// Fit trains on trainDS for Config.Epochs epochs (counting those already done, when
// resuming from Config.CheckpointDir), evaluating on testDS after each epoch.
// onEpoch, when given, is called after each epoch with the history so far (for live
// curves). It stops early, keeping the last checkpoint, when ctx is cancelled, on an
// interrupt signal, or when the loss diverges.
func (m *Model) Fit(ctx context.Context, trainDS, testDS *data.Dataset, onEpoch ...func([]Epoch)) (history []Epoch, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("training %q: %v", trainDS.Name, r)
		}
	}()
	cfg := m.Config
	if cfg.Epochs <= 0 || cfg.BatchSize <= 0 || cfg.LR <= 0 {
		return m.History, fmt.Errorf("train config: epochs %d, batch size %d, lr %g: want all > 0", cfg.Epochs, cfg.BatchSize, cfg.LR)
	}
	if err := m.bind(trainDS); err != nil {
		return m.History, err
	}
	if err := m.bind(testDS); err != nil {
		return m.History, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	if cfg.CheckpointDir != "" {
		if st, err := m.restore(cfg.CheckpointDir); err != nil {
			return m.History, err
		} else if st != nil {
			m.logf("resuming from %s after epoch %d\n", cfg.CheckpointDir, len(m.History))
		}
	}
	if m.Norm == nil && cfg.Normalize {
		norm := data.ComputeNormalization(trainDS)
		m.Norm = &norm
	}
	m.ensureTrainer()
	loader := data.NewLoader(trainDS, cfg.BatchSize, true)
	loader.Seed, loader.Norm, loader.Augment = cfg.Seed, m.Norm, cfg.Augment
	sched := cfg.schedule()
	for epoch := len(m.History); epoch < cfg.Epochs; epoch++ {
		lr := sched.LR(epoch)
		m.setLR(lr)
		loader.SetEpoch(epoch)
		var bar *progress.Bar
		if !cfg.Quiet {
			bar = progress.New(fmt.Sprintf("epoch %d/%d", epoch+1, cfg.Epochs), int64(trainDS.Len()), "images")
		}
		start := time.Now()
		sum, seen := 0.0, 0
		step := 0
		for b, err := range loader.Batches() {
			if err != nil {
				return m.History, err
			}
			if ctx.Err() != nil {
				bar.Done()
				b.Images.FinalizeAll()
				b.Labels.FinalizeAll()
				return m.History, m.stopped(ErrInterrupted, epoch, step, "")
			}
			n := len(b.Indices)
			l, err := m.Step(b)
			if err != nil {
				return m.History, fmt.Errorf("epoch %d, step %d: %w", epoch+1, step+1, err)
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				bar.Done()
				return m.History, m.stopped(ErrDiverged, epoch, step, fmt.Sprintf("the loss is %g; lower the learning rate (now %g)", l, lr))
			}
			sum += l * float64(n)
			seen += n
			step++
			bar.SetSuffix(fmt.Sprintf("loss %.4f", sum/float64(seen)))
			bar.Add(int64(n))
		}
		trainSecs := time.Since(start).Seconds()
		bar.Done()
		ev, err := m.Evaluate(testDS)
		if err != nil {
			return m.History, err
		}
		e := Epoch{Epoch: epoch + 1, TrainLoss: sum / float64(max(seen, 1)), TestLoss: ev.Loss,
			TestAccuracy: ev.Report.Accuracy, LR: lr, TrainImagesPerSecond: float64(seen) / trainSecs,
			Seconds: time.Since(start).Seconds()}
		m.History = append(m.History, e)
		m.logf("epoch %2d  lr %.5f  train loss %.4f  test loss %.4f  test accuracy %.2f%%  (%.0f images/s)\n",
			e.Epoch, e.LR, e.TrainLoss, e.TestLoss, 100*e.TestAccuracy, e.TrainImagesPerSecond)
		if cfg.CheckpointDir != "" {
			if err := m.Save(cfg.CheckpointDir); err != nil {
				return m.History, err
			}
		}
		for _, f := range onEpoch {
			f(m.History)
		}
	}
	return m.History, nil
}

func (m *Model) ensureTrainer() {
	if m.trainer == nil {
		c := m.Config
		opt := &SGD{LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay}
		m.trainer = gomlxtrain.NewTrainer(m.Backend.Compute, m.Store, m.Fn, loss.SparseCategoricalCrossEntropyLogits, opt, nil, nil)
		m.setLR(c.LR)
	}
}

// Step runs one training step (forward, loss, backward, SGD update) on a batch and
// returns the batch's mean loss. The batch's tensors are consumed. Fit calls it for
// every batch; benchmarks call it directly.
func (m *Model) Step(b data.Batch) (float64, error) {
	m.ensureTrainer()
	out, err := m.trainer.TrainStep(gomlxtrain.Batch{Inputs: []*tensors.Tensor{b.Images}, Labels: []*tensors.Tensor{b.Labels}})
	if err != nil {
		return 0, err
	}
	l := scalar(out[0])
	for _, t := range out {
		t.FinalizeAll()
	}
	return l, nil
}

func (m *Model) stopped(kind error, epoch, step int, why string) error {
	msg := fmt.Sprintf("%v at epoch %d, step %d", kind, epoch+1, step+1)
	if why != "" {
		msg += ": " + why
	}
	if m.Config.CheckpointDir != "" && len(m.History) > 0 {
		msg += fmt.Sprintf("; the checkpoint of epoch %d is kept in %s", len(m.History), m.Config.CheckpointDir)
	}
	return wrapped{kind, msg}
}

// wrapped is an error with its own message that still matches kind with errors.Is.
type wrapped struct {
	kind error
	msg  string
}

func (w wrapped) Error() string { return w.msg }
func (w wrapped) Unwrap() error { return w.kind }

func (m *Model) setLR(lr float64) {
	v := optimizer.LearningRateVar(m.Store.RootScope(), dtypes.Float32, lr)
	if err := v.SetValue(tensors.FromScalar(float32(lr))); err != nil {
		panic(err)
	}
}

func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// Evaluation is a model's result on a dataset.
type Evaluation struct {
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
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluating on %q: %v", d.Name, r)
		}
	}()
	if err := m.bind(d); err != nil {
		return nil, err
	}
	if m.evalExec == nil {
		m.evalExec, err = model.NewExec(m.Backend.Compute, m.Store, func(scope *model.Scope, images *graph.Node) *graph.Node {
			weightsAsParameters(m.Store, images.Graph())
			return graph.LogSoftmax(m.Fn(scope, images))
		})
		if err != nil {
			return nil, fmt.Errorf("evaluating on %q: %w", d.Name, err)
		}
	}
	bs := m.Config.BatchSize
	if bs <= 0 {
		bs = 64
	}
	loader := data.NewLoader(d, bs, false)
	loader.Norm = m.Norm
	ev = &Evaluation{}
	k := len(m.Classes)
	total := 0.0
	for b, err := range loader.Batches() {
		if err != nil {
			return nil, err
		}
		out, err := m.evalExec.Call(b.Images)
		b.Images.FinalizeAll()
		b.Labels.FinalizeAll()
		if err != nil {
			return nil, fmt.Errorf("evaluating on %q: %w", d.Name, err)
		}
		logp := tensors.MustCopyFlatData[float32](out[0])
		out[0].FinalizeAll()
		for j, idx := range b.Indices {
			row := logp[j*k : (j+1)*k]
			label := d.Labels[idx]
			best := 0
			probs := make([]float32, k)
			for c, v := range row {
				probs[c] = float32(math.Exp(float64(v)))
				if v > row[best] {
					best = c
				}
			}
			total -= float64(row[label])
			ev.Labels = append(ev.Labels, label)
			ev.Predictions = append(ev.Predictions, int32(best))
			ev.Confidence = append(ev.Confidence, probs[best])
			ev.Probabilities = append(ev.Probabilities, probs)
		}
	}
	ev.Loss = total / float64(max(len(ev.Labels), 1))
	ev.Report, err = metrics.Compute(ev.Labels, ev.Predictions, m.Classes)
	if err != nil {
		return nil, fmt.Errorf("evaluating on %q: %w", d.Name, err)
	}
	return ev, nil
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
	return idx[:min(n, len(idx))]
}
