package train

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
)

func TestPredictAgreesWithEvaluate(t *testing.T) {
	tr, te := small(t)
	te = te.Head(20)
	m := newModel(t, quickConfig(1))
	if _, err := m.Predict(te.ToImage(0), 3); !errors.Is(err, errNotReady) {
		t.Errorf("Predict before training: %v; want errNotReady", err)
	}
	if _, err := m.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	ev, err := m.Evaluate(te)
	if err != nil {
		t.Fatal(err)
	}
	if p, c := ev.At([]int{3, 0, 99}); p[0] != ev.Predictions[3] || c[1] != ev.Confidence[0] || p[2] != -1 {
		t.Errorf("At: %v %v", p, c)
	}
	top3, err := m.Predict(te.ToImage(3), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(top3) != 3 || top3[0].Probability < top3[1].Probability || top3[1].Probability < top3[2].Probability {
		t.Fatalf("top 3 %v: want 3 classes, most probable first", top3)
	}
	if top3[0].Index != int(ev.Predictions[3]) || top3[0].Class != te.Classes[ev.Predictions[3]] ||
		math.Abs(top3[0].Probability-float64(ev.Confidence[3])) > 1e-5 {
		t.Errorf("Predict says %v; Evaluate says class %d with %g", top3[0], ev.Predictions[3], ev.Confidence[3])
	}
	// A file, resized and colour: prepared as the training images were.
	path := filepath.Join(t.TempDir(), "shoe.png")
	f, _ := os.Create(path)
	png.Encode(f, te.ToImage(3))
	f.Close()
	fromFile, err := m.PredictFile(path, 0)
	if err != nil || len(fromFile) != 10 || fromFile[0].Index != top3[0].Index {
		t.Errorf("PredictFile: %v %v; want all 10 classes, the same best class", fromFile, err)
	}
	sum := 0.0
	for _, p := range fromFile {
		sum += p.Probability
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Errorf("probabilities sum to %g", sum)
	}
	// Several at once, with a batch size the graph has not seen (padded).
	imgs := []image.Image{te.ToImage(0), te.ToImage(1), te.ToImage(2)}
	batch, err := m.PredictBatch(imgs, 1)
	if err != nil || len(batch) != 3 {
		t.Fatalf("PredictBatch: %v", err)
	}
	for i := range batch {
		if batch[i][0].Index != int(ev.Predictions[i]) {
			t.Errorf("image %d: PredictBatch says %v, Evaluate %d", i, batch[i], ev.Predictions[i])
		}
	}
	if _, err := m.PredictFile(filepath.Join(t.TempDir(), "missing.png"), 1); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: %v", err)
	}
	sal, pred, err := m.SaliencyImage(te.ToImage(3))
	if err != nil || len(sal) != 28*28 || pred != top3[0].Index {
		t.Errorf("SaliencyImage: %d values, class %d, %v", len(sal), pred, err)
	}
}

func TestFitMoreAndSettingsThatChange(t *testing.T) {
	tr, te := small(t)
	tr = tr.Head(400)
	// Momentum switched on for the second epoch changes the second epoch, as it
	// would in PyTorch; the first build of the training graph must not freeze it.
	a := newModel(t, quickConfig(1))
	a.Config.Momentum = 0
	b := newModel(t, quickConfig(1))
	b.Config.Momentum = 0
	for _, m := range []*Model{a, b} {
		if _, err := m.Fit(context.Background(), tr, te); err != nil {
			t.Fatal(err)
		}
	}
	a.Config.Momentum = 0.9
	ha, err := a.FitMore(context.Background(), 1, tr, te)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := b.FitMore(context.Background(), 1, tr, te)
	if err != nil {
		t.Fatal(err)
	}
	if len(ha) != 2 || a.Config.Epochs != 2 {
		t.Fatalf("FitMore(1) after 1 epoch: %d epochs, Config.Epochs %d; want 2", len(ha), a.Config.Epochs)
	}
	if ha[1].TrainLoss == hb[1].TrainLoss {
		t.Errorf("momentum set before epoch 2 was ignored: epoch 2 loss %g with it and without", ha[1].TrainLoss)
	}
	if _, err := a.FitMore(context.Background(), 0, tr, te); err == nil {
		t.Error("FitMore(0) accepted")
	}
}

func TestCheckpointKeepsTheSchedule(t *testing.T) {
	tr, te := small(t)
	tr = tr.Head(300)
	dir := t.TempDir()
	cfg := quickConfig(1)
	cfg.Schedule = Cosine{Base: 0.05, Min: 0, Epochs: 4}
	cfg.CheckpointDir = dir
	m := newModel(t, cfg)
	if _, err := m.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Backend = goBackend(t)
	loaded.Config.Quiet = true
	h, err := loaded.FitMore(context.Background(), 1, tr, te)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Cosine{Base: 0.05, Min: 0, Epochs: 4}).LR(1); math.Abs(h[1].LR-want) > 1e-12 {
		t.Errorf("epoch 2 after Load ran at lr %g; the saved cosine schedule says %g", h[1].LR, want)
	}

	// A run resumed with other settings says which; one with other inputs is refused.
	var log bytes.Buffer
	cfg2 := quickConfig(3)
	cfg2.Schedule = Cosine{Base: 0.05, Min: 0, Epochs: 4}
	cfg2.CheckpointDir, cfg2.Quiet, cfg2.Log = dir, false, &log
	cfg2.Momentum = 0.5
	m2 := newModel(t, cfg2)
	if _, err := m2.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming from") || !strings.Contains(log.String(), "continuing with momentum 0.9 → 0.5") {
		t.Errorf("resume log %q: want the changed momentum named", log.String())
	}
	// A loaded model whose settings are changed by hand says so too, and so does the
	// name of the run.
	var log2 bytes.Buffer
	l2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	l2.Backend = goBackend(t)
	l2.Config.Log, l2.Config.Name, l2.Config.WeightDecay = &log2, "with weight decay", 1e-4
	if _, err := l2.FitMore(context.Background(), 1, tr, te); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(log2.String(), "with weight decay\n") || !strings.Contains(log2.String(), "weight decay 0 → 0.0001") {
		t.Errorf("log after Load and a change %q: want the run's name, then the change named", log2.String())
	}
	cfg3 := cfg2
	cfg3.Normalize, cfg3.Epochs, cfg3.Log = false, 5, nil
	m3 := newModel(t, cfg3)
	if _, err := m3.Fit(context.Background(), tr, te); err == nil || !strings.Contains(err.Error(), "Normalize true") {
		t.Errorf("resume with Normalize changed: %v; want a refusal naming it", err)
	}

	// A Schedule type of one's own cannot be saved: continuing needs it set again.
	fdir := t.TempDir()
	cfg4 := quickConfig(1)
	cfg4.Schedule = fixedRate{}
	cfg4.CheckpointDir = fdir
	if _, err := newModel(t, cfg4).Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	l4, err := Load(fdir)
	if err != nil {
		t.Fatal(err)
	}
	l4.Config.Quiet = true
	if _, err := l4.FitMore(context.Background(), 1, tr, te); err == nil || !strings.Contains(err.Error(), "custom schedule") {
		t.Errorf("continuing a custom schedule run without it: %v", err)
	}
}

func TestBadDataIsRefusedBeforeTraining(t *testing.T) {
	tr, te := small(t)
	var oneClass []int
	for i, l := range tr.Labels {
		if l == 7 {
			oneClass = append(oneClass, i)
		}
	}
	missing := make([]int, 0, tr.Len())
	for i, l := range tr.Labels {
		if l != 3 {
			missing = append(missing, i)
		}
	}
	for _, tc := range []struct {
		name        string
		train, eval *data.Dataset
		want        string
	}{
		{"one class", tr.Subset("sneakers", oneClass), te, `"sneakers" has images of 1 class(es)`},
		{"a class with no images", tr.Subset("no dresses", missing), te, "has no images of Dress"},
		{"empty evaluation set", tr, te.Subset("nothing", nil), `"nothing" is empty`},
	} {
		m := newModel(t, quickConfig(1))
		_, err := m.Fit(context.Background(), tc.train, tc.eval)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(m.History) > 0 {
			t.Errorf("%s: %v after %d epochs; want %q before training", tc.name, err, len(m.History), tc.want)
		}
		if tc.name == "a class with no images" && !strings.Contains(err.Error(), "Dress 0") {
			t.Errorf("%s: %v; want the counts per class", tc.name, err)
		}
	}
}

func TestEarlyStoppingKeepsTheBestCheckpoint(t *testing.T) {
	tr, _ := small(t)
	tr = tr.Head(300)
	// Evaluated on its own images with every label shifted by one class, the model
	// gets worse as it learns the true labels: the evaluation loss soon rises for good.
	shifted := tr.Subset("shifted", nil)
	shifted.Pixels = tr.Pixels
	for _, l := range tr.Labels {
		shifted.Labels = append(shifted.Labels, (l+1)%10)
	}
	cfg := quickConfig(30)
	cfg.Patience, cfg.CheckpointDir = 2, t.TempDir()
	m := newModel(t, cfg)
	h, err := m.Fit(context.Background(), tr, shifted)
	if err != nil {
		t.Fatal(err)
	}
	best := 0
	for i, e := range h {
		if e.EvalLoss < h[best].EvalLoss {
			best = i
		}
	}
	if len(h) == 30 || len(h)-1-best != cfg.Patience {
		t.Fatalf("stopped after %d epochs, best epoch %d: want a stop %d epochs after the best", len(h), best+1, cfg.Patience)
	}
	bm, err := LoadBest(cfg.CheckpointDir)
	if err != nil {
		t.Fatal(err)
	}
	bm.Backend = goBackend(t)
	if len(bm.History) != best+1 {
		t.Errorf("LoadBest gave the model after epoch %d, want %d", len(bm.History), best+1)
	}
	ev, err := bm.Evaluate(shifted)
	if err != nil || math.Abs(ev.Loss-h[best].EvalLoss) > 1e-6 {
		t.Errorf("the best checkpoint evaluates to %g, its epoch said %g (%v)", ev.Loss, h[best].EvalLoss, err)
	}
}

func TestLoadRefusesAnotherArchitecture(t *testing.T) {
	tr, te := small(t)
	dir := t.TempDir()
	small := func(scope *nn.Scope, x *nn.Node) *nn.Node {
		return nn.Linear(scope.In("fc"), nn.Flatten(x), 10)
	}
	cfg := quickConfig(1)
	cfg.CheckpointDir = dir
	m := New(small, cfg)
	m.Backend = goBackend(t)
	if _, err := m.Fit(context.Background(), tr.Head(200), te); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "train.Load(dir, MyNet)") {
		t.Errorf("Load of a model other than Net: %v", err)
	}
	if _, err := Load(dir, small); err != nil {
		t.Errorf("Load with its function: %v", err)
	}
}

// TestFitInstallsNoSignalHandler runs Fit in a child process and interrupts it: the
// library must not catch the signal (the child dies of it); only a context the
// caller asks for (nb.Context, signal.NotifyContext) turns Ctrl-C into ErrInterrupted.
func TestFitInstallsNoSignalHandler(t *testing.T) {
	if os.Getenv("GOPHERDL_FIT_CHILD") == "1" {
		tr, te := small(t)
		m := newModel(t, quickConfig(1000))
		os.Stdout.WriteString("fitting\n")
		_, err := m.Fit(context.Background(), tr, te)
		os.Stdout.WriteString("Fit returned: " + err.Error() + "\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFitInstallsNoSignalHandler$")
	cmd.Env = append(os.Environ(), "GOPHERDL_FIT_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "fitting" {
	}
	time.Sleep(2 * time.Second) // well into training
	cmd.Process.Signal(os.Interrupt)
	rest := ""
	for sc.Scan() {
		rest += sc.Text() + "\n"
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		t.Errorf("the interrupted child ended with %v, output %q: want it killed by SIGINT, the library catching nothing", err, rest)
	}
}

func TestRecoveredPanicsKeepTheirCause(t *testing.T) {
	err := recovered(fmt.Errorf("building: %w", os.ErrNotExist), "training")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v lost its cause", err)
	}
	if _, err := scalar(tensors.FromScalar(int32(3))); err == nil || !strings.Contains(err.Error(), "want a float32 or float64 scalar") {
		t.Errorf("an int32 scalar read as a loss: %v; want an error, not a NaN taken for divergence", err)
	}
	if v, err := scalar(tensors.FromScalar(float32(0.5))); err != nil || v != 0.5 {
		t.Errorf("scalar(0.5) = %v, %v", v, err)
	}
}

// fixedRate is a custom Schedule, one that checkpoints cannot hold.
type fixedRate struct{}

func (fixedRate) LR(int) float64 { return 0.01 }
