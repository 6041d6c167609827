package plot

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/metrics"
)

// svgText returns the text drawn in an SVG (gonum's vgsvg writes <text> elements).
func svgText(t *testing.T, f *Figure) string {
	t.Helper()
	b, err := f.SVG()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("<?xml")) || !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("not an SVG document: %.80s", b)
	}
	var sb strings.Builder
	for _, m := range regexp.MustCompile(`<text[^>]*>([^<]*)</text>`).FindAllSubmatch(b, -1) {
		sb.Write(m[1])
		sb.WriteByte('\n')
	}
	return sb.String()
}

// checkPNG decodes the PNG and checks its pixel size against the figure's size.
func checkPNG(t *testing.T, f *Figure) {
	t.Helper()
	b, err := f.PNG(96)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	wantW, wantH := int(f.Width.Dots(96)+0.5), int(f.Height.Dots(96)+0.5)
	if d := img.Bounds().Dx() - wantW; d < -1 || d > 1 {
		t.Errorf("PNG width %d, want %d", img.Bounds().Dx(), wantW)
	}
	if d := img.Bounds().Dy() - wantH; d < -1 || d > 1 {
		t.Errorf("PNG height %d, want %d", img.Bounds().Dy(), wantH)
	}
}

func TestTrainingCurves(t *testing.T) {
	h := []metrics.Epoch{{Epoch: 1, TrainLoss: 1.5, TrainAccuracy: 0.5, EvalLoss: 1.2, EvalAccuracy: 0.61, EvalSet: "x/validation", LR: 0.01},
		{Epoch: 2, TrainLoss: 0.9, TrainAccuracy: 0.7, EvalLoss: 0.8, EvalAccuracy: 0.72, EvalSet: "x/validation", LR: 0.01},
		{Epoch: 3, TrainLoss: 0.7, TrainAccuracy: 0.8, EvalLoss: 0.75, EvalAccuracy: 0.75, EvalSet: "x/validation", LR: 0.001}}
	f, err := TrainingCurves(h)
	if err != nil {
		t.Fatal(err)
	}
	txt := svgText(t, f)
	for _, want := range []string{"Loss", "Accuracy", "Learning rate", "train", "validation", "learning rate", "epoch", "accuracy (%)", "\n3\n"} {
		if !strings.Contains(txt, want) {
			t.Errorf("curves lack %q; text:\n%s", want, txt)
		}
	}
	checkPNG(t, f)
	seen := map[string]bool{}
	for _, tk := range (exactTicks{}).Ticks(2.19, 2.34) {
		if tk.Label == "" {
			continue
		}
		v, err := strconv.ParseFloat(tk.Label, 64)
		if err != nil || math.Abs(v-tk.Value) > 1e-9 || seen[tk.Label] {
			t.Errorf("tick at %g labelled %q (labels so far %v)", tk.Value, tk.Label, seen)
		}
		seen[tk.Label] = true
	}
	if strings.Count(txt, "validation\n") != 1 {
		t.Errorf("the legend is drawn %d times, want once for all panels", strings.Count(txt, "validation\n"))
	}
	if _, err := TrainingCurves(nil); err == nil {
		t.Error("no epochs accepted")
	}
	if _, err := CurvesFigure(Curves{Epochs: []float64{1, 2}, TrainLoss: []float64{1}, EvalLoss: []float64{1, 2}, EvalAcc: []float64{1, 2}, LR: []float64{1, 1}}); err == nil ||
		!strings.Contains(err.Error(), "1 values of the training loss for 2 epochs") {
		t.Errorf("mismatched lengths: %v", err)
	}
	// A constant learning rate (no StepLR drop yet) must still draw.
	for i := range h {
		h[i].LR = 0.01
	}
	f, err = TrainingCurves(h)
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, f)
}

func report(t *testing.T) metrics.Report {
	r, err := metrics.Compute([]int32{0, 0, 0, 1, 1, 2, 2, 2}, []int32{0, 0, 1, 1, 2, 2, 2, 0}, []string{"cat", "dog", "bird"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConfusionMatrixShowsCountsAndClasses(t *testing.T) {
	f, err := ConfusionMatrix(report(t))
	if err != nil {
		t.Fatal(err)
	}
	txt := svgText(t, f)
	for _, want := range []string{"cat", "dog", "bird", "predicted class", "true class", "accuracy 62.5%"} {
		if !strings.Contains(txt, want) {
			t.Errorf("confusion matrix lacks %q; text:\n%s", want, txt)
		}
	}
	// Counts per cell: the matrix [[2 1 0] [0 1 1] [1 0 2]] has three 2s... count the cells.
	counts := map[string]int{}
	for _, l := range strings.Split(txt, "\n") {
		counts[l]++
	}
	if counts["2"] != 2 || counts["1"] != 4 || counts["0"] != 3 {
		t.Errorf("cell counts drawn %v, want two 2s, four 1s, three 0s", counts)
	}
	checkPNG(t, f)
}

func TestClassScores(t *testing.T) {
	f, err := ClassScores(report(t))
	if err != nil {
		t.Fatal(err)
	}
	txt := svgText(t, f)
	for _, want := range []string{"precision", "recall", "F1", "macro P 0.61", "bird"} {
		if !strings.Contains(txt, want) {
			t.Errorf("scores lack %q; text:\n%s", want, txt)
		}
	}
	checkPNG(t, f)
}

func TestPredictionsGridAndSaliency(t *testing.T) {
	train, _ := embedded.MustLoad()
	idx := []int{0, 1, 2, 3}
	preds := []int32{train.Labels[0], train.Labels[1], (train.Labels[2] + 1) % 10, train.Labels[3]}
	conf := []float32{0.9, 0.8, 0.97, 0.6}
	f, err := Predictions("Samples", train, idx, preds, conf, 2)
	if err != nil {
		t.Fatal(err)
	}
	txt := svgText(t, f)
	wrong := "→ " + train.Classes[preds[2]] + " 97%"
	if !strings.Contains(txt, wrong) || !strings.Contains(txt, "Samples") {
		t.Errorf("grid lacks the caption %q; text:\n%s", wrong, txt)
	}
	b, _ := f.SVG()
	if !strings.Contains(string(b), "stroke:#C80000") {
		t.Error("the wrong prediction is not marked in red")
	}
	checkPNG(t, f)
	if _, err := Predictions("x", train, []int{train.Len()}, nil, nil, 1); err == nil {
		t.Error("an index outside the dataset was accepted")
	}
	if _, err := Predictions("x", train, idx, preds[:2], nil, 1); err == nil || !strings.Contains(err.Error(), "2 predictions for 4 images") {
		t.Errorf("mismatched predictions: %v", err)
	}
	if _, err := Predictions("x", train, idx[:1], []int32{42}, nil, 1); err == nil {
		t.Error("a prediction outside the classes was accepted")
	}

	maps := make([][]float32, len(idx))
	for i := range maps {
		maps[i] = make([]float32, 28*28)
		maps[i][14*28+14] = 1
	}
	s, err := Saliency("What the network looks at", train, idx, maps, preds)
	if err != nil {
		t.Fatal(err)
	}
	if txt := svgText(t, s); !strings.Contains(txt, "saliency") {
		t.Errorf("saliency figure lacks its captions:\n%s", txt)
	}
	over, _ := SaliencyOverlay(train.ToImage(0), maps[0])
	r, g, _, _ := over.At(14, 14).RGBA()
	if r>>8 != 255 || g>>8 != 255 {
		t.Errorf("the hottest pixel is %d,%d (red, green), want yellow", r>>8, g>>8)
	}
	if _, err := SaliencyOverlay(train.ToImage(0), maps[0][:10]); err == nil {
		t.Error("a saliency map of the wrong size was accepted")
	}
	if _, err := Saliency("x", train, []int{-1}, maps[:1], nil); err == nil {
		t.Error("a negative index was accepted")
	}
	if _, err := Saliency("x", train, idx, maps, preds[:1]); err == nil {
		t.Error("mismatched predictions were accepted")
	}
}

func TestSaveBySuffix(t *testing.T) {
	f, _ := ConfusionMatrix(report(t))
	dir := t.TempDir()
	for _, name := range []string{"c.svg", "c.png"} {
		if err := f.Save(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written", name)
		}
	}
	if err := f.Save(filepath.Join(dir, "c.gif")); err == nil {
		t.Error(".gif accepted")
	}
}

func TestCompareRuns(t *testing.T) {
	a := []metrics.Epoch{{Epoch: 1, TrainLoss: 1, EvalLoss: 1.1, EvalAccuracy: 0.5, EvalSet: "v/validation", LR: 0.01}, {Epoch: 2, TrainLoss: 0.8, EvalLoss: 0.9, EvalAccuracy: 0.6, EvalSet: "v/validation", LR: 0.01}}
	b := []metrics.Epoch{{Epoch: 1, TrainLoss: 0.9, EvalLoss: 1.0, EvalAccuracy: 0.55, EvalSet: "v/validation", LR: 0.01}}
	f, err := Compare([]string{"plain SGD", "momentum 0.9"}, [][]metrics.Epoch{a, b})
	if err != nil {
		t.Fatal(err)
	}
	txt := svgText(t, f)
	for _, want := range []string{"plain SGD", "momentum 0.9", "Validation accuracy", "Training loss"} {
		if !strings.Contains(txt, want) {
			t.Errorf("comparison lacks %q", want)
		}
	}
	if strings.Count(txt, "plain SGD") != 1 {
		t.Errorf("the legend is drawn %d times, want once for all panels", strings.Count(txt, "plain SGD"))
	}
	checkPNG(t, f)
	if _, err := Compare([]string{"x"}, nil); err == nil {
		t.Error("mismatched names accepted")
	}
}

func TestDrawingPanicsBecomeErrorsWithTheirCause(t *testing.T) {
	cause := errors.New("bad tick")
	f := &Figure{Width: 10, Height: 10, draw: func(draw.Canvas) { panic(cause) }}
	if _, err := f.PNG(96); !errors.Is(err, cause) {
		t.Errorf("PNG: %v; want the panic's error wrapped", err)
	}
}

func TestExplanation(t *testing.T) {
	_, test := embedded.MustLoad()
	img := test.ToImage(0)
	sal := make([]float32, 28*28)
	for i := range sal {
		sal[i] = float32(i%28) / 27
	}
	over, err := SaliencyOverlay(img, sal)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Explanation("test image 0", img, over, []string{"Ankle boot", "Sneaker", "Sandal"}, []float64{0.9, 0.07, 0.03})
	if err != nil {
		t.Fatal(err)
	}
	txt := svgText(t, f)
	for _, want := range []string{"test image 0", "Ankle boot 90.0%", "Sneaker 7.0%", "Sandal 3.0%", "saliency", "probability (%)"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the figure lacks %q; its text:\n%s", want, txt)
		}
	}
	checkPNG(t, f)
	if os.Getenv("GOPHERDL_PLOT_OUT") != "" {
		b, _ := f.PNG(96)
		os.WriteFile(filepath.Join(os.Getenv("GOPHERDL_PLOT_OUT"), "explanation.png"), b, 0o644)
	}
	// Without the saliency: the image and the bars.
	f, err = Explanation("", img, nil, []string{"Ankle boot"}, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, f)
	for _, bad := range [][]float64{{0.5}, {0.5, 1.5}, {math.NaN(), 0}} {
		if _, err := Explanation("", img, nil, []string{"a", "b"}, bad); err == nil {
			t.Errorf("probabilities %v for 2 classes: no error", bad)
		}
	}
	if _, err := Explanation("", nil, nil, []string{"a"}, []float64{1}); err == nil {
		t.Error("no image: no error")
	}
}
