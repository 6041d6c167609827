package train

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// torchNet is the article's model (WALKTHROUGH.md, class Net) in PyTorch, run by
// TestGradientsMatchPyTorch. It reads the weights and batches the Go side wrote,
// and writes back the logits, the loss and every gradient of the first batch, then
// the weights after one SGD step (momentum, weight decay) on each batch.
//
// Weight layouts, and how the files map them (the script converts both ways):
//   - a convolution's weights: GoMLX [kh, kw, in, out], torch [out, in, kh, kw]
//     (permute(3, 2, 0, 1), and back with permute(2, 3, 1, 0));
//   - fc1's weights: GoMLX [h*w*c, out] with the flatten of NHWC activations (row
//     (y*w + x)*c + ch), torch [out, c*h*w] with the flatten of NCHW ones (column
//     ch*h*w + y*w + x): reshape to [h, w, c, out], permute(3, 2, 0, 1), reshape to
//     [out, c*h*w];
//   - fc2's weights: GoMLX [in, out], torch [out, in] (a transpose);
//   - biases alike; images NHWC in Go, NCHW in torch.
const torchNet = `
import json, sys
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(1)

def run(d):
    cfg = json.load(open(d + "/in.json"))
    c, h, w = cfg["shape"]

    def read(name, shape, dtype=np.float32):
        return torch.from_numpy(np.fromfile(d + "/" + name + ".bin", dtype=dtype).reshape(shape))

    def write(name, t):
        t.detach().contiguous().numpy().astype("<f4").tofile(d + "/out" + name.replace("/", "_") + ".bin")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(c, 32, 3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
            self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), 128)
            self.fc2 = nn.Linear(128, 10)
        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            return self.fc2(x)

    net = Net()
    params = {
        "/conv1/conv/weights": net.conv1.weight, "/conv1/conv/biases": net.conv1.bias,
        "/conv2/conv/weights": net.conv2.weight, "/conv2/conv/biases": net.conv2.bias,
        "/fc1/dense/weights": net.fc1.weight, "/fc1/dense/biases": net.fc1.bias,
        "/fc2/dense/weights": net.fc2.weight, "/fc2/dense/biases": net.fc2.bias,
    }

    def to_torch(name, t):
        if name.startswith("/conv") and name.endswith("weights"):
            return t.permute(3, 2, 0, 1)
        if name == "/fc1/dense/weights":
            return t.reshape(h // 4, w // 4, 64, 128).permute(3, 2, 0, 1).reshape(128, -1)
        if name == "/fc2/dense/weights":
            return t.t()
        return t

    def to_go(name, t):
        if name.startswith("/conv") and name.endswith("weights"):
            return t.permute(2, 3, 1, 0)
        if name == "/fc1/dense/weights":
            return t.reshape(128, 64, h // 4, w // 4).permute(2, 3, 1, 0).reshape(-1, 128)
        if name == "/fc2/dense/weights":
            return t.t()
        return t

    with torch.no_grad():
        for name, p in params.items():
            p.copy_(to_torch(name, read("w" + name.replace("/", "_"), cfg["vars"][name])))
    n = cfg["batch"]
    images = read("images", (cfg["steps"], n, h, w, c)).permute(0, 1, 4, 2, 3)
    labels = read("labels", (cfg["steps"], n), np.int32).long()

    net.train()
    logits = net(images[0])
    loss = F.nll_loss(F.log_softmax(logits, dim=1), labels[0])  # the article's loss
    loss.backward()
    write("logits", logits)
    write("loss", loss.reshape(1))
    for name, p in params.items():
        write("grad" + name, to_go(name, p.grad))

    opt = torch.optim.SGD(net.parameters(), lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
    for s in range(cfg["steps"]):
        opt.zero_grad()
        F.nll_loss(F.log_softmax(net(images[s]), dim=1), labels[s]).backward()
        opt.step()
    for name, p in params.items():
        write("step" + name, to_go(name, p))

for d in sys.argv[1:]:
    run(d)
`

// TestGradientsMatchPyTorch gives the article's model the same weights and the same
// batches of real images (Fashion-MNIST, 1x28x28, and three of them as the channels
// of a 3x32x32 image on a black canvas) here and in PyTorch (Debian's
// python3-torch), and checks the logits, the loss and every gradient, then the
// weights after 3 SGD steps with momentum and weight decay, to float32 tolerance.
func TestGradientsMatchPyTorch(t *testing.T) {
	shapes := []data.Shape{{Channels: 1, Height: 28, Width: 28}, {Channels: 3, Height: 32, Width: 32}}
	runs := make([]*torchRun, len(shapes))
	args := []string{"-c", torchNet}
	for i, s := range shapes {
		runs[i] = prepareTorchRun(t, s)
		args = append(args, runs[i].dir)
	}
	// One Python process for both shapes: importing torch takes most of its time.
	out, err := exec.Command("/usr/bin/python3", args...).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No module named") || errors.Is(err, fs.ErrNotExist) {
			if os.Getenv("CI") == "true" {
				t.Fatalf("PyTorch is missing (apt-get install python3-torch):\n%s", out)
			}
			t.Skipf("PyTorch is missing: apt-get install python3-torch\n%s", out)
		}
		t.Fatalf("PyTorch: %v\n%s", err, out)
	}
	for i, s := range shapes {
		t.Run(s.String(), runs[i].check)
	}
}

// torchRun is one shape's side of TestGradientsMatchPyTorch: the model, its
// batches, and the folder the files go through.
type torchRun struct {
	m       *Model
	dir     string
	loss    float64
	grads   []Values
	batch   func(i int) data.Batch
	steps   int
	logits0 []float32
}

const torchBatch, torchSteps = 16, 3

// prepareTorchRun makes a model for images of shape s, computes its logits, loss
// and gradients on the first batch, and writes its weights and the batches for
// the script.
func prepareTorchRun(t *testing.T, s data.Shape) *torchRun {
	const n, steps = torchBatch, torchSteps
	cfg := quickConfig(1)
	cfg.LR, cfg.Momentum, cfg.WeightDecay = 0.05, 0.9, 5e-3
	m := New(nn.Net(10), cfg)
	m.Backend = goBackend(t)
	images, labels := realBatches(s, n, steps)
	r := &torchRun{m: m, dir: t.TempDir(), steps: steps}
	r.batch = func(i int) data.Batch {
		size := n * s.Height * s.Width * s.Channels
		return data.Batch{
			Images: tensors.FromFlatDataAndDimensions(append([]float32(nil), images[i*size:(i+1)*size]...), n, s.Height, s.Width, s.Channels),
			Labels: tensors.FromFlatDataAndDimensions(append([]int32(nil), labels[i*n:(i+1)*n]...), n, 1),
		}
	}
	var err error
	if r.loss, r.grads, err = m.Gradients(r.batch(0)); err != nil { // also makes the weights
		t.Fatal(err)
	}
	r.logits0 = goLogits(t, m, r.batch(0))
	vars := map[string][]int{}
	for _, g := range r.grads {
		w, err := m.Variable(g.Name)
		if err != nil {
			t.Fatal(err)
		}
		vars[g.Name] = w.Shape
		writeLE(t, filepath.Join(r.dir, "w"+flat(g.Name)+".bin"), w.Data)
	}
	writeLE(t, filepath.Join(r.dir, "images.bin"), images)
	writeLE(t, filepath.Join(r.dir, "labels.bin"), labels)
	in, _ := json.Marshal(map[string]any{"shape": []int{s.Channels, s.Height, s.Width}, "batch": n, "steps": steps,
		"lr": cfg.LR, "momentum": cfg.Momentum, "weight_decay": cfg.WeightDecay, "vars": vars})
	if err := os.WriteFile(filepath.Join(r.dir, "in.json"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// check compares the logits, loss and gradients with PyTorch's, then trains the
// model for the steps and compares the weights.
func (r *torchRun) check(t *testing.T) {
	compare(t, "logits", r.logits0, readLE(t, filepath.Join(r.dir, "outlogits.bin")))
	compare(t, "loss", []float32{float32(r.loss)}, readLE(t, filepath.Join(r.dir, "outloss.bin")))
	for _, g := range r.grads {
		compare(t, "gradient of "+g.Name, g.Data, readLE(t, filepath.Join(r.dir, "outgrad"+flat(g.Name)+".bin")))
	}
	for i := range r.steps {
		if _, err := r.m.Step(r.batch(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range r.grads {
		w, err := r.m.Variable(g.Name)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, fmt.Sprintf("%s after %d steps", g.Name, r.steps), w.Data, readLE(t, filepath.Join(r.dir, "outstep"+flat(g.Name)+".bin")))
	}
}

// realBatches returns steps batches of n Fashion-MNIST training images of shape s,
// NHWC in [0, 1] (as ToTensor scales them), and their labels. With 3 channels,
// each channel is another image, centred on a black canvas of s's size.
func realBatches(s data.Shape, n, steps int) ([]float32, []int32) {
	tr, _ := embedded.MustLoad()
	size := s.Height * s.Width * s.Channels
	images := make([]float32, steps*n*size)
	labels := make([]int32, steps*n)
	off := (s.Height - 28) / 2
	for i := range steps * n {
		for ch := range s.Channels {
			px, label := tr.Image(i*s.Channels + ch)
			if ch == 0 {
				labels[i] = label
			}
			for y := range 28 {
				for x := range 28 {
					images[i*size+((y+off)*s.Width+x+off)*s.Channels+ch] = float32(px[y*28+x]) / 255
				}
			}
		}
	}
	return images, labels
}

// goLogits runs the model's function on b's images, in inference mode.
func goLogits(t *testing.T, m *Model, b data.Batch) []float32 {
	t.Helper()
	exec, err := model.NewExec(m.Backend.Compute, m.store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		weightsAsParameters(m.store, images.Graph())
		return m.fn(scope, images)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Call(b.Images)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// compare fails when got and want differ by more than float32 rounding through a
// network allows: 1e-4 of want's largest magnitude (summation orders differ).
func compare(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values here, %d in PyTorch", what, len(got), len(want))
	}
	scale := 0.0
	for _, x := range want {
		scale = math.Max(scale, math.Abs(float64(x)))
	}
	worst, at := 0.0, 0
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > worst {
			worst, at = d, i
		}
	}
	if worst > 1e-4*scale+1e-7 {
		t.Errorf("%s: element %d is %g here, %g in PyTorch (largest magnitude %g)", what, at, got[at], want[at], scale)
	}
}

func flat(name string) string { return strings.ReplaceAll(name, "/", "_") }

func writeLE[T float32 | int32](t *testing.T, path string, v []T) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := binary.Write(f, binary.LittleEndian, v); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readLE(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	if _, err := binary.Decode(b, binary.LittleEndian, v); err != nil {
		t.Fatal(err)
	}
	return v
}
