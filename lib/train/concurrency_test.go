package train

import (
	"context"
	"errors"
	"image"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gopherdl/gopherdl/lib/backend"
	"github.com/gopherdl/gopherdl/lib/data"
)

// timingBackend wraps a backend to watch its executions from inside: how many run
// at once (the peak), each held for delay when set, so that calls that may overlap
// do.
type timingBackend struct {
	compute.Backend
	delay         atomic.Int64 // nanoseconds
	running, peak atomic.Int32
}

func (b *timingBackend) Builder(name string) compute.Builder {
	return timingBuilder{b.Backend.Builder(name), b}
}

// Buffers say they belong to the wrapper, as GoMLX's tensors check.
type timingBuffer struct {
	compute.Buffer
	b *timingBackend
}

func (tb timingBuffer) Backend() compute.Backend { return tb.b }

func (tb timingBuffer) CopyToDevice(dev compute.DeviceNum) (compute.Buffer, error) {
	c, err := tb.Buffer.CopyToDevice(dev)
	return tb.b.wrap(c), err
}

func (b *timingBackend) wrap(buf compute.Buffer) compute.Buffer {
	if buf == nil {
		return nil
	}
	return timingBuffer{buf, b}
}

func unwrap(buf compute.Buffer) compute.Buffer {
	if tb, ok := buf.(timingBuffer); ok {
		return tb.Buffer
	}
	return buf
}

func (b *timingBackend) BufferFromFlatData(dev compute.DeviceNum, flat any, shape shapes.Shape) (compute.Buffer, error) {
	buf, err := b.Backend.BufferFromFlatData(dev, flat, shape)
	return b.wrap(buf), err
}

func (b *timingBackend) NewSharedBuffer(dev compute.DeviceNum, shape shapes.Shape) (compute.Buffer, any, error) {
	buf, flat, err := b.Backend.NewSharedBuffer(dev, shape)
	return b.wrap(buf), flat, err
}

type timingBuilder struct {
	compute.Builder
	b *timingBackend
}

func (tb timingBuilder) Compile() (compute.Executable, error) {
	e, err := tb.Builder.Compile()
	if err != nil {
		return nil, err
	}
	return timingExec{e, tb.b}, nil
}

type timingExec struct {
	compute.Executable
	b *timingBackend
}

func (e timingExec) Execute(inputs []compute.Buffer, donate []bool, dev compute.DeviceNum) ([]compute.Buffer, error) {
	n := e.b.running.Add(1)
	defer e.b.running.Add(-1)
	for p := e.b.peak.Load(); n > p && !e.b.peak.CompareAndSwap(p, n); p = e.b.peak.Load() {
	}
	time.Sleep(time.Duration(e.b.delay.Load()))
	in := make([]compute.Buffer, len(inputs))
	for i, buf := range inputs {
		in[i] = unwrap(buf)
	}
	out, err := e.Executable.Execute(in, donate, dev)
	for i := range out {
		out[i] = e.b.wrap(out[i])
	}
	return out, err
}

// trainedTiny returns a tiny model trained one epoch on a backend that watches its
// executions.
func trainedTiny(t *testing.T) (*Model, *timingBackend, *data.Dataset) {
	t.Helper()
	tb := &timingBackend{Backend: goBackend(t).Compute}
	d := tinyData()
	m := tinyModel(t, quickConfig(1))
	m.Backend = &backend.Backend{Compute: tb, ID: "go"}
	if _, err := m.Fit(context.Background(), d, d); err != nil {
		t.Fatal(err)
	}
	return m, tb, d
}

// TestInferenceRunsAtOnce calls PredictBatch, Explain, SaliencyImage, Evaluate and
// EvalStep from several goroutines and watches the backend's executions: they must
// overlap (a model-wide lock would keep the peak at 1). Training then runs alone.
func TestInferenceRunsAtOnce(t *testing.T) {
	m, tb, d := trainedTiny(t)
	img := d.ToImage(0)
	calls := []func() error{
		func() error { _, err := m.PredictBatch([]image.Image{img, img}, 1); return err },
		func() error { _, _, err := m.Explain(img, 1); return err },
		func() error { _, _, err := m.SaliencyImage(img); return err },
		func() error { _, err := m.Evaluate(d); return err },
		func() error {
			for b, err := range data.NewLoader(d, 8, false).Batches() {
				if err != nil {
					return err
				}
				_, err = m.EvalStep(b)
				return err
			}
			return nil
		},
	}
	for _, call := range calls { // compile every graph first: first calls take turns
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	tb.delay.Store(int64(100 * time.Millisecond))
	for i, call := range calls {
		tb.peak.Store(0)
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := call(); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if p := tb.peak.Load(); p < 2 {
			t.Errorf("call %d from 3 goroutines: at most %d execution at a time, want them to overlap", i, p)
		}
	}
	// A batch size not seen yet is compiled while calls of a known one run on.
	tb.peak.Store(0)
	var wg0 sync.WaitGroup
	for _, n := range []int{2, 2, 3} { // 2 was run above; 3 is padded to 4
		wg0.Add(1)
		go func() {
			defer wg0.Done()
			if _, err := m.PredictBatch(slices.Repeat([]image.Image{img}, n), 1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg0.Wait()
	if p := tb.peak.Load(); p < 2 {
		t.Errorf("a new batch size and a known one: at most %d execution at a time, want them to overlap", p)
	}
	// A training step takes the model for itself: no inference runs beside it.
	tb.peak.Store(0)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for b := range data.NewLoader(d, 32, true).Batches() {
			if _, err := m.Step(b); err != nil {
				t.Error(err)
			}
			break
		}
	}()
	go func() {
		defer wg.Done()
		if err := calls[0](); err != nil {
			t.Error(err)
		}
	}()
	wg.Wait()
	if p := tb.peak.Load(); p != 1 {
		t.Errorf("a training step and a prediction: %d executions at a time, want 1", p)
	}
}

// TestCloseReleasesTheModel closes a model while goroutines predict with it: each
// call succeeds or says the model is closed, the weights are released, and every
// later call returns ErrClosed.
func TestCloseReleasesTheModel(t *testing.T) {
	m, tb, d := trainedTiny(t)
	img := d.ToImage(0)
	if _, err := m.PredictBatch([]image.Image{img}, 1); err != nil {
		t.Fatal(err)
	}
	tb.delay.Store(int64(10 * time.Millisecond)) // 20 predictions take 200 ms: Close comes among them
	var weights []*tensors.Tensor
	for v := range m.store.IterVariables() {
		weights = append(weights, v.MustValue())
	}
	var wg sync.WaitGroup
	var ok, closed atomic.Int32
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				_, err := m.PredictBatch([]image.Image{img}, 1)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrClosed):
					closed.Add(1)
				default:
					t.Errorf("a prediction while the model closes: %v", err)
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if closed.Load() == 0 {
		t.Errorf("%d predictions succeeded, none saw the model closed", ok.Load())
	}
	for i, w := range weights {
		if w.Ok() {
			t.Errorf("weight tensor %d is still held after Close", i)
		}
	}
	if m.execs.infer != nil || m.execs.saliency != nil || m.trainer != nil {
		t.Error("compiled graphs are still held after Close")
	}
	if err := m.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	for name, call := range map[string]func() error{
		"PredictBatch":    func() error { _, err := m.PredictBatch([]image.Image{img}, 1); return err },
		"Explain":         func() error { _, _, err := m.Explain(img, 1); return err },
		"Activations":     func() error { _, err := m.Activations(img); return err },
		"Variable":        func() error { _, err := m.Variable("/conv1/conv/weights"); return err },
		"SaliencyImage":   func() error { _, _, err := m.SaliencyImage(img); return err },
		"Evaluate":        func() error { _, err := m.Evaluate(d); return err },
		"Fit":             func() error { _, err := m.FitMore(context.Background(), 1, d, d); return err },
		"Save":            func() error { return m.Save(t.TempDir()) },
		"SetLearningRate": func() error { return m.SetLearningRate(0.1) },
	} {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v; want ErrClosed", name, err)
		}
	}
}

func TestExplainIsPredictAndSaliency(t *testing.T) {
	m, _, d := trainedTiny(t)
	img := d.ToImage(5)
	exPreds, exMap, err := m.Explain(img, 0)
	if err != nil {
		t.Fatal(err)
	}
	preds, err := m.Predict(img, 0)
	if err != nil {
		t.Fatal(err)
	}
	sal, class, err := m.SaliencyImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(exPreds) != len(preds) || exPreds[0].Index != class {
		t.Fatalf("Explain: %v; Predict %v, SaliencyImage class %d", exPreds, preds, class)
	}
	for i := range preds {
		if p, q := exPreds[i], preds[i]; p.Index != q.Index || math.Abs(p.Probability-q.Probability) > 1e-5 {
			t.Errorf("prediction %d: Explain %v, Predict %v", i, p, q)
		}
	}
	for i := range sal {
		if exMap[i] != sal[i] {
			t.Fatalf("saliency pixel %d: Explain %g, SaliencyImage %g", i, exMap[i], sal[i])
		}
	}
}

// TestNaNOutputsAreErrors gives a model NaN weights: predictions say so, naming the
// image, instead of returning NaN probabilities.
func TestNaNOutputsAreErrors(t *testing.T) {
	m, _, d := trainedTiny(t)
	for v := range m.store.IterVariables() {
		if v.Trainable {
			nan := tensors.FromScalarAndDimensions(float32(math.NaN()), v.Shape().Dimensions...)
			if err := v.SetValue(nan); err != nil {
				t.Fatal(err)
			}
		}
	}
	img := d.ToImage(0)
	if _, err := m.PredictBatch([]image.Image{img, img}, 1); !errors.Is(err, errNotFinite) || !strings.HasPrefix(err.Error(), "predicting: image 0:") {
		t.Errorf("PredictBatch with NaN weights: %v; want errNotFinite naming image 0", err)
	}
	if _, _, err := m.Explain(img, 1); !errors.Is(err, errNotFinite) {
		t.Errorf("Explain with NaN weights: %v; want errNotFinite", err)
	}
}

func TestErrorsNameTheirContextOnce(t *testing.T) {
	m, _, _ := trainedTiny(t)
	fresh := tinyModel(t, quickConfig(1))
	for _, c := range []struct {
		m    *Model
		want string
	}{
		{m, "predicting: image 0 is nil"},
		{fresh, "predicting: the model has not been trained or loaded"},
	} {
		_, err := c.m.PredictBatch([]image.Image{nil}, 1)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Count(err.Error(), "predicting") != 1 {
			t.Errorf("PredictBatch: %v; want %q, predicting said once", err, c.want)
		}
	}
}
