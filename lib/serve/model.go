package serve

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"time"

	"github.com/gopherdl/gopherdl/lib/train"
)

// loaded is one model as it is served: it never changes once made, and a reload
// makes a new one.
type loaded struct {
	model      *train.Model
	checkpoint string        // the epoch folder's name, e.g. "epoch-0010"
	path       string        // the epoch folder
	loadedAt   time.Time     // when it was swapped in
	loadTime   time.Duration // loading and warming up
	stamp      time.Time     // its state file's modification time
}

// CheckpointDir returns the checkpoint folder of dir: dir itself when it holds
// epoch-NNNN folders (a notebook's or train.Fit's checkpoint folder), else
// dir/checkpoints when that does (a cmd/walkthrough -out folder).
func CheckpointDir(dir string) (string, error) {
	if train.LatestCheckpoint(dir) != "" {
		return dir, nil
	}
	sub := filepath.Join(dir, "checkpoints")
	if train.LatestCheckpoint(sub) != "" {
		return sub, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("model folder: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, train.StateFile)); err == nil {
		return "", fmt.Errorf("model folder %s is one epoch's checkpoint: give the folder that holds it (%s), whose newest epoch is served", dir, filepath.Dir(dir))
	}
	return "", fmt.Errorf("model folder %s: no checkpoint (epoch-NNNN folders) in it or in %s: train a model first (make demo, or a notebook with a checkpoint folder)",
		dir, sub)
}

// loadModel loads dir's newest checkpoint and warms it up: it runs every batch size
// the batcher can ask for (powers of two up to maxBatch) and a saliency map, so
// that no request waits for a graph to compile.
func loadModel(dir string, maxBatch int) (*loaded, error) {
	start := time.Now()
	m, err := train.Load(dir)
	if err != nil {
		return nil, err
	}
	m.Config.Quiet = true
	// One request batch is one graph call: Evaluate-style batching splits at
	// Config.BatchSize and pads the last part to a power of two.
	m.Config.BatchSize = max(maxBatch, 1)
	name := train.EpochDir(len(m.History))
	blank := blankImage(m)
	imgs := make([]image.Image, 0, maxBatch)
	for n := 1; ; n *= 2 {
		n = min(n, maxBatch)
		for len(imgs) < n {
			imgs = append(imgs, blank)
		}
		if _, err := m.PredictBatch(imgs, 1); err != nil {
			return nil, fmt.Errorf("warming up %s: %w", name, err)
		}
		if n >= maxBatch {
			break
		}
	}
	if _, _, err := m.SaliencyImage(blank); err != nil {
		return nil, fmt.Errorf("warming up %s: %w", name, err)
	}
	path := filepath.Join(dir, name)
	return &loaded{model: m, checkpoint: name, path: path, loadTime: time.Since(start), stamp: stamp(path)}, nil
}

// stamp is the modification time of the state file of the checkpoint at path (zero
// when it cannot be read): a checkpoint written again under the same name (a fresh
// run that reached the same epoch) has a new one.
func stamp(path string) time.Time {
	fi, err := os.Stat(filepath.Join(path, train.StateFile))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// blankImage is a black image of the model's input size.
func blankImage(m *train.Model) image.Image {
	r := image.Rect(0, 0, m.Shape.Width, m.Shape.Height)
	if m.Shape.Channels == 1 {
		return image.NewGray(r)
	}
	return image.NewNRGBA(r)
}

// watch polls the checkpoint folder every s.cfg.Poll until the server closes, and swaps in
// its newest checkpoint when that is not the one served: a later epoch, or the same
// epoch written again (a fresh run).
func (s *Server) watch() {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	// The newest checkpoint that failed to load, and when it was written: it is not
	// tried again (nor logged again) until it changes.
	failed, failedStamp := "", time.Time{}
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		latest := train.LatestCheckpoint(s.ckptDir)
		cur := s.model.Load()
		if latest == "" || (latest == cur.path && stamp(latest).Equal(cur.stamp)) {
			continue
		}
		if latest == failed && stamp(latest).Equal(failedStamp) {
			continue
		}
		if err := s.reload(); err != nil {
			s.mon.reloads.WithLabelValues("error").Inc()
			s.log.Error("loading a newer checkpoint failed; still serving the previous one",
				"checkpoint", filepath.Base(latest), "serving", cur.checkpoint, "err", err)
			failed, failedStamp = latest, stamp(latest)
			continue
		}
		failed = ""
	}
}

// Reload loads the newest checkpoint of the model folder now and serves it from
// the next batch on (the server also does this by itself every Config.Poll when the
// folder has a newer one). On error the current model stays.
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
	l, err := loadModel(s.ckptDir, s.cfg.MaxBatch)
	if err != nil {
		return err
	}
	old := s.swap(l)
	s.mon.reloads.WithLabelValues("ok").Inc()
	msg := "switched to a newer checkpoint"
	if l.path == old.path {
		msg = "reloaded the checkpoint" // written again under its name, or Reload called
	}
	s.log.Info(msg, "checkpoint", l.checkpoint, "previous", old.checkpoint,
		"load_seconds", l.loadTime.Seconds(), "path", l.path)
	return nil
}

// swap makes l the served model and returns the previous one.
func (s *Server) swap(l *loaded) *loaded {
	l.loadedAt = time.Now()
	old := s.model.Swap(l)
	s.mon.setModel(l)
	return old
}
