package progress

import (
	"bytes"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data/fetch"
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

func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("%s taken for a terminal: the bar would write escape codes into it", os.DevNull)
	}
}

func TestNumberIsReadable(t *testing.T) {
	for x, want := range map[float64]string{0.4213: "0.4213", 2.302585: "2.3026", 3.4e34: "3.4e+34", 0.00012: "0.00012",
		math.Inf(1): "+Inf", math.NaN(): "NaN", 0: "0.0000", 12345: "1.23e+04"} {
		if got := Number(x); got != want {
			t.Errorf("Number(%g) = %q, want %q", x, got, want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 421642: "421,642", -1234567: "-1,234,567"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestLogLinesAndRestart(t *testing.T) {
	var buf, log bytes.Buffer
	b := NewWriter(&buf, "epoch 1/2", 10, "images")
	b.Add(10)
	b.Done()
	b.Log(&log, "epoch 1: loss 0.5")
	b.Restart("epoch 2/2", 10)
	if b.Text()[:9] != "epoch 2/2" || !strings.Contains(b.Text(), "0/10") {
		t.Errorf("after Restart: %q", b.Text())
	}
	if log.String() != "epoch 1: loss 0.5\n" {
		t.Errorf("log %q", log.String())
	}
}

func TestNotebookBlockShowsALineLoggedAfterDone(t *testing.T) {
	var shown string
	b := &Bar{title: "epoch 2/2", total: 10, unit: "images", out: io.Discard, start: time.Now(), htmlID: "block",
		update: func(id, html string) { shown = html }}
	b.Log(io.Discard, "epoch 1/2 loss 0.5")
	b.Add(10)
	b.Done()
	b.Log(io.Discard, "epoch 2/2 loss 0.4") // Fit logs the last epoch after its bar is done
	if !strings.Contains(shown, "epoch 1/2 loss 0.5\nepoch 2/2 loss 0.4</pre>") || strings.Contains(shown, "100%") {
		t.Errorf("the block shows %q: want both epoch lines and no bar", shown)
	}
}

// Downloads is what fetch.Options.Progress takes: one bar per file, from the bytes a
// resumed download had.
func TestDownloadsDrawsABarPerFile(t *testing.T) {
	var p fetch.Progress = &Downloads{}
	p.Start("train-images.gz", 400, 1000)
	p.Add(600)
	p.Done()
	if text := p.(*Downloads).bar.Text(); !strings.HasPrefix(text, "downloading train-images.gz 100%") || !strings.Contains(text, "1000/1000 bytes") {
		t.Errorf("bar %q: want the file's name and 1000/1000 bytes", text)
	}
}
