package serve

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopherdl/gopherdl/lib/onnx"
	"github.com/gopherdl/gopherdl/lib/train"
)

// ortImages is how many real test images the ONNX Runtime comparison runs.
const ortImages = 200

// runORT runs model on input with onnxruntime-node; without it the test skips,
// except in CI (CI=true), where it fails.
func runORT(t *testing.T, model string, input []float32, dims []int) []float32 {
	t.Helper()
	out, _, err := onnx.RunNode(model, input, dims)
	if errors.Is(err, onnx.ErrNoRuntime) {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// nchw returns test images [first, first+n) as float32 [n, c, h, w] in [0, 1].
func nchw(first, n int) ([]float32, []int) {
	d := testImages
	h, w, c := d.Height, d.Width, d.Channels
	out := make([]float32, 0, n*c*h*w)
	for i := first; i < first+n; i++ {
		px := d.Pixels[i*h*w*c : (i+1)*h*w*c]
		for ch := range c {
			for p := range h * w {
				out = append(out, float32(px[p*c+ch])/255)
			}
		}
	}
	return out, []int{n, c, h, w}
}

// TestONNXMatchesPredict exports the served model and runs it in ONNX Runtime on
// real test images: every class probability within 1e-4 of /v1/predict's, and the
// same top class.
func TestONNXMatchesPredict(t *testing.T) {
	_, ts, _ := newServer(t, Config{})
	m, err := train.Load(testModel(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := m.ExportONNX(path); err != nil {
		t.Fatal(err)
	}
	input, dims := nchw(0, ortImages)
	probs := runORT(t, path, input, dims)
	k := len(m.Classes)
	if len(probs) != ortImages*k {
		t.Fatalf("ONNX Runtime gave %d values, want %d", len(probs), ortImages*k)
	}
	worst, agree := 0.0, 0
	for i := range ortImages {
		var got PredictResponse
		post(t, ts.URL+"/v1/predict?top=0", "image/png", pngOf(t, i), &got)
		if len(got.Predictions) != k {
			t.Fatalf("image %d: /v1/predict gave %d classes, want %d", i, len(got.Predictions), k)
		}
		row := probs[i*k : (i+1)*k]
		for _, p := range got.Predictions {
			worst = math.Max(worst, math.Abs(float64(row[p.Index])-p.Probability))
		}
		top := 0
		for c := range row {
			if row[c] > row[top] {
				top = c
			}
		}
		if top == got.Predictions[0].Index {
			agree++
		} else {
			t.Errorf("image %d: ONNX Runtime's top class is %s, /v1/predict's %s", i, m.Classes[top], got.Predictions[0].Class)
		}
	}
	st, _ := os.Stat(path)
	t.Logf("%d test images: max |ORT - /v1/predict| = %.2g, top class agrees on %d; model.onnx %d bytes", ortImages, worst, agree, st.Size())
	if worst > 1e-4 {
		t.Errorf("max probability difference %.3g, want <= 1e-4", worst)
	}
}
