package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestBarShowsCountRateAndETA(t *testing.T) {
	var buf bytes.Buffer
	b := NewWriter(&buf, "epoch 1", 200, "images")
	b.Add(50)
	b.SetSuffix("loss 0.42")
	line := b.Text()
	for _, want := range []string{"epoch 1", " 25%", "50/200 images", "images/s", "ETA", "loss 0.42"} {
		if !strings.Contains(line, want) {
			t.Errorf("bar %q lacks %q", line, want)
		}
	}
	b.Add(150)
	b.Done()
	if !strings.Contains(b.Text(), "100%") || !strings.HasSuffix(buf.String(), "\n") {
		t.Errorf("finished bar %q, output %q: want 100%% and a final newline", b.Text(), buf.String())
	}
}

func TestNilBarIsSilent(t *testing.T) {
	var b *Bar
	b.Add(3)
	b.SetSuffix("x")
	b.Done()
}
