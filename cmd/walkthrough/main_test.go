package main

import (
	"bytes"
	"encoding/json"
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
	for _, f := range []string{"curves.png", "confusion.svg", "class-scores.png", "wrong.png", "saliency.svg", "checkpoints/epoch-0002/state.json"} {
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
		{[]string{"-epochs", "0"}, "-epochs must be > 0"},
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
