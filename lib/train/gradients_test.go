package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
)

// firstBatch returns the first batch of n images of d, unshuffled.
func firstBatch(t testing.TB, d *data.Dataset, n int) data.Batch {
	t.Helper()
	for b, err := range data.NewLoader(d, n, false).Batches() {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatal("no batch")
	return data.Batch{}
}

// TestGradients checks Model.Gradients on a tiny Net: every gradient against a
// float64 central difference of the loss at a few entries (moving one weight by
// ±eps with SetVariable), that it changes nothing, and that a hand-written step
// w -= lr * grad with SetVariable gives the weights Step gives.
func TestGradients(t *testing.T) {
	d := tinyData()
	cfg := quickConfig(1)
	cfg.Momentum = 0 // Step is then plain SGD: w - lr * grad
	m := tinyModel(t, cfg)
	b := firstBatch(t, d, 16)
	loss, grads, err := m.Gradients(b)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range grads {
		names = append(names, g.Name)
	}
	want := []string{"/conv1/conv/weights", "/conv1/conv/biases", "/conv2/conv/weights", "/conv2/conv/biases",
		"/fc1/dense/weights", "/fc1/dense/biases", "/fc2/dense/weights", "/fc2/dense/biases"}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("gradients of %v; want %v", names, want)
	}
	loss2, grads2, err := m.Gradients(b)
	if err != nil || loss2 != loss || !slices.Equal(grads2[0].Data, grads[0].Data) {
		t.Fatalf("a second call gives loss %g (first %g), %v: Gradients changed the model", loss2, loss, err)
	}

	const eps = 1e-2
	for _, g := range grads {
		w, err := m.Variable(g.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(w.Shape, g.Shape) {
			t.Fatalf("%s: gradient shape %v, variable %v", g.Name, g.Shape, w.Shape)
		}
		// The largest entry, and two others: a check that is not all zeros.
		big := 0
		for i, x := range g.Data {
			if math.Abs(float64(x)) > math.Abs(float64(g.Data[big])) {
				big = i
			}
		}
		for _, i := range []int{big, 0, len(g.Data) / 2} {
			at := func(delta float64) float64 {
				v := Values{Name: w.Name, Shape: w.Shape, Data: slices.Clone(w.Data)}
				v.Data[i] += float32(delta)
				if err := m.SetVariable(v); err != nil {
					t.Fatal(err)
				}
				l, _, err := m.Gradients(b)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			fd := (at(eps) - at(-eps)) / (2 * eps)
			if diff := math.Abs(fd - float64(g.Data[i])); diff > 2e-3+2e-2*math.Abs(fd) {
				t.Errorf("%s[%d]: gradient %g, central difference %g", g.Name, i, g.Data[i], fd)
			}
		}
		if err := m.SetVariable(w); err != nil {
			t.Fatal(err)
		}
	}
	if math.Abs(float64(grads[0].Data[0])) == 0 && math.Abs(float64(grads[len(grads)-1].Data[0])) == 0 {
		t.Errorf("gradients are zero")
	}

	// One SGD step by hand equals Step's.
	twin := tinyModel(t, cfg)
	if _, err := twin.Step(firstBatch(t, d, 16)); err != nil {
		t.Fatal(err)
	}
	lr := cfg.LR
	for _, g := range grads {
		w, _ := m.Variable(g.Name)
		for i := range w.Data {
			w.Data[i] -= float32(lr) * g.Data[i]
		}
		if err := m.SetVariable(w); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Variable(g.Name)
		stepped, err := twin.Variable(g.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got.Data {
			if math.Abs(float64(got.Data[i]-stepped.Data[i])) > 1e-6 {
				t.Fatalf("%s[%d]: %g by hand, %g by Step", g.Name, i, got.Data[i], stepped.Data[i])
			}
		}
	}
}

func TestSetVariableRefusesAnotherShape(t *testing.T) {
	m := tinyModel(t, quickConfig(1))
	err := m.SetVariable(Values{Name: "/fc2/dense/biases", Shape: []int{2}, Data: []float32{0, 0}})
	if err == nil || !strings.Contains(err.Error(), "no variables yet") {
		t.Errorf("before the first run: %v; want 'no variables yet'", err)
	}
	if _, _, err := m.Gradients(firstBatch(t, tinyData(), 4)); err != nil {
		t.Fatal(err)
	}
	err = m.SetVariable(Values{Name: "fc2/dense/biases", Shape: []int{3}, Data: []float32{0, 0, 0}})
	if err == nil || !strings.Contains(err.Error(), `"/fc2/dense/biases"`) || !strings.Contains(err.Error(), "want shape [2]") {
		t.Errorf("a wrong shape: %v; want an error naming the variable and shape [2]", err)
	}
	err = m.SetVariable(Values{Name: "/fc3/dense/biases", Shape: []int{2}, Data: []float32{0, 0}})
	if err == nil || !strings.Contains(err.Error(), "no such variable") {
		t.Errorf("an unknown variable: %v", err)
	}
	if err := m.SetVariable(Values{Name: "fc2/dense/biases", Shape: []int{2}, Data: []float32{1, -1}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Variable("fc2/dense/biases"); !slices.Equal(v.Data, []float32{1, -1}) {
		t.Errorf("after SetVariable: %v", v.Data)
	}
}
