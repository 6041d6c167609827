package plot

import (
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

func TestStepLoss(t *testing.T) {
	var labels []string
	for _, tk := range (roundTicks{}).Ticks(0, 283) {
		labels = append(labels, tk.Label)
	}
	if !slices.Equal(labels, []string{"0", "50", "100", "150", "200", "250"}) {
		t.Errorf("ticks for 0..283: %q", labels)
	}
	labels = labels[:0]
	for _, tk := range (roundTicks{}).Ticks(2.265, 2.32) {
		labels = append(labels, tk.Label)
	}
	if !slices.Equal(labels, []string{"2.27", "2.28", "2.29", "2.30", "2.31", "2.32"}) {
		t.Errorf("ticks for 2.265..2.32: %q", labels)
	}

	run := func(n int, rate float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = 0.3 + 2*math.Exp(-rate*float64(i)) + 0.1*math.Sin(float64(i))
		}
		return v
	}
	f, err := StepLoss("Training loss by step", []string{"momentum", "plain"}, [][]float64{run(250, 0.05), run(200, 0.005)},
		StepLossOptions{StepsPerEpoch: 85, Classes: 10})
	if err != nil {
		t.Fatal(err)
	}
	txt := wantText(t, "the step loss figure", f, "Training loss by step", "momentum", "plain", "each step", "mean of the last 25 steps",
		"epoch 2", "epoch 3", "ln 10 = 2.303", "step", "cross-entropy of the batch")
	if strings.Contains(txt, "epoch 4") {
		t.Error("an epoch line past the last step (250 steps of 85)")
	}
	checkPNG(t, f)
	if txt := svgText(t, Must(StepLoss("short", []string{"a"}, [][]float64{run(40, 0.1)}, StepLossOptions{}))); !strings.Contains(txt, "mean of the last 10 steps") {
		t.Errorf("40 steps: want a window of 10; text:\n%s", txt)
	}
	for name, err := range map[string]error{
		"names":    second(StepLoss("", []string{"a"}, [][]float64{{1}, {2}}, StepLossOptions{})),
		"empty":    second(StepLoss("", []string{"a"}, [][]float64{{}}, StepLossOptions{})),
		"diverged": second(StepLoss("", []string{"a"}, [][]float64{{2, math.Inf(1)}}, StepLossOptions{})),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Four runs with long names, as notebook 3 compares them, do not fit in one legend
// row: the legend wraps onto a second row and the figure grows to hold it.
func TestStepLossLegendWraps(t *testing.T) {
	names := []string{"lr 0.01 (the article)", "lr 0.1", "lr 0.01 + momentum 0.9", "lr 0.01, He initialisation"}
	runs := [][]float64{{2.3, 2.2}, {2.3, 1.9}, {2.3, 2.0}, {2.3, 1.5}}
	one, err := StepLoss("one run", names[:1], runs[:1], StepLossOptions{})
	if err != nil {
		t.Fatal(err)
	}
	four, err := StepLoss("four runs", names, runs, StepLossOptions{Classes: 10})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(four.Height-one.Height-legendHeight)) > 1e-6 {
		t.Errorf("four runs: height %v, want one run's %v plus a legend row", four.Height, one.Height)
	}
	for _, row := range legendRows([]legendEntry{{name: names[2]}, {name: names[3]}, {name: "mean of the last 25 steps"}}, 5*vg.Centimeter) {
		if len(row) != 1 {
			t.Errorf("5 cm: a row of %d long entries, want 1 per row", len(row))
		}
	}
	if _, err := four.PNG(72); err != nil {
		t.Fatal(err)
	}
}
