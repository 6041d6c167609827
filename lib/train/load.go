package train

import (
	"fmt"
	"path/filepath"
	"reflect"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// Load returns the model saved in dir's newest checkpoint (LatestCheckpoint), on
// the default backend, ready to evaluate, predict or train further (Fit continues
// after its last epoch, in dir, with the saved settings). Without fn it is the
// article's Net, checked against the layers the checkpoint lists; a model of your
// own needs its function: train.Load(dir, MyNet). LoadedFrom names the folder read.
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
		folder = filepath.Join(dir, epochDir(st.BestEpoch))
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

// restore loads folder's variables and state into m.
func (m *Model) restore(folder string, st *state) error {
	if err := readVariables(m.store, folder); err != nil {
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
	m.loadedFrom = folder
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
