// Package metrics computes classification metrics from true and predicted labels:
// accuracy, per-class and macro precision, recall and F1, and the confusion matrix.
package metrics

import "fmt"

// ClassScores are one class's scores.
type ClassScores struct {
	Class     string  `json:"class"`
	Precision float64 `json:"precision"` // of the images predicted as this class, the fraction that are
	Recall    float64 `json:"recall"`    // of the images of this class, the fraction found
	F1        float64 `json:"f1"`        // harmonic mean of precision and recall
	Support   int     `json:"support"`   // images of this class
}

// Report holds a classifier's metrics on one dataset.
type Report struct {
	Accuracy       float64       `json:"accuracy"`
	MacroPrecision float64       `json:"macro_precision"`
	MacroRecall    float64       `json:"macro_recall"`
	MacroF1        float64       `json:"macro_f1"`
	PerClass       []ClassScores `json:"per_class"`
	// Confusion[t][p] counts images of true class t predicted as class p.
	Confusion [][]int `json:"confusion"`
}

// Compute returns the metrics of predictions against labels for the given classes.
// A class never predicted has precision 0; a class with no images has recall 0 (as
// scikit-learn's zero_division=0). Macro scores are unweighted means over classes.
func Compute(labels, predictions []int32, classes []string) (Report, error) {
	if len(labels) != len(predictions) {
		return Report{}, fmt.Errorf("metrics.Compute: %d labels but %d predictions", len(labels), len(predictions))
	}
	if len(labels) == 0 {
		return Report{}, fmt.Errorf("metrics.Compute: no labels")
	}
	k := len(classes)
	conf := make([][]int, k)
	for i := range conf {
		conf[i] = make([]int, k)
	}
	correct := 0
	for i, t := range labels {
		p := predictions[i]
		if t < 0 || int(t) >= k || p < 0 || int(p) >= k {
			return Report{}, fmt.Errorf("metrics.Compute: item %d: label %d, prediction %d: want 0..%d", i, t, p, k-1)
		}
		conf[t][p]++
		if t == p {
			correct++
		}
	}
	r := Report{Accuracy: float64(correct) / float64(len(labels)), Confusion: conf}
	for c := range k {
		tp, predicted, actual := conf[c][c], 0, 0
		for o := range k {
			predicted += conf[o][c]
			actual += conf[c][o]
		}
		s := ClassScores{Class: classes[c], Support: actual}
		if predicted > 0 {
			s.Precision = float64(tp) / float64(predicted)
		}
		if actual > 0 {
			s.Recall = float64(tp) / float64(actual)
		}
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		r.PerClass = append(r.PerClass, s)
		r.MacroPrecision += s.Precision / float64(k)
		r.MacroRecall += s.Recall / float64(k)
		r.MacroF1 += s.F1 / float64(k)
	}
	return r, nil
}

// String renders the report as a table, like scikit-learn's classification_report.
func (r Report) String() string {
	s := fmt.Sprintf("%-14s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support")
	total := 0
	for _, c := range r.PerClass {
		s += fmt.Sprintf("%-14s %9.3f %9.3f %9.3f %8d\n", c.Class, c.Precision, c.Recall, c.F1, c.Support)
		total += c.Support
	}
	s += fmt.Sprintf("%-14s %9.3f %9.3f %9.3f %8d\n", "macro avg", r.MacroPrecision, r.MacroRecall, r.MacroF1, total)
	s += fmt.Sprintf("%-14s %29.3f %8d\n", "accuracy", r.Accuracy, total)
	return s
}
