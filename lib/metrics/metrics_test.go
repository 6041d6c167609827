package metrics

import (
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// Hand-computed: 3 classes, 8 items.
//
//	true: 0 0 0 1 1 2 2 2
//	pred: 0 0 1 1 2 2 2 0
//
// confusion rows (true) x cols (pred): [2 1 0] [0 1 1] [1 0 2]
// class 0: P = 2/3, R = 2/3, F1 = 2/3
// class 1: P = 1/2, R = 1/2, F1 = 1/2
// class 2: P = 2/3, R = 2/3, F1 = 2/3
// accuracy 5/8; macro P = R = F1 = (2/3 + 1/2 + 2/3)/3 = 11/18
func TestComputeByHand(t *testing.T) {
	r, err := Compute([]int32{0, 0, 0, 1, 1, 2, 2, 2}, []int32{0, 0, 1, 1, 2, 2, 2, 0}, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{2, 1, 0}, {0, 1, 1}, {1, 0, 2}}
	for i := range want {
		for j := range want[i] {
			if r.Confusion[i][j] != want[i][j] {
				t.Fatalf("confusion %v, want %v", r.Confusion, want)
			}
		}
	}
	if !near(r.Accuracy, 5.0/8) || !near(r.MacroPrecision, 11.0/18) || !near(r.MacroRecall, 11.0/18) || !near(r.MacroF1, 11.0/18) {
		t.Errorf("accuracy %g macro P/R/F1 %g %g %g, want 0.625 and 11/18", r.Accuracy, r.MacroPrecision, r.MacroRecall, r.MacroF1)
	}
	if !near(r.PerClass[1].Precision, 0.5) || !near(r.PerClass[0].F1, 2.0/3) || r.PerClass[2].Support != 3 {
		t.Errorf("per class %+v", r.PerClass)
	}
}

// Unequal precision and recall: true 0 0 0 0 1, pred 0 1 1 1 1.
// class 0: P = 1/1, R = 1/4, F1 = 2*(1*0.25)/1.25 = 0.4
// class 1: P = 1/4, R = 1/1, F1 = 0.4; class 2: no items, never predicted: all 0.
func TestComputeUnbalancedAndEmptyClass(t *testing.T) {
	r, err := Compute([]int32{0, 0, 0, 0, 1}, []int32{0, 1, 1, 1, 1}, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	c0, c1, c2 := r.PerClass[0], r.PerClass[1], r.PerClass[2]
	if !near(c0.Precision, 1) || !near(c0.Recall, 0.25) || !near(c0.F1, 0.4) || !near(c1.Precision, 0.25) || !near(c1.F1, 0.4) {
		t.Errorf("per class %+v", r.PerClass)
	}
	if c2.Precision != 0 || c2.Recall != 0 || c2.F1 != 0 {
		t.Errorf("empty class scores %+v, want zeros", c2)
	}
	if !near(r.MacroF1, 0.8/3) || !near(r.Accuracy, 0.4) {
		t.Errorf("macro F1 %g accuracy %g", r.MacroF1, r.Accuracy)
	}
	if !strings.Contains(r.String(), "macro avg") {
		t.Error("report table lacks the macro row")
	}
}

func TestComputeBadInput(t *testing.T) {
	if _, err := Compute([]int32{0}, []int32{0, 1}, []string{"a", "b"}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Compute([]int32{0, 5}, []int32{0, 1}, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "item 1") {
		t.Errorf("out-of-range label: %v", err)
	}
}
