package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/onnx"
)

// needs skips the test for lack of what, saying how to install it, except in CI
// (CI=true), where it fails.
func needs(t *testing.T, err error, install string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error() + ": " + install
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// python3 is Debian's Python, which has the apt packages (torch, onnx).
const python3 = "/usr/bin/python3"

// needsPython skips (fails in CI) unless Debian's Python imports module.
func needsPython(t *testing.T, module, pkg string) {
	t.Helper()
	err := exec.Command(python3, "-c", "import "+module).Run()
	if err != nil {
		err = errors.New("no " + module + " in " + python3)
	}
	needs(t, err, "apt-get install "+pkg)
}

// exported trains a small model with Normalize on the embedded data and exports it.
func exported(t *testing.T) (*Model, string, *data.Dataset) {
	trainDS, testDS := small(t)
	m := newModel(t, quickConfig(1))
	if _, err := m.Fit(context.Background(), trainDS, testDS); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := m.ExportONNX(path); err != nil {
		t.Fatal(err)
	}
	return m, path, testDS
}

// TestExportONNXIsValidAndRoundTrips exports a model with Normalize: onnx.checker
// accepts the file, ONNX Runtime gives Evaluate's probabilities, and a model started
// from the file (Config.Init) gives them too.
func TestExportONNXIsValidAndRoundTrips(t *testing.T) {
	m, path, testDS := exported(t)
	want, err := m.Evaluate(testDS)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("checker", func(t *testing.T) {
		needsPython(t, "onnx", "python3-onnx")
		out, err := exec.Command(python3, "-c", "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True); print('ok')", path).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("onnx.checker refuses %s: %v\n%s", path, err, out)
		}
	})
	t.Run("onnxruntime", func(t *testing.T) {
		n := 50
		input, dims := nchwOf(testDS, n)
		got, _, err := onnx.RunNode(path, input, dims)
		if errors.Is(err, onnx.ErrNoRuntime) {
			needs(t, err, "make npm")
		}
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(got, want.Probabilities[:n]); d > 1e-4 {
			t.Errorf("ONNX Runtime vs Evaluate: max probability difference %.3g, want <= 1e-4", d)
		}
	})
	t.Run("import", func(t *testing.T) {
		cfg := quickConfig(1)
		cfg.Normalize, cfg.Init = false, path // the file's normalisation wins
		back := newModel(t, cfg)
		got, err := back.Evaluate(testDS)
		if err != nil {
			t.Fatal(err)
		}
		if back.Norm == nil || !back.Config.Normalize {
			t.Errorf("imported model: Norm %v, Normalize %v: want the file's normalisation", back.Norm, back.Config.Normalize)
		}
		var flat []float32
		for _, p := range got.Probabilities {
			flat = append(flat, p...)
		}
		if d := maxDiff(flat, want.Probabilities); d > 1e-5 {
			t.Errorf("re-imported model: max probability difference %.3g, want <= 1e-5", d)
		}
	})
}

// nchwOf returns d's first n images as float32 [n, c, h, w] in [0, 1].
func nchwOf(d *data.Dataset, n int) ([]float32, []int) {
	h, w, c := d.Height, d.Width, d.Channels
	out := make([]float32, 0, n*c*h*w)
	for i := range n {
		px := d.Pixels[i*h*w*c : (i+1)*h*w*c]
		for ch := range c {
			for p := range h * w {
				out = append(out, float32(px[p*c+ch])/255)
			}
		}
	}
	return out, []int{n, c, h, w}
}

// maxDiff is the largest |got - want| over want's rows laid end to end.
func maxDiff(got []float32, want [][]float32) float64 {
	worst, i := 0.0, 0
	for _, row := range want {
		for _, v := range row {
			if i >= len(got) {
				return math.Inf(1)
			}
			worst = math.Max(worst, math.Abs(float64(got[i]-v)))
			i++
		}
	}
	return worst
}

// torchModels runs tools/torch_onnx.py once: the article's CNN trained in PyTorch
// for one epoch on 5,000 Fashion-MNIST images, exported by torch.onnx.export.
func torchModels(t *testing.T) (dir string, correct int, preds []int) {
	needsPython(t, "torch", "python3-torch")
	dir = t.TempDir()
	start := time.Now()
	cmd := exec.Command(python3, "../../tools/torch_onnx.py", "--out", dir, "--train", "5000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tools/torch_onnx.py: %v\n%s", err, out)
	}
	var res struct {
		Correct     int   `json:"correct"`
		Predictions []int `json:"predictions"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "torch.json"))
	if err == nil {
		err = json.Unmarshal(b, &res)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PyTorch: %d/10000 correct (trained and exported in %s)", res.Correct, time.Since(start).Round(time.Second))
	return dir, res.Correct, res.Predictions
}

// xlaImages bounds the test images the XLA formulation evaluates: on the pure-Go
// backend its convolution is a plain loop, minutes for all 10,000.
// GOPHERDL_ONNX_XLA_IMAGES=10000 runs them all.
func xlaImages() int {
	if n, err := strconv.Atoi(os.Getenv("GOPHERDL_ONNX_XLA_IMAGES")); err == nil && n > 0 {
		return min(n, 10000)
	}
	return 1000
}

// TestImportPyTorch brings PyTorch's model in (with and without its final
// log_softmax) and evaluates it: the grid formulation on all 10,000 test images
// within 5 of PyTorch's count, the XLA formulation on the first xlaImages with at
// most 1 prediction different from PyTorch's (on all 10,000: within 5 too); then fine-tunes it, and refuses
// another architecture naming the layer.
func TestImportPyTorch(t *testing.T) {
	_, testDS, err := datasets.LoadFashionMNIST("")
	needs(t, err, "apt-get install dataset-fashion-mnist")
	trainDS, _, _ := datasets.LoadFashionMNIST("")
	dir, correct, preds := torchModels(t)
	for _, c := range []struct{ file, form string }{{"model.onnx", "grid"}, {"logits.onnx", "grid"}, {"logits.onnx", "xla"}} {
		cfg := DefaultConfig()
		cfg.Init, cfg.Quiet = filepath.Join(dir, c.file), true
		m := New(nn.WithFormulation(nn.Net(10), c.form), cfg)
		m.Backend = goBackend(t)
		d := testDS
		if c.form == "xla" {
			d = testDS.Head(xlaImages())
		}
		start := time.Now()
		ev, err := m.Evaluate(d)
		if err != nil {
			t.Fatalf("%s, %s formulation: %v", c.file, c.form, err)
		}
		got, differ := 0, 0
		for i, p := range ev.Predictions {
			if p == ev.Labels[i] {
				got++
			}
			if int(p) != preds[i] {
				differ++
			}
		}
		t.Logf("%s, %s formulation: %d/%d correct, %d predictions differ from PyTorch's (%s)", c.file, c.form, got, d.Len(), differ, time.Since(start).Round(time.Millisecond))
		if d.Len() == testDS.Len() && math.Abs(float64(got-correct)) > 5 {
			t.Errorf("%s, %s formulation: %d correct, PyTorch %d: want within 5", c.file, c.form, got, correct)
		}
		if d.Len() < testDS.Len() && differ > 1+d.Len()/2000 {
			t.Errorf("%s, %s formulation: %d of %d predictions differ from PyTorch's, want at most %d", c.file, c.form, differ, d.Len(), 1+d.Len()/2000)
		}
		m.Close()
	}
	t.Run("fine-tune", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Init, cfg.Quiet, cfg.Epochs = filepath.Join(dir, "model.onnx"), true, 1
		m := newModel(t, cfg)
		defer m.Close()
		before, err := m.Evaluate(testDS.Head(1000))
		if err != nil {
			t.Fatal(err)
		}
		h, err := m.Fit(context.Background(), trainDS.Head(2000), testDS.Head(1000))
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1 || math.IsNaN(h[0].TrainLoss) {
			t.Fatalf("fine-tuning history %+v: want one finite epoch", h)
		}
		t.Logf("fine-tuning 1 epoch on 2,000 images: test loss %.4f -> %.4f", before.Loss, h[0].EvalLoss)
		if h[0].EvalLoss > before.Loss+0.3 {
			t.Errorf("fine-tuning from the import: test loss %.4f after, %.4f before: it started from scratch?", h[0].EvalLoss, before.Loss)
		}
	})
	t.Run("other architecture", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Init = filepath.Join(dir, "other.onnx")
		m := newModel(t, cfg)
		defer m.Close()
		_, err := m.Evaluate(testDS.Head(10))
		if err == nil || !strings.Contains(err.Error(), "conv1") || !strings.Contains(err.Error(), "[16 1 3 3]") {
			t.Fatalf("a model with 16 filters in conv1: got %v, want an error naming conv1 and its weights [16 1 3 3]", err)
		}
		t.Log(err)
	})
}

// TestImportRefusesAnotherLayer starts Net from the export of an MLP: the error
// names Net's first layer, which the file does not have.
func TestImportRefusesAnotherLayer(t *testing.T) {
	trainDS, testDS := small(t)
	mlp := New(nn.MLP(10, 32), quickConfig(1))
	mlp.Backend = goBackend(t)
	if _, err := mlp.Fit(context.Background(), trainDS.Head(200), testDS.Head(50)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mlp.onnx")
	if err := mlp.ExportONNX(path); err != nil {
		t.Fatal(err)
	}
	cfg := quickConfig(1)
	cfg.Init = path
	_, err := newModel(t, cfg).Evaluate(testDS.Head(10))
	want := `layer 1 differs: the model's conv1 is conv2d; the file has Flatten`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want an error naming %s and %q", err, path, want)
	}
}
