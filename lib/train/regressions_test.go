package train

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// tinyData is 64 synthetic 1x8x8 images in two classes: runs of a second or less.
func tinyData() *data.Dataset {
	d := data.Synthetic(64, 8, 8, 1, []string{"a", "b"})
	for i := range d.Labels {
		d.Labels[i] = int32(i % 2)
	}
	return d
}

func tinyModel(t *testing.T, cfg Config) *Model {
	cfg.BatchSize = 32
	m := New(nn.Net(2), cfg)
	m.Backend = goBackend(t)
	return m
}

// tinyRun trains a tiny model for epochs with checkpoints in a new folder, and
// returns the model, its folder and its data.
func tinyRun(t *testing.T, epochs int) (*Model, string, *data.Dataset) {
	t.Helper()
	d := tinyData()
	cfg := quickConfig(epochs)
	cfg.CheckpointDir = t.TempDir()
	m := tinyModel(t, cfg)
	if _, err := m.Fit(context.Background(), d, d); err != nil {
		t.Fatal(err)
	}
	return m, cfg.CheckpointDir, d
}

// rewriteState edits a checkpoint's state.json, as a run that went otherwise would
// have written it.
func rewriteState(t *testing.T, folder string, edit func(st map[string]any)) {
	p := filepath.Join(folder, StateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	b, _ = json.Marshal(st)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOnEpochMayUseTheModel(t *testing.T) {
	d := tinyData()
	m := tinyModel(t, quickConfig(2))
	done := make(chan error, 1)
	evaluated := 0
	go func() {
		_, err := m.Fit(context.Background(), d, d, func([]metrics.Epoch) {
			if _, err := m.Evaluate(d); err == nil {
				evaluated++
			}
		})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil || evaluated != 2 {
			t.Errorf("Fit: %v, %d evaluations from the callback; want 2", err, evaluated)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Fit whose onEpoch calls m.Evaluate is still blocked after 60 s")
	}
}

func TestSaveKeepsWhatItWrote(t *testing.T) {
	d := tinyData()
	m := tinyModel(t, quickConfig(1))
	if _, err := m.Evaluate(d); err != nil { // binds classes and shape
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "epoch-0003"), 0o755) // an older, longer run in the same folder
	os.MkdirAll(filepath.Join(dir, "epoch-0004"), 0o755)
	m.History = []metrics.Epoch{{Epoch: 1, EvalLoss: 1}}
	for _, keep := range []int{2, 0, -1} {
		m.Config.KeepCheckpoints = keep
		if err := m.Save(dir); err != nil {
			t.Fatalf("KeepCheckpoints %d: %v", keep, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "epoch-0001", StateFile)); err != nil {
			t.Errorf("KeepCheckpoints %d: the checkpoint just written was pruned", keep)
		}
	}
}

func TestMostConfidentlyWrongOfNone(t *testing.T) {
	ev := &Evaluation{Labels: []int32{0}, Predictions: []int32{1}, Confidence: []float32{.5}}
	if got := ev.MostConfidentlyWrong(-1); len(got) != 0 {
		t.Errorf("MostConfidentlyWrong(-1) = %v", got)
	}
}

func TestAnEarlyStopStays(t *testing.T) {
	m, dir, d := tinyRun(t, 2)
	cfg := m.Config
	// Make the saved run one that stopped early: best epoch 1, epoch 2 worse.
	rewriteState(t, filepath.Join(dir, "epoch-0002"), func(st map[string]any) {
		st["best_epoch"] = 1
		st["history"].([]any)[0].(map[string]any)["eval_loss"] = 0.0
	})
	cfg.Epochs, cfg.Patience = 10, 1
	m = tinyModel(t, cfg) // the notebook cell run again: same folder, same settings
	h, err := m.Fit(context.Background(), d, d)
	if err != nil || len(h) != 2 {
		t.Errorf("re-run of a run stopped early: %d epochs, %v; want the 2 it had", len(h), err)
	}
	h, err = m.FitMore(context.Background(), 1, d, d)
	if err != nil || len(h) != 3 {
		t.Errorf("FitMore(1) after an early stop: %d epochs, %v; want 3", len(h), err)
	}
}

func TestFitMoreCountsFromTheResumedRun(t *testing.T) {
	m, _, d := tinyRun(t, 3)
	h, err := tinyModel(t, m.Config).FitMore(context.Background(), 2, d, d)
	if err != nil || len(h) != 5 {
		t.Errorf("a new model on a folder of 3 epochs, FitMore(2): %d epochs, %v; want 5", len(h), err)
	}
}

func TestLoadBestTrainsOnFromTheBest(t *testing.T) {
	d := tinyData()
	dir := t.TempDir()
	cfg := quickConfig(3)
	cfg.CheckpointDir, cfg.KeepCheckpoints = dir, 10
	if _, err := tinyModel(t, cfg).Fit(context.Background(), d, d); err != nil {
		t.Fatal(err)
	}
	rewriteState(t, filepath.Join(dir, "epoch-0003"), func(st map[string]any) { st["best_epoch"] = 1 })
	best, err := LoadBest(dir)
	if err != nil {
		t.Fatal(err)
	}
	best.Backend, best.Config.Quiet = goBackend(t), true
	h, err := best.FitMore(context.Background(), 1, d, d)
	if err != nil || len(h) != 2 {
		t.Errorf("FitMore(1) from the best epoch (1): %d epochs, %v; want 2, not a jump to the newest checkpoint", len(h), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "epoch-0003")); err != nil {
		t.Errorf("training on from the best epoch touched the run's folder: %v", err)
	}
}

func TestScheduleRatesAreChecked(t *testing.T) {
	d := tinyData()
	cfg := quickConfig(2)
	cfg.Schedule = fallingRate{}
	_, err := tinyModel(t, cfg).Fit(context.Background(), d, d)
	if err == nil || !strings.Contains(err.Error(), "epoch 2: the schedule gives the learning rate 0") {
		t.Errorf("a schedule reaching 0: %v", err)
	}
}

func TestClassNamesMustMatch(t *testing.T) {
	d := tinyData()
	m := tinyModel(t, quickConfig(1))
	if _, err := m.Fit(context.Background(), d, d); err != nil {
		t.Fatal(err)
	}
	other := tinyData()
	other.Classes = []string{"b", "a"}
	if _, err := m.Evaluate(other); err == nil || !strings.Contains(err.Error(), "would not mean the same") {
		t.Errorf("evaluating on swapped classes: %v", err)
	}
}

func TestEvalStepOfAHandMadeBatch(t *testing.T) {
	d := tinyData()
	m := tinyModel(t, quickConfig(1))
	if _, err := m.Evaluate(d); err != nil {
		t.Fatal(err)
	}
	l := data.NewLoader(d, 8, false)
	for b := range l.Batches() {
		b.Indices = nil
		logp, err := m.EvalStep(b)
		if err != nil || len(logp) != 8*2 {
			t.Errorf("EvalStep without Indices: %d values, %v; want 16", len(logp), err)
		}
		break
	}
}

// fallingRate is a custom Schedule that reaches 0 at epoch 2.
type fallingRate struct{}

func (fallingRate) LR(e int) float64 { return 0.01 - 0.01*float64(e) }
