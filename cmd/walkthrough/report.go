package main

import (
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/plot"
	"github.com/gopherdl/gopherdl/lib/train"
)

// metricsReport embeds metrics.Report's JSON fields in TestResult.
type metricsReport metrics.Report

// writeFigures writes the walkthrough's figures to out and returns their paths.
func writeFigures(out string, m *train.Model, ev *train.Evaluation, test *data.Dataset) ([]string, error) {
	var paths []string
	save := func(name string, f *plot.Figure, err error) error {
		if err != nil {
			return err
		}
		for _, ext := range []string{".svg", ".png"} {
			p := filepath.Join(out, name+ext)
			if err := f.Save(p); err != nil {
				return err
			}
			paths = append(paths, p)
		}
		return nil
	}
	if len(m.History) > 0 {
		f, err := plot.TrainingCurves(m.History)
		if err := save("curves", f, err); err != nil {
			return nil, err
		}
	}
	f, err := plot.ConfusionMatrix(ev.Report)
	if err := save("confusion", f, err); err != nil {
		return nil, err
	}
	f, err = plot.ClassScores(ev.Report)
	if err := save("class-scores", f, err); err != nil {
		return nil, err
	}
	wrong := ev.MostConfidentlyWrong(12)
	if len(wrong) > 0 {
		preds, conf := ev.At(wrong)
		f, err = plot.Predictions("Most confidently wrong test images (true → predicted, confidence)", test, wrong, preds, conf, 6)
		if err := save("wrong", f, err); err != nil {
			return nil, err
		}
	}
	first := make([]int, min(6, test.Len()))
	for i := range first {
		first[i] = i
	}
	maps, preds, err := m.Saliency(test, first)
	if err != nil {
		return nil, err
	}
	f, err = plot.Saliency("Gradient saliency: what the network looks at (true → predicted)", test, first, maps, preds)
	if err := save("saliency", f, err); err != nil {
		return nil, err
	}
	return paths, nil
}
