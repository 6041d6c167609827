package serve

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/serve/api"
)

// inference is what the server asks of a loaded model. Calls may run at the same
// time, from the batcher and from explanations.
type inference interface {
	// predict returns each image's class probabilities, in class order.
	predict(imgs []image.Image) ([][]float64, error)
	// explain returns an image's class probabilities and the saliency map of its most
	// probable class (height x width values in [0, 1]).
	explain(img image.Image) (probs []float64, saliency []float32, err error)
	// close releases the model's compiled graphs and weights.
	close() error
}

// checkpoint describes the epoch folder a model was loaded from.
type checkpoint struct {
	folder  string // the epoch folder, e.g. "out/demo/checkpoints/epoch-0010"
	classes []string
	shape   data.Shape
	history []api.Epoch
	stamp   time.Time // when the folder's checkpoint was written (see source.version)
}

// source is where the server's models come from: lib/train's checkpoint folders
// (trainSource), or a wrapper of them in tests.
type source interface {
	// latest names the newest valid epoch folder of dir ("" when there is none).
	latest(dir string) string
	// version tells a checkpoint written again under the same folder name from the
	// one loaded (zero when it cannot be read).
	version(folder string) time.Time
	// load loads the newest checkpoint of dir, set to compute batches of up to
	// maxBatch images in one call.
	load(dir string, maxBatch int) (inference, checkpoint, error)
}

// loaded is one model as it is served. It never changes once made: a reload makes
// a new one. refs counts its users: one while it is the served model, one per model
// call in progress; the model is closed when the count drops to zero.
type loaded struct {
	checkpoint
	name     string // the epoch folder's name, e.g. "epoch-0010"
	model    inference
	loadedAt time.Time     // when it was swapped in
	loadTime time.Duration // loading and warming up
	refs     atomic.Int64
}

// CheckpointDir returns the checkpoint folder of dir: dir itself when it holds
// epoch-NNNN folders (a notebook's or train.Fit's checkpoint folder), else
// dir/checkpoints when that does (a cmd/walkthrough -out folder).
func CheckpointDir(dir string) (string, error) {
	return checkpointDir(trainSource{}, dir)
}

func checkpointDir(src source, dir string) (string, error) {
	if src.latest(dir) != "" {
		return dir, nil
	}
	sub := filepath.Join(dir, "checkpoints")
	if src.latest(sub) != "" {
		return sub, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("model folder: %w", err)
	}
	if !src.version(dir).IsZero() {
		return "", fmt.Errorf("model folder %s is one epoch's checkpoint: give the folder that holds it (%s), whose newest epoch is served", dir, filepath.Dir(dir))
	}
	return "", fmt.Errorf("model folder %s: no checkpoint (epoch-NNNN folders) in it or in %s: train a model first (make demo, or a notebook with a checkpoint folder)",
		dir, sub)
}

// loadModel loads dir's newest checkpoint and warms it up: it runs every batch size
// the batcher can ask for (powers of two up to maxBatch) and an explanation, so
// that no request waits for a graph to compile.
func (s *Server) loadModel() (*loaded, error) {
	start := time.Now()
	m, ck, err := s.src.load(s.ckptDir, s.cfg.MaxBatch)
	if err != nil {
		return nil, err
	}
	l := &loaded{checkpoint: ck, name: filepath.Base(ck.folder), model: m}
	l.refs.Store(1)
	s.live.Add(1)
	if err := warmUp(m, ck.shape, s.cfg.MaxBatch); err != nil {
		s.release(l)
		return nil, fmt.Errorf("warming up %s: %w", l.name, err)
	}
	l.loadTime = time.Since(start)
	return l, nil
}

func warmUp(m inference, shape data.Shape, maxBatch int) error {
	r := image.Rect(0, 0, shape.Width, shape.Height)
	var blank image.Image = image.NewNRGBA(r)
	if shape.Channels == 1 {
		blank = image.NewGray(r)
	}
	imgs := make([]image.Image, 0, maxBatch)
	for n := 1; ; n *= 2 {
		n = min(n, maxBatch)
		for len(imgs) < n {
			imgs = append(imgs, blank)
		}
		if _, err := m.predict(imgs); err != nil {
			return err
		}
		if n >= maxBatch {
			break
		}
	}
	_, _, err := m.explain(blank)
	return err
}

// acquire returns the served model, counted as in use until release; nil once the
// server is closed.
func (s *Server) acquire() *loaded {
	for {
		l := s.model.Load()
		for n := l.refs.Load(); n > 0; n = l.refs.Load() {
			if l.refs.CompareAndSwap(n, n+1) {
				return l
			}
		}
		if s.model.Load() == l {
			return nil // Close released it
		}
		// l was swapped out and closed between the load and the count: take the new one.
	}
}

// release ends one use of l, and closes its model after the last one.
func (s *Server) release(l *loaded) {
	if l.refs.Add(-1) != 0 {
		return
	}
	s.live.Add(-1)
	if err := l.model.close(); err != nil {
		s.log.Error("closing a model", "checkpoint", l.name, "err", err)
	}
}

// watch polls the checkpoint folder every s.cfg.Poll until the server closes, and
// swaps in its newest checkpoint when that is not the folder served: a later epoch,
// or the same folder written again (a fresh run).
func (s *Server) watch() {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	// The newest folder that failed to load, and its version: it is not tried again
	// (nor logged again) until it changes.
	failed, failedVersion := "", time.Time{}
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		latest := s.src.latest(s.ckptDir)
		cur := s.model.Load()
		if latest == "" || (latest == cur.folder && s.src.version(latest).Equal(cur.stamp)) {
			continue
		}
		if latest == failed && s.src.version(latest).Equal(failedVersion) {
			continue
		}
		if err := s.reload(); err != nil {
			s.mon.reloads.WithLabelValues("error").Inc()
			s.log.Error("loading a newer checkpoint failed; still serving the previous one",
				"checkpoint", filepath.Base(latest), "serving", cur.name, "err", err)
			failed, failedVersion = latest, s.src.version(latest)
			continue
		}
		failed = ""
	}
}

// Reload loads the newest checkpoint of the model folder now and serves it from
// the next model call on (the server also does this by itself every Config.Poll
// when the folder has a newer one). On error the current model stays.
func (s *Server) Reload() error {
	err := s.reload()
	if err != nil {
		s.mon.reloads.WithLabelValues("error").Inc()
	}
	return err
}

func (s *Server) reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	select {
	case <-s.stop:
		return errShuttingDown
	default:
	}
	l, err := s.loadModel()
	if err != nil {
		return err
	}
	old := s.swap(l)
	s.mon.reloads.WithLabelValues("ok").Inc()
	msg := "switched to a newer checkpoint"
	if l.folder == old.folder {
		msg = "reloaded the checkpoint" // written again under its name, or Reload called
	}
	s.log.Info(msg, "checkpoint", l.name, "previous", old.name,
		"load_seconds", l.loadTime.Seconds(), "path", l.folder)
	return nil
}

// swap makes l the served model and returns the previous one (nil at the first
// load), whose model closes after its last call.
func (s *Server) swap(l *loaded) *loaded {
	l.loadedAt = time.Now()
	old := s.model.Swap(l)
	s.mon.setModel(l)
	if old != nil {
		s.release(old)
	}
	return old
}
