package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// A checkpoint folder holds one sub-folder per saved epoch, epoch-NNNN, each with
// GoMLX's checkpoint files (all variables: weights, momentum, step, learning rate)
// and state.json: what continuing the run or using the model needs besides its
// variables (the settings and schedule, the classes, the input shape, the
// normalisation, the history, the model's layers). A sub-folder is written under a
// temporary name and renamed when complete, so a crash never leaves a half-written
// checkpoint where a later run would read it. The newest KeepCheckpoints epochs are
// kept, and the best one (lowest evaluation loss).

// KeepCheckpoints is how many of the newest epoch checkpoints are kept (at least 1:
// the one just saved).
var KeepCheckpoints = 2

// StateFile is the name of the file describing a checkpoint, beside its variables.
const StateFile = "state.json"

type state struct {
	Config   Config              `json:"config"`
	Schedule *scheduleSpec       `json:"schedule,omitempty"`
	Classes  []string            `json:"classes"`
	Shape    data.Shape          `json:"shape"`
	Norm     *data.Normalization `json:"normalization"`
	History  []metrics.Epoch     `json:"history"`
	// BestEpoch is the epoch of the lowest evaluation loss so far (1-based).
	BestEpoch int `json:"best_epoch"`
	// Layers is the model's summary: Load recognises the article's Net by it.
	Layers []nn.Layer `json:"layers,omitempty"`

	// Checkpoints of the first release gave the shape as three fields.
	Height   int `json:"height,omitempty"`
	Width    int `json:"width,omitempty"`
	Channels int `json:"channels,omitempty"`
}

func (st *state) shape() data.Shape {
	if st.Shape == (data.Shape{}) {
		return data.Shape{Channels: st.Channels, Height: st.Height, Width: st.Width}
	}
	return st.Shape
}

// Save writes the model's variables and state to dir/epoch-NNNN, atomically, then
// removes older epoch folders, keeping the newest KeepCheckpoints, the one just
// written and the best epoch's.
func (m *Model) Save(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.save(dir)
}

func (m *Model) save(dir string) error {
	if m.Classes == nil {
		return fmt.Errorf("saving a checkpoint in %s: %w", dir, ErrNotReady)
	}
	layers, err := m.layers()
	if err != nil {
		return fmt.Errorf("saving a checkpoint in %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".saving-*")
	if err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	h, err := checkpoint.Build(m.store).Dir(tmp).Done()
	if err != nil {
		return fmt.Errorf("saving checkpoint in %s: %w", dir, err)
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("saving checkpoint in %s: %w", dir, err)
	}
	st := state{Config: m.Config, Schedule: specOf(m.Config.Schedule), Classes: m.Classes, Shape: m.Shape, Norm: m.Norm,
		History: m.History, BestEpoch: m.bestEpoch, Layers: layers}
	err = atomicfile.Write(filepath.Join(tmp, StateFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	})
	if err != nil {
		return err
	}
	final := filepath.Join(dir, EpochDir(len(m.History)))
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	// Pruning: a folder that cannot be removed now is removed by a later save.
	epochs, _ := listEpochs(dir)
	keep := epochs[max(len(epochs)-max(KeepCheckpoints, 1), 0):]
	for _, e := range epochs {
		if !slices.Contains(keep, e) && e != EpochDir(m.bestEpoch) && e != EpochDir(len(m.History)) {
			os.RemoveAll(filepath.Join(dir, e))
		}
	}
	return nil
}

// layers returns the model's summary for its input shape (computed once).
func (m *Model) layers() ([]nn.Layer, error) {
	if m.layerCache == nil {
		s, err := nn.Summarize(m.fn, m.Shape)
		if err != nil {
			return nil, err
		}
		m.layerCache = s.Layers
	}
	return m.layerCache, nil
}

// EpochDir is the name of the folder of an epoch's checkpoint (1-based) inside a
// checkpoint folder: "epoch-0007".
func EpochDir(epoch int) string { return fmt.Sprintf("epoch-%04d", epoch) }

func listEpochs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "epoch-") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// LatestCheckpoint returns the newest epoch folder in dir, or "" when there is none.
func LatestCheckpoint(dir string) string {
	epochs, err := listEpochs(dir)
	if err != nil || len(epochs) == 0 {
		return ""
	}
	return filepath.Join(dir, epochs[len(epochs)-1])
}

func readState(folder string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(folder, StateFile))
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %w", folder, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %s: %w", folder, StateFile, err)
	}
	if err := st.shape().Validate(); err != nil || len(st.Classes) == 0 {
		return nil, fmt.Errorf("reading checkpoint %s: %s: shape %s, %d classes: want a valid image shape and classes", folder, StateFile, st.shape(), len(st.Classes))
	}
	return &st, nil
}

// restore loads folder's variables and state into m.
func (m *Model) restore(folder string, st *state) error {
	if _, err := checkpoint.Load(m.store).Dir(folder).Immediate().Done(); err != nil {
		return fmt.Errorf("loading checkpoint %s: %w", folder, err)
	}
	m.Classes, m.Shape, m.Norm, m.History, m.bestEpoch = st.Classes, st.shape(), st.Norm, st.History, st.BestEpoch
	if m.bestEpoch == 0 { // a checkpoint of the first release
		for _, e := range m.History {
			m.noteBest(e)
		}
	}
	_, m.customSchedule = st.Schedule.schedule()
	cfg := st.Config
	m.ranWith, m.ranSchedule = &cfg, st.Schedule
	return nil
}

// resume continues from dir's newest checkpoint when it is ahead of the model,
// saying which settings differ from the run that wrote it (the new ones apply from
// now on), and refusing those that cannot change.
func (m *Model) resume(dir string) error {
	latest := LatestCheckpoint(dir)
	if latest == "" {
		return nil
	}
	st, err := readState(latest)
	if err != nil {
		return err
	}
	if len(st.History) <= len(m.History) {
		return nil // the model is at this checkpoint already, or past it
	}
	if st.shape() != m.Shape || !sameClasses(st.Classes, m.Classes) {
		return fmt.Errorf("resuming from %s: it holds a model of %s images in the classes %v; the data has %s in %v (use another checkpoint folder)",
			latest, st.shape(), st.Classes, m.Shape, m.Classes)
	}
	if st.Config.Normalize != m.Config.Normalize {
		return fmt.Errorf("resuming from %s: it was trained with Normalize %v, this run asks for %v; the inputs would change meaning: set Normalize back, or use another checkpoint folder",
			latest, st.Config.Normalize, m.Config.Normalize)
	}
	if err := m.restore(latest, st); err != nil {
		return err
	}
	if m.Config.Schedule != nil {
		m.customSchedule = false
	}
	m.logf("resuming from %s after epoch %d\n", latest, len(st.History))
	return nil
}

// settingsChanges lists the settings of cfg that differ from old (with its schedule
// oldSched), as "name old → new".
func settingsChanges(old Config, oldSched *scheduleSpec, cfg Config) []string {
	var out []string
	add := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("%s %v → %v", name, a, b))
		}
	}
	add("batch size", old.BatchSize, cfg.BatchSize)
	add("lr", old.LR, cfg.LR)
	add("momentum", old.Momentum, cfg.Momentum)
	add("weight decay", old.WeightDecay, cfg.WeightDecay)
	add("seed", old.Seed, cfg.Seed)
	add("patience", old.Patience, cfg.Patience)
	if a, b := oldSched, specOf(cfg.Schedule); !reflect.DeepEqual(a, b) {
		out = append(out, fmt.Sprintf("schedule %s → %s", a, b))
	} else if a == nil {
		add("step size", old.StepSize, cfg.StepSize)
		add("gamma", old.Gamma, cfg.Gamma)
	}
	if !reflect.DeepEqual(old.Augment, cfg.Augment) {
		out = append(out, fmt.Sprintf("augmentation %s → %s", augmentString(old.Augment), augmentString(cfg.Augment)))
	}
	return out
}

func augmentString(a *data.Augmentation) string {
	if a == nil {
		return "off"
	}
	return fmt.Sprintf("{crop padding %d, flips %v}", a.CropPadding, a.HorizontalFlip)
}

// Load returns the model saved in dir's newest checkpoint, on the default backend,
// ready to evaluate, predict or train further (Fit continues after its last epoch, in
// dir, with the saved settings). Without fn it is the article's Net, checked against
// the layers the checkpoint lists; a model of your own needs its function:
// train.Load(dir, MyNet).
func Load(dir string, fn ...nn.ModelFn) (*Model, error) {
	latest := LatestCheckpoint(dir)
	if latest == "" {
		return nil, fmt.Errorf("loading a model: no checkpoint (epoch-NNNN folder) in %s", dir)
	}
	return loadFolder(dir, latest, fn)
}

// LoadBest is Load for the checkpoint of the epoch with the lowest evaluation loss
// (kept for early stopping), rather than the newest. The model is a snapshot: its
// Config.CheckpointDir is empty, so training it further does not write over the run's
// later epochs (set a new folder to keep checkpoints).
func LoadBest(dir string, fn ...nn.ModelFn) (*Model, error) {
	latest := LatestCheckpoint(dir)
	if latest == "" {
		return nil, fmt.Errorf("loading a model: no checkpoint (epoch-NNNN folder) in %s", dir)
	}
	st, err := readState(latest)
	if err != nil {
		return nil, err
	}
	folder := latest
	if st.BestEpoch != 0 {
		folder = filepath.Join(dir, EpochDir(st.BestEpoch))
	}
	m, err := loadFolder(dir, folder, fn)
	if err != nil {
		return nil, err
	}
	m.Config.CheckpointDir = ""
	return m, nil
}

func loadFolder(dir, folder string, fns []nn.ModelFn) (*Model, error) {
	st, err := readState(folder)
	if err != nil {
		return nil, err
	}
	var fn nn.ModelFn
	if len(fns) > 0 && fns[0] != nil {
		fn = fns[0]
	} else {
		fn = nn.Net(len(st.Classes))
	}
	if len(st.Layers) > 0 {
		s, err := nn.Summarize(fn, st.shape())
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", folder, err)
		}
		if !reflect.DeepEqual(s.Layers, st.Layers) {
			what := "the given model function"
			if len(fns) == 0 {
				what = "nn.Net (the article's CNN); pass the model function it was trained with: train.Load(dir, MyNet)"
			}
			return nil, fmt.Errorf("loading %s: its layers (%s) are not those of %s", folder, layerNames(st.Layers), what)
		}
	}
	cfg := st.Config
	cfg.Schedule, _ = st.Schedule.schedule()
	cfg.CheckpointDir = dir
	m := New(fn, cfg)
	m.layerCache = st.Layers // checked against fn above (nil: summarised at the first save)
	if err := m.restore(folder, st); err != nil {
		return nil, err
	}
	return m, nil
}

func layerNames(ls []nn.Layer) string {
	var names []string
	for _, l := range ls {
		if l.Params > 0 {
			names = append(names, fmt.Sprintf("%s %d", l.Name, l.Params))
		}
	}
	return strings.Join(names, ", ")
}
