package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// A checkpoint folder holds one sub-folder per saved epoch, epoch-NNNN, each with
// GoMLX's checkpoint files (all variables: weights, momentum, step, learning rate)
// and state.json (what the model needs besides its variables). A sub-folder is
// written under a temporary name and renamed when complete, so a crash never leaves
// a half-written checkpoint where a later run would read it. The newest KeepCheckpoints
// are kept.

// KeepCheckpoints is how many epoch checkpoints Save keeps.
var KeepCheckpoints = 2

const stateFile = "state.json"

type state struct {
	Config   Config              `json:"config"`
	Classes  []string            `json:"classes"`
	Height   int                 `json:"height"`
	Width    int                 `json:"width"`
	Channels int                 `json:"channels"`
	Norm     *data.Normalization `json:"normalization"`
	History  []Epoch             `json:"history"`
}

// Save writes the model's variables and state to dir/epoch-NNNN, atomically.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".saving-*")
	if err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	h, err := checkpoint.Build(m.Store).Dir(tmp).Done()
	if err != nil {
		return fmt.Errorf("saving checkpoint in %s: %w", dir, err)
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("saving checkpoint in %s: %w", dir, err)
	}
	st := state{Config: m.Config, Classes: m.Classes, Height: m.Height, Width: m.Width, Channels: m.Channels, Norm: m.Norm, History: m.History}
	err = atomicfile.Write(filepath.Join(tmp, stateFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	})
	if err != nil {
		return err
	}
	final := filepath.Join(dir, fmt.Sprintf("epoch-%04d", len(m.History)))
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	epochs, _ := listEpochs(dir)
	for len(epochs) > KeepCheckpoints {
		os.RemoveAll(filepath.Join(dir, epochs[0]))
		epochs = epochs[1:]
	}
	return nil
}

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

// restore loads the newest checkpoint of dir into m and returns its state, or nil
// when dir holds no checkpoint.
func (m *Model) restore(dir string) (*state, error) {
	latest := LatestCheckpoint(dir)
	if latest == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(latest, stateFile))
	if err != nil {
		return nil, fmt.Errorf("resuming from %s: %w", latest, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("resuming from %s: %s: %w", latest, stateFile, err)
	}
	if m.Classes != nil && (st.Height != m.Height || st.Width != m.Width || st.Channels != m.Channels || len(st.Classes) != len(m.Classes)) {
		return nil, fmt.Errorf("resuming from %s: it holds a model of %dx%dx%d images in %d classes; the data has %dx%dx%d in %d classes (use another checkpoint folder)",
			latest, st.Channels, st.Height, st.Width, len(st.Classes), m.Channels, m.Height, m.Width, len(m.Classes))
	}
	if _, err := checkpoint.Load(m.Store).Dir(latest).Immediate().Done(); err != nil {
		return nil, fmt.Errorf("resuming from %s: %w", latest, err)
	}
	m.Classes, m.Height, m.Width, m.Channels = st.Classes, st.Height, st.Width, st.Channels
	m.Norm, m.History = st.Norm, st.History
	return &st, nil
}

// Load returns the model saved in dir's newest checkpoint, ready to evaluate or to
// train further (Fit continues after its last epoch). fn must be the model function
// it was trained with.
func Load(backend *Backend, fn nn.ModelFn, dir string) (*Model, error) {
	m := &Model{Backend: backend, Store: model.NewStore(), Fn: fn}
	st, err := m.restore(dir)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("loading a model: no checkpoint (epoch-NNNN folder) in %s", dir)
	}
	m.Config = st.Config
	m.Config.CheckpointDir = dir
	return m, nil
}

// MustLoad is Load for notebooks: it panics on error.
func MustLoad(backend *Backend, fn nn.ModelFn, dir string) *Model {
	m, err := Load(backend, fn, dir)
	if err != nil {
		panic(err)
	}
	return m
}
