package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWalkthroughWritesMetricsAndFigures(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run([]string{"-epochs", "2", "-limit", "640", "-lr", "0.05", "-momentum", "0.9", "-backend", "go", "-out", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"backend: go", "Total trainable parameters: 421,642", "epoch 2/2", "test loss", "macro avg", "metrics.json"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	hist, _ := m["history"].([]any)
	if len(hist) != 2 {
		t.Fatalf("history has %d epochs, want 2", len(hist))
	}
	for _, k := range []string{"epoch", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy", "eval_set", "lr"} {
		if _, ok := hist[1].(map[string]any)[k]; !ok {
			t.Errorf("history entry lacks %q", k)
		}
	}
	test, _ := m["test"].(map[string]any)
	for _, k := range []string{"accuracy", "loss", "macro_precision", "macro_recall", "macro_f1", "per_class", "confusion"} {
		if _, ok := test[k]; !ok {
			t.Errorf("test lacks %q", k)
		}
	}
	if v, _ := m["train_images_per_second"].(float64); v <= 0 {
		t.Errorf("train_images_per_second = %v", m["train_images_per_second"])
	}
	if acc, _ := test["accuracy"].(float64); acc < 0.4 {
		t.Errorf("accuracy %g after 2 epochs on 640 images with momentum: want >= 0.4", acc)
	}
	for _, f := range []string{"curves.png", "confusion.svg", "class-scores.png", "wrong.png", "saliency.svg", "checkpoints/epoch-0002/state.json", "model.onnx"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing", f)
		}
	}
}

func TestWalkthroughBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-epochs", "-1"}, "-epochs must be >= 0"},
		{[]string{"-epochs", "0"}, "-epochs 0 evaluates a model: give -init"},
		{[]string{"-init", "/no/such/model.onnx"}, "/no/such/model.onnx"},
		{[]string{"-lr", "-1"}, "-lr must be > 0"},
		{[]string{"-momentum", "1.5"}, "-momentum must be in [0, 1)"},
		{[]string{"-data", "/no/such/folder"}, `dataset "/no/such/folder"`},
		{[]string{"-backend", "tpu"}, "want go, xla:cpu"},
		{[]string{"stray"}, `unexpected argument "stray"`},
	} {
		err := run(append(tc.args, "-out", t.TempDir()), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", tc.args, err, tc.want)
		}
	}
}

// TestWalkthroughEvaluatesAnONNXFile trains, then evaluates the model.onnx that run
// wrote with -init and -epochs 0 in another folder: the same test accuracy and loss;
// then starts training from it.
func TestWalkthroughEvaluatesAnONNXFile(t *testing.T) {
	first := t.TempDir()
	if err := run([]string{"-epochs", "1", "-limit", "640", "-lr", "0.05", "-momentum", "0.9", "-normalize", "-backend", "go", "-out", first}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	second := t.TempDir()
	var stdout bytes.Buffer
	if err := run([]string{"-epochs", "0", "-init", filepath.Join(first, "model.onnx"), "-backend", "go", "-out", second}, &stdout); err != nil {
		t.Fatal(err)
	}
	a, b := testResult(t, first), testResult(t, second)
	if a["accuracy"] != b["accuracy"] || math.Abs(a["loss"].(float64)-b["loss"].(float64)) > 1e-5 {
		t.Errorf("-epochs 0 -init model.onnx: accuracy %v, loss %v; the run that wrote it: %v, %v", b["accuracy"], b["loss"], a["accuracy"], a["loss"])
	}
	if strings.Contains(stdout.String(), "epoch 1/") {
		t.Errorf("-epochs 0 trained:\n%s", stdout.String())
	}
	if err := run([]string{"-epochs", "1", "-limit", "640", "-init", filepath.Join(first, "model.onnx"), "-backend", "go", "-out", t.TempDir()}, &bytes.Buffer{}); err != nil {
		t.Errorf("training from -init: %v", err)
	}
}

// testResult reads the "test" object of a run's metrics.json.
func testResult(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Test map[string]any `json:"test"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Test
}
