package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
)

// Save writes the model's variables and state to dir/epoch-NNNN (NNNN: the epochs
// trained), then removes older epoch folders, keeping the newest
// Config.KeepCheckpoints, the one just written and the best epoch's.
//
// The folder is written under a temporary name, flushed to disk and swapped in
// whole: a crash or a power loss leaves the previous checkpoint or the new one,
// never part of one. A folder written again under its name (a fresh run reaching
// the same epoch) is replaced in one step on Linux, so a reader always finds it.
// Saves into one folder take turns, across processes too.
func (m *Model) Save(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("saving a checkpoint in %s: %w", dir, ErrClosed)
	}
	return m.save(dir)
}

// tmpPrefix starts the names of the folders a save works in. A save that dies
// leaves them behind; the next save, which holds the folder's lock, removes them.
const tmpPrefix = ".saving-"

func (m *Model) save(dir string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("saving a checkpoint in %s: %w", dir, err)
		}
	}()
	if m.Classes == nil {
		return errNotReady
	}
	layers, err := m.layers()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := atomicfile.LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	removeLeftovers(dir)
	name := epochDir(len(m.History))
	tmp, err := os.MkdirTemp(dir, tmpPrefix+name+"-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a failed save's folder
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := writeVariables(m.store, tmp); err != nil {
		return err
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
	if err := atomicfile.ReplaceDir(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	m.prune(dir)
	return nil
}

// writeVariables saves the store's variables into folder as GoMLX's checkpoint
// files. GoMLX's Done attaches every handler it builds to the store, as its variable
// loader chained before the previous one; the store gets its own loader back, so
// saves do not pile up handlers (a save's handler has nothing to load).
func writeVariables(store *model.Store, folder string) error {
	prev := store.Loader()
	defer store.SetLoader(prev)
	h, err := checkpoint.Build(store).Dir(folder).Done()
	if err != nil {
		return err
	}
	return h.Save()
}

// readVariables loads folder's GoMLX checkpoint files into the store, all at once,
// so the handler is left empty and the store keeps its own loader (see
// writeVariables).
func readVariables(store *model.Store, folder string) error {
	prev := store.Loader()
	defer store.SetLoader(prev)
	_, err := checkpoint.Load(store).Dir(folder).Immediate().Done()
	return err
}

// prune removes the epoch folders a save does not keep: all but the newest
// Config.KeepCheckpoints, the one just written and the best epoch's. Each is renamed
// aside first, so that a crash never leaves half of one under an epoch name; what
// cannot be removed now is removed by a later save. GoMLX's checkpoint.Config.Keep
// does not fit: it counts GoMLX's own files inside one folder and cannot spare the
// best epoch, while a checkpoint here is a whole epoch folder with its state.json.
func (m *Model) prune(dir string) {
	epochs, err := listEpochs(dir)
	if err != nil {
		return
	}
	for _, e := range epochs[:max(len(epochs)-m.Config.keep(), 0)] {
		if n, _ := epochOf(e); n == len(m.History) || n == m.bestEpoch {
			continue
		}
		aside := filepath.Join(dir, tmpPrefix+"pruned-"+e)
		if os.Rename(filepath.Join(dir, e), aside) == nil {
			os.RemoveAll(aside)
		}
	}
}

// removeLeftovers removes the working folders of saves that died.
func removeLeftovers(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
