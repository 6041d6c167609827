package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	gomlxtrain "github.com/gomlx/gomlx/ml/train"

	"github.com/gopherdl/gopherdl/lib/backend"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/formats"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// Config holds the training hyperparameters. DefaultConfig returns the article's.
// Everything but CheckpointDir, Quiet, Log and OnStep is saved with each checkpoint,
// so a run continues with the settings it had.
type Config struct {
	Epochs      int     `json:"epochs"` // in total, counting those already done
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	// StepSize and Gamma make the StepLR schedule used when Schedule is nil.
	StepSize int     `json:"step_size"`
	Gamma    float64 `json:"gamma"`
	// Schedule, when set, replaces StepLR. StepLR, Cosine and Constant are saved with
	// the checkpoints; a Schedule type of your own cannot be, and must be set again to continue.
	Schedule Schedule `json:"-"`
	// Seed fixes the initial weights (as New found it) and the shuffling: a run
	// repeats on one backend.
	Seed uint64 `json:"seed"`
	// Normalize standardises each channel with the training set's mean and std.
	Normalize bool `json:"normalize"`
	// Augment applies random crops and flips to training batches.
	Augment *data.Augmentation `json:"augment,omitempty"`
	// Name, when set, heads the run's output (a label when a cell trains several).
	Name string `json:"name,omitempty"`
	// Patience, when > 0, stops training early once the evaluation loss has not
	// improved for that many epochs (early stopping). The best epoch's checkpoint is
	// always kept (LoadBest reads it).
	Patience int `json:"patience,omitempty"`
	// Init, when set, is an ONNX file whose weights the model starts from, instead of
	// random ones: a model of the same architecture, as ExportONNX or PyTorch's
	// torch.onnx.export writes it (NCHW input in [0, 1], with or without a final
	// softmax or log_softmax; a Sub and Div normalisation first becomes Norm, and
	// Normalize follows the file). It is read when the model first meets a dataset
	// (Fit, Evaluate), unless a checkpoint is loaded; a file of another architecture
	// is refused, naming the first layer that differs.
	Init string `json:"init,omitempty"`
	// CheckpointDir, when set, gets a checkpoint after every epoch, and Fit resumes
	// from the newest one found there.
	CheckpointDir string `json:"-"`
	// KeepCheckpoints is how many of the newest epoch checkpoints a save keeps
	// besides the best epoch's (0 keeps 2; at least the one just written is kept).
	KeepCheckpoints int `json:"keep_checkpoints,omitempty"`
	// Quiet turns off the progress bar and the per-epoch lines.
	Quiet bool `json:"-"`
	// Log receives the per-epoch lines (default: standard output; in a notebook they
	// go into the progress block).
	Log io.Writer `json:"-"`
	// OnStep, when set, is called by Fit after every training step with the batch's
	// loss (for a curve by step, plot.StepLoss). It runs while the model is busy
	// training: it must not call the model.
	OnStep func(StepLoss) `json:"-"`
}

// DefaultConfig is the article's setup: 10 epochs, batch 64, SGD lr 0.01 without
// momentum, StepLR(step_size=7, gamma=0.1), seed 1, pixels scaled to [0, 1] as
// ToTensor does (set Normalize to also standardise each channel), and the newest 2
// checkpoints kept.
func DefaultConfig() Config {
	return Config{Epochs: 10, BatchSize: 64, LR: 0.01, StepSize: 7, Gamma: 0.1, Seed: 1, KeepCheckpoints: defaultKeep}
}

const defaultKeep = 2

// keep is how many of the newest checkpoints a save keeps.
func (c Config) keep() int {
	if c.KeepCheckpoints == 0 {
		return defaultKeep
	}
	return max(c.KeepCheckpoints, 1)
}

func (c Config) schedule() Schedule {
	if c.Schedule != nil {
		return c.Schedule
	}
	return StepLR{Base: c.LR, StepSize: c.StepSize, Gamma: c.Gamma}
}

// Model is a model function with its weights, the classes and image shape it takes,
// its input normalisation and its training history.
//
// Predict, PredictBatch, Explain, Saliency, Evaluate, EvalStep, Activations and
// Variable may be called from several goroutines at once, and run
// at the same time. Training
// (Fit, FitMore, Step), SetLearningRate, Save and Close take the model for
// themselves: the other calls wait for them, and they wait for the calls running.
type Model struct {
	// Backend computes the model: nil means backend.Default(). Set it before the
	// model's first use.
	Backend *backend.Backend
	// Config is the training setup; change it between calls to Fit, and the next
	// epochs follow it.
	Config Config

	// Classes, Shape and Norm describe the input: they are taken from the first
	// dataset the model sees, and saved with it.
	Classes []string
	Shape   data.Shape
	Norm    *data.Normalization // nil: pixels scaled to [0, 1] only
	// History has one entry per epoch trained.
	History []metrics.Epoch

	fn    nn.ModelFn
	store *model.Store

	// mu is held shared by inference and exclusively by training, saving and Close.
	mu     sync.RWMutex
	closed bool
	// execs builds and runs the inference graphs (its own lock: they are built on
	// first use, under a shared mu).
	execs execs

	trainer        *gomlxtrain.Trainer
	trainerOpt     sgd  // the settings the trainer's graph was built with
	customSchedule bool // the run used a Schedule type of its own, which checkpoints cannot hold
	bestEpoch      int  // epoch of the lowest evaluation loss (1-based; 0: none)
	layerCache     []nn.Layer
	loadedFrom     string // the epoch folder the weights were read from
	initDone       bool   // Config.Init was read, or a checkpoint made it moot
	// ranWith and ranSchedule are the settings of the last epoch trained (or of the
	// checkpoint loaded): Fit names those that changed since.
	ranWith     *Config
	ranSchedule *scheduleSpec
}

// New returns an untrained model that computes fn (for example nn.Net(10)) and
// trains with cfg.
func New(fn nn.ModelFn, cfg Config) *Model {
	store := model.NewStore()
	store.SetParam(initializer.ParamInitialSeed, int64(cfg.Seed))
	return &Model{Config: cfg, fn: fn, store: store}
}

// ErrDiverged is returned (wrapped) by Fit when the loss becomes NaN or infinite.
var ErrDiverged = errors.New("training diverged")

// ErrInterrupted is returned (wrapped) by Fit when its context is cancelled.
var ErrInterrupted = errors.New("training interrupted")

// errNotReady is the error of Predict, Explain, EvalStep and Save on a model
// that has neither trained nor been loaded, so knows no classes or input shape.
var errNotReady = errors.New("the model has not been trained or loaded")

// ErrClosed is returned (wrapped) by every call on a model after Close:
// errors.Is(err, ErrClosed) tells a closed model.
var ErrClosed = errors.New("the model is closed")

// errNotFinite is the error of Predict, PredictBatch and Explain when the model's
// output for an image is NaN or infinite: its weights are (a diverged run saves such
// weights), or the image's pixels made them overflow.
var errNotFinite = errors.New("the model's output is not a finite number")

// compute returns the model's backend, choosing the default on first use.
func (m *Model) compute() (*backend.Backend, error) {
	m.execs.mu.Lock()
	defer m.execs.mu.Unlock()
	if m.Backend == nil {
		b, err := backend.Default()
		if err != nil {
			return nil, err
		}
		m.Backend = b
	}
	return m.Backend, nil
}

func (m *Model) log() io.Writer {
	if m.Config.Log != nil {
		return m.Config.Log
	}
	return os.Stdout
}

func (m *Model) logf(format string, args ...any) {
	if !m.Config.Quiet {
		fmt.Fprintf(m.log(), format, args...)
	}
}

// bind takes the classes and shape of the model's first dataset, and checks later
// ones against them.
func (m *Model) bind(d *data.Dataset) error {
	if err := d.Shape().Validate(); err != nil {
		return fmt.Errorf("dataset %q: %w", d.Name, err)
	}
	if m.Classes == nil {
		m.Classes, m.Shape = d.Classes, d.Shape()
		return nil
	}
	if d.Shape() != m.Shape || len(d.Classes) != len(m.Classes) {
		return fmt.Errorf("dataset %q has %s images in %d classes; the model takes %s in %d classes",
			d.Name, d.Shape(), len(d.Classes), m.Shape, len(m.Classes))
	}
	if !sameClasses(d.Classes, m.Classes) {
		return fmt.Errorf("dataset %q has the classes %v; the model was trained on %v: the labels would not mean the same", d.Name, d.Classes, m.Classes)
	}
	return nil
}

// bindShared binds d as bind does, for a call that then holds the model shared:
// only a model that has seen no data yet is held alone, to take d's classes and
// shape.
func (m *Model) bindShared(d *data.Dataset) error {
	m.mu.RLock()
	bound := m.Classes != nil
	var err error
	if bound {
		err = m.bind(d) // checks only
	}
	m.mu.RUnlock()
	if bound {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bind(d)
}

// sameClasses compares class lists in order, as file names (formats.SafeName): a
// folder written by formats.SaveFolder has "T-shirt_top" for "T-shirt/top".
func sameClasses(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if formats.SafeName(a[i]) != formats.SafeName(b[i]) {
			return false
		}
	}
	return true
}

// recovered turns a panic of GoMLX's graph building into an error of what, keeping
// the error chain when the panic carried an error.
func recovered(r any, what string) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %v", what, r)
}

// shared runs f with the model held for inference (other inference calls run at
// the same time; training waits) and its backend chosen. Errors, and panics of
// GoMLX's graph building, come back as errors of what.
func (m *Model) shared(what string, f func() error) error {
	return m.held(what, false, f)
}

// exclusive is shared for calls that change the model: they run alone.
func (m *Model) exclusive(what string, f func() error) error {
	return m.held(what, true, f)
}

func (m *Model) held(what string, alone bool, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r, what)
		}
	}()
	if err := m.initOnce(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if alone {
		m.mu.Lock()
		defer m.mu.Unlock()
	} else {
		m.mu.RLock()
		defer m.mu.RUnlock()
	}
	if m.closed {
		return fmt.Errorf("%s: %w", what, ErrClosed)
	}
	if _, err := m.compute(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// LoadedFrom returns the epoch folder (dir/epoch-NNNN) whose weights the model holds
// since Load, LoadBest or Fit's resume read them; "" for a model that read none.
// Training further does not change it: it names where the model came from.
func (m *Model) LoadedFrom() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.loadedFrom
}

// Close releases the model's compiled graphs and its weights (the backend's
// buffers: on a GPU, its memory) now rather than at garbage collection. It waits
// for the calls running on the model; every later call returns ErrClosed. Closing
// again does nothing.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.execs.close()
	if m.trainer != nil {
		m.trainer.ResetComputationGraphs()
		m.trainer = nil
	}
	m.store.Finalize()
	return nil
}
