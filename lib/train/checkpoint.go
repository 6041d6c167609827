package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// A checkpoint folder holds one sub-folder per saved epoch, epoch-NNNN, each with
// GoMLX's checkpoint files (all variables: weights, momentum, step, learning rate)
// and state.json: what continuing the run or using the model needs besides its
// variables (the settings and schedule, the classes, the input shape, the
// normalisation, the history, the model's layers). Only "epoch-" followed by digits
// names a checkpoint, and epochs are ordered by number (epoch-10000 after
// epoch-9999): anything else beside them (a user's epoch-0003.bak) is never loaded,
// never pruned and never counted as newer.

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

// epochDir is the name of the folder of an epoch's checkpoint (1-based) inside a
// checkpoint folder: "epoch-0007".
func epochDir(epoch int) string { return fmt.Sprintf("epoch-%04d", epoch) }

var epochName = regexp.MustCompile(`^epoch-[0-9]+$`)

// epochOf returns the epoch of a checkpoint folder's name ("epoch-0007": 7, from
// epochDir, or a path ending in it), and whether the name is one: "epoch-"
// followed by digits only.
func epochOf(name string) (epoch int, ok bool) {
	name = filepath.Base(name)
	if !epochName.MatchString(name) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(name, "epoch-"))
	return n, err == nil
}

// listEpochs returns the names of dir's checkpoint folders, the oldest epoch first.
func listEpochs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type epoch struct {
		name string
		n    int
	}
	var found []epoch
	for _, e := range entries {
		if n, ok := epochOf(e.Name()); ok && e.IsDir() {
			found = append(found, epoch{e.Name(), n})
		}
	}
	slices.SortFunc(found, func(a, b epoch) int {
		if a.n != b.n {
			return a.n - b.n
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, len(found))
	for i, e := range found {
		out[i] = e.name
	}
	return out, nil
}

// LatestCheckpoint returns the newest checkpoint folder in dir (dir/epoch-NNNN, the
// highest epoch), or "" when there is none. Load reads this one.
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

func layerNames(ls []nn.Layer) string {
	var names []string
	for _, l := range ls {
		if l.Params > 0 {
			names = append(names, fmt.Sprintf("%s %d", l.Name, l.Params))
		}
	}
	return strings.Join(names, ", ")
}
