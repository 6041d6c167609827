package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gopherdl/gopherdl/lib/backend"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/nn"
)

func goBackend(t testing.TB) *backend.Backend {
	b, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newModel returns the article's Net for 10 classes on a Go backend of its own.
func newModel(t testing.TB, cfg Config) *Model {
	m := New(nn.Net(10), cfg)
	m.Backend = goBackend(t)
	return m
}

// TestSGDMatchesPyTorchFormula checks two steps of SGD with momentum 0.9 and weight
// decay 0.01 at lr 0.1 on loss = sum(w^2)/2 (gradient w), computed by hand:
//
//	step 1: g = 1.01 w, v = g, w1 = w - 0.1 v = 0.899 w
//	step 2: g = 1.01 w1, v = 0.9*1.01 w + 1.01*0.899 w = 1.81699 w, w2 = w1 - 0.1 v = 0.717301 w
func TestSGDMatchesPyTorchFormula(t *testing.T) {
	b := goBackend(t)
	store := model.NewStore()
	opt := &sgd{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}
	exec, err := model.NewExec(b.Compute, store, func(scope *model.Scope, g *graph.Graph) *graph.Node {
		// A training graph, as GoMLX's Trainer builds it: otherwise a backend that
		// prefers constants would freeze w at its first value.
		store.SetTraining(g, true)
		w := scope.VariableWithValue("w", []float32{1, 2}).NodeValue(g)
		loss := graph.DivScalar(graph.ReduceAllSum(graph.Square(w)), 2)
		opt.UpdateGraph(scope, g, loss)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := exec.Call(); err != nil {
			t.Fatal(err)
		}
	}
	got := tensors.MustCopyFlatData[float32](store.GetVariable("/w").MustValue())
	for i, w0 := range []float64{1, 2} {
		if want := 0.717301 * w0; math.Abs(float64(got[i])-want) > 1e-5 {
			t.Errorf("w[%d] = %g after two steps, want %g", i, got[i], want)
		}
	}
}

func TestSchedules(t *testing.T) {
	s := StepLR{Base: 0.01, StepSize: 7, Gamma: 0.1}
	for e, want := range []float64{0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.0001} {
		if got := s.LR(e); math.Abs(got-want) > 1e-12 {
			t.Errorf("StepLR epoch %d: %g, want %g", e, got, want)
		}
	}
	c := Cosine{Base: 0.1, Min: 0, Epochs: 4}
	if c.LR(0) != 0.1 || math.Abs(c.LR(2)-0.05) > 1e-12 || math.Abs(c.LR(4)) > 1e-12 {
		t.Errorf("cosine: %g %g %g", c.LR(0), c.LR(2), c.LR(4))
	}
}

func small(t testing.TB) (*data.Dataset, *data.Dataset) {
	tr, te := embedded.MustLoad()
	idx := make([]int, 0, 1000)
	for i := range 1000 {
		idx = append(idx, i*6) // spread over all classes
	}
	return tr.Subset("small/train", idx), te.Head(300)
}

func quickConfig(epochs int) Config {
	cfg := DefaultConfig()
	cfg.Epochs = epochs
	cfg.LR, cfg.Momentum, cfg.Normalize = 0.05, 0.9, true
	cfg.Quiet = true
	return cfg
}

func TestFitLearnsAndRepeats(t *testing.T) {
	tr, te := small(t)
	m := newModel(t, quickConfig(2))
	h, err := m.Fit(context.Background(), tr, te)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[1].TrainLoss >= h[0].TrainLoss || h[1].EvalAccuracy < 0.5 {
		t.Fatalf("history %+v: want 2 epochs, falling loss, accuracy >= 50%%", h)
	}
	m2 := newModel(t, quickConfig(2))
	h2, err := m2.Fit(context.Background(), tr, te)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h {
		if h[i].TrainLoss != h2[i].TrainLoss || h[i].EvalAccuracy != h2[i].EvalAccuracy {
			t.Errorf("epoch %d differs between two runs with one seed: %+v vs %+v", i+1, h[i], h2[i])
		}
	}
	ev, err := m.Evaluate(te)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Report.Accuracy != h[1].EvalAccuracy || math.Abs(ev.Loss-h[1].EvalLoss) > 1e-9 || len(ev.Predictions) != te.Len() {
		t.Errorf("Evaluate gives accuracy %g loss %g, history says %g %g", ev.Report.Accuracy, ev.Loss, h[1].EvalAccuracy, h[1].EvalLoss)
	}
	wrong := ev.MostConfidentlyWrong(5)
	for i, idx := range wrong {
		if ev.Labels[idx] == ev.Predictions[idx] || (i > 0 && ev.Confidence[idx] > ev.Confidence[wrong[i-1]]) {
			t.Errorf("MostConfidentlyWrong %v: image %d is right or out of order", wrong, idx)
		}
	}
	maps, preds, err := m.Saliency(te, []int{0, 1, 2})
	if err != nil || len(maps) != 3 || len(maps[0]) != 28*28 || len(preds) != 3 {
		t.Fatalf("saliency: %v", err)
	}
	for i := range 3 {
		if preds[i] != ev.Predictions[i] {
			t.Errorf("saliency prediction %d = %d, evaluation says %d", i, preds[i], ev.Predictions[i])
		}
		peak := float32(0)
		for _, v := range maps[i] {
			peak = max(peak, v)
		}
		if peak != 1 {
			t.Errorf("saliency map %d peaks at %g, want 1", i, peak)
		}
	}
}

func TestCheckpointResumeAndLoad(t *testing.T) {
	tr, te := small(t)
	dir := t.TempDir()
	cfg := quickConfig(1)
	cfg.CheckpointDir = dir
	m := newModel(t, cfg)
	h1, err := m.Fit(context.Background(), tr, te)
	if err != nil {
		t.Fatal(err)
	}
	if LatestCheckpoint(dir) != filepath.Join(dir, "epoch-0001") {
		t.Fatalf("latest checkpoint %q", LatestCheckpoint(dir))
	}
	// A new model (a second run, or a later notebook cell) continues.
	cfg.Epochs = 3
	m2 := newModel(t, cfg)
	h2, err := m2.Fit(context.Background(), tr, te)
	if err != nil {
		t.Fatal(err)
	}
	if len(h2) != 3 || h2[0] != h1[0] {
		t.Fatalf("resumed history %+v, want 3 epochs starting with %+v", h2, h1[0])
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "epoch-0002,epoch-0003" {
		t.Errorf("checkpoint folder holds %v, want the last two epochs and no temporary folder", names)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := loaded.Evaluate(te)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Report.Accuracy != h2[2].EvalAccuracy {
		t.Errorf("loaded model: accuracy %g, the trained one had %g", ev.Report.Accuracy, h2[2].EvalAccuracy)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestDivergenceStopsWithAClearMessage(t *testing.T) {
	tr, te := small(t)
	cfg := quickConfig(3)
	cfg.LR, cfg.Momentum = 1e4, 0.9
	cfg.CheckpointDir = t.TempDir()
	m := newModel(t, cfg)
	_, err := m.Fit(context.Background(), tr, te)
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "lower the learning rate") {
		t.Fatalf("error %v: want ErrDiverged with advice", err)
	}
}

func TestInterruptKeepsTheLastCheckpoint(t *testing.T) {
	tr, te := small(t)
	cfg := quickConfig(3)
	cfg.CheckpointDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	m := newModel(t, cfg)
	h, err := m.Fit(ctx, tr, te, func([]metrics.Epoch) { cancel() })
	if !errors.Is(err, ErrInterrupted) || len(h) != 1 {
		t.Fatalf("error %v after %d epochs: want ErrInterrupted after 1", err, len(h))
	}
	if !strings.Contains(err.Error(), "checkpoint of epoch 1 is kept") || LatestCheckpoint(cfg.CheckpointDir) == "" {
		t.Errorf("error %q: want the kept checkpoint named", err)
	}
}

func TestFitRejectsMismatchedData(t *testing.T) {
	tr, _ := small(t)
	rgb := &data.Dataset{Name: "rgb", Height: 32, Width: 32, Channels: 3, Classes: datasets.CIFAR10Classes(),
		Pixels: make([]uint8, 32*32*3), Labels: []int32{0}}
	m := newModel(t, quickConfig(1))
	if _, err := m.Fit(context.Background(), tr, rgb); err == nil || !strings.Contains(err.Error(), `"rgb" has 3x32x32 images`) {
		t.Errorf("mismatched test set: %v", err)
	}
}

// TestEvaluationSeesCurrentWeights evaluates, trains, then evaluates and takes
// saliency maps again with the same compiled graphs: the second results must follow
// the new weights. GoMLX embeds variables as constants in inference graphs on
// backends that prefer it (the pure-Go one); weightsAsParameters prevents that.
func TestEvaluationSeesCurrentWeights(t *testing.T) {
	tr, te := small(t)
	te = te.Head(100)
	m := newModel(t, quickConfig(1))
	// Train first: the variables then hold values when the inference graphs are built.
	if _, err := m.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	before, err := m.Evaluate(te)
	if err != nil {
		t.Fatal(err)
	}
	mapsBefore, _, err := m.Saliency(te, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	exec := m.execs.infer
	salExec := m.execs.saliency
	m.Config.Epochs = 2
	if _, err := m.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	after, err := m.Evaluate(te)
	if err != nil {
		t.Fatal(err)
	}
	if m.execs.infer != exec || m.execs.saliency != salExec {
		t.Errorf("the evaluation or saliency graph was rebuilt after training; want them reused")
	}
	if math.Abs(after.Loss-before.Loss) < 1e-4 || after.Loss != m.History[1].EvalLoss {
		t.Errorf("test loss %g after epoch 1, %g after epoch 2 (history: %g): evaluation did not see the trained weights",
			before.Loss, after.Loss, m.History[1].EvalLoss)
	}
	mapsAfter, _, err := m.Saliency(te, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for i := range mapsBefore[0] {
		same = same && mapsBefore[0][i] == mapsAfter[0][i]
	}
	if same {
		t.Errorf("the saliency map did not change with training")
	}
}
