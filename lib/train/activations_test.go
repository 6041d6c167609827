package train

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// TestActivations checks a trained model's layer outputs for one image: conv1
// against a convolution computed here from the model's own variables and the
// normalised image, the pool against conv1/relu, the logits against Predict; then
// the errors, and that the outputs follow the weights as they train.
func TestActivations(t *testing.T) {
	tr, te := small(t)
	m := newModel(t, quickConfig(1))
	if _, err := m.Activations(te.ToImage(0), "conv1"); !errors.Is(err, errNotReady) {
		t.Errorf("Activations before training: %v; want errNotReady", err)
	}
	if _, err := m.Variable("/conv1/conv/weights"); err == nil || !strings.Contains(err.Error(), "no variables yet") {
		t.Errorf("Variable before training: %v; want 'no variables yet'", err)
	}
	if _, err := m.Fit(context.Background(), tr.Head(300), te.Head(50)); err != nil {
		t.Fatal(err)
	}
	img := te.ToImage(7)
	acts, err := m.Activations(img, "conv1", "conv1/relu", "conv1/maxpool2x2", "fc2")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{acts[0].Name, acts[1].Name, acts[2].Name, acts[3].Name}
	if !slices.Equal(names, []string{"conv1", "conv1/relu", "conv1/maxpool2x2", "fc2"}) ||
		!slices.Equal(acts[0].Shape, []int{28, 28, 32}) || !slices.Equal(acts[2].Shape, []int{14, 14, 32}) || !slices.Equal(acts[3].Shape, []int{10}) {
		t.Fatalf("layers %q with shapes %v %v %v %v", names, acts[0].Shape, acts[1].Shape, acts[2].Shape, acts[3].Shape)
	}
	weights, err := m.Variable("conv1/conv/weights") // the leading "/" may be left out
	if err != nil {
		t.Fatal(err)
	}
	biases, err := m.Variable("/conv1/conv/biases")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(weights.Shape, []int{3, 3, 1, 32}) || weights.Name != "/conv1/conv/weights" {
		t.Fatalf("conv1's weights: %s %v, want /conv1/conv/weights [3 3 1 32]", weights.Name, weights.Shape)
	}
	px, _ := data.Pixels(img, m.Shape)
	x := make([]float64, len(px))
	for i, v := range px {
		x[i] = (float64(v)/255 - float64(m.Norm.Mean[0])) / float64(m.Norm.Std[0])
	}
	for _, f := range []int{0, 13, 31} {
		for y := range 28 {
			for xx := range 28 {
				want := float64(biases.Data[f])
				for ky := range 3 {
					for kx := range 3 {
						if sy, sx := y+ky-1, xx+kx-1; sy >= 0 && sy < 28 && sx >= 0 && sx < 28 {
							want += x[sy*28+sx] * float64(weights.Data[(ky*3+kx)*32+f])
						}
					}
				}
				got := acts[0].Data[(y*28+xx)*32+f]
				if math.Abs(float64(got)-want) > 1e-4 {
					t.Fatalf("conv1 filter %d at (%d, %d): %g, want %g", f, y, xx, got, want)
				}
				if relu := acts[1].Data[(y*28+xx)*32+f]; relu != max(got, 0) {
					t.Fatalf("conv1/relu filter %d at (%d, %d): %g, want max(%g, 0)", f, y, xx, relu, got)
				}
			}
		}
	}
	pooled := acts[2].Data[(3*14+5)*32+4] // row 3, column 5, channel 4: the window at (6..7, 10..11)
	at := func(y, x int) float32 { return acts[1].Data[(y*28+x)*32+4] }
	if want := max(at(6, 10), at(6, 11), at(7, 10), at(7, 11)); pooled != want {
		t.Errorf("conv1/maxpool2x2: %g, want the window's maximum %g", pooled, want)
	}
	top, err := m.Predict(img, 1)
	if err != nil {
		t.Fatal(err)
	}
	logits := acts[3].Data
	sum := 0.0
	for _, v := range logits {
		sum += math.Exp(float64(v - logits[top[0].Index]))
	}
	if p := 1 / sum; math.Abs(p-top[0].Probability) > 1e-4 || slices.Index(logits, slices.Max(logits)) != top[0].Index {
		t.Errorf("softmax of the fc2 activations gives %g for %s; Predict says %v", p, top[0].Class, top[0])
	}

	all, err := m.Activations(img)
	if err != nil || len(all) != 10 || all[9].Name != "fc2" {
		t.Fatalf("every layer: %d layers, %v", len(all), err)
	}
	if _, err := m.Activations(img, "conv3"); err == nil || !strings.Contains(err.Error(), `no layer "conv3"`) || !strings.Contains(err.Error(), "conv2/relu") {
		t.Errorf("an unknown layer: %v; want an error listing the layers", err)
	}
	if _, err := m.Variable("/conv1/weights"); err == nil || !strings.Contains(err.Error(), "/conv1/conv/weights [3 3 1 32]") {
		t.Errorf("an unknown variable: %v; want an error listing the variables", err)
	}

	// After more training the same call sees the new weights.
	if _, err := m.FitMore(context.Background(), 1, tr.Head(300), te.Head(50)); err != nil {
		t.Fatal(err)
	}
	again, err := m.Activations(img, "conv1")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(again[0].Data, acts[0].Data) {
		t.Error("conv1's output did not change after another epoch of training")
	}
}

// TestOnStepAndMLP trains the MLP baseline with Config.OnStep: one report per
// batch, numbered across epochs, and the loss falls.
func TestOnStepAndMLP(t *testing.T) {
	tr, te := small(t)
	var steps []StepLoss
	cfg := quickConfig(2)
	cfg.OnStep = func(s StepLoss) { steps = append(steps, s) }
	m := New(nn.MLP(10, 64), cfg)
	m.Backend = goBackend(t)
	h, err := m.Fit(context.Background(), tr.Head(640), te.Head(100)) // 10 batches of 64 per epoch
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 20 {
		t.Fatalf("%d steps reported, want 20", len(steps))
	}
	for i, s := range steps {
		if s.Step != i+1 || s.Epoch != 1+i/10 || s.LR != cfg.LR || math.IsNaN(s.Loss) {
			t.Fatalf("step report %d: %+v", i, s)
		}
	}
	mean := func(ss []StepLoss) float64 {
		sum := 0.0
		for _, s := range ss {
			sum += s.Loss
		}
		return sum / float64(len(ss))
	}
	if first, second := mean(steps[:10]), mean(steps[10:]); math.Abs(first-h[0].TrainLoss) > 1e-6 || second >= first {
		t.Errorf("mean step loss %g then %g; epoch 1's train loss %g", first, second, h[0].TrainLoss)
	}
	acts, err := m.Activations(te.ToImage(0), "flatten", "fc1/relu")
	if err != nil || !slices.Equal(acts[0].Shape, []int{784}) || !slices.Equal(acts[1].Shape, []int{64}) {
		t.Fatalf("MLP activations: %v", err)
	}
	if _, err := m.FitMore(context.Background(), 1, tr.Head(640), te.Head(100)); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 30 || steps[20].Step != 21 || steps[20].Epoch != 3 {
		t.Errorf("after FitMore: %d steps, the 21st %+v; want 30, step 21 of epoch 3", len(steps), steps[20])
	}
}
