package serve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotEnv names a PNG file that TestBrowser writes a screenshot of the page
// to, with a prediction on it (for looking at the page).
const screenshotEnv = "GOPHERDL_SERVE_SCREENSHOT"

// chromium returns the browser to test with: $CHROMIUM, else Debian's chromium. It
// skips the test when there is none, except in CI (CI=true), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	const msg = "no chromium to run the browser test: apt-get install chromium (or set CHROMIUM to a Chrome or Chromium binary)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestBrowser opens the page in headless Chromium, uploads an image through the
// file input, and finds the class the API predicts for it on the page, with its
// bars and saliency map; then it tries a sample image.
func TestBrowser(t *testing.T) {
	browser := chromium(t)
	_, ts, _ := newServer(t, Config{})

	const idx = 0 // an ankle boot
	file := filepath.Join(t.TempDir(), "upload.png")
	if err := os.WriteFile(file, pngOf(t, idx), 0o644); err != nil {
		t.Fatal(err)
	}
	var want PredictResponse
	post(t, ts.URL+"/v1/predict", "image/png", pngOf(t, idx), &want)

	b := newBrowser(t, browser)
	do, text, eval := b.do, b.text, b.eval
	ctx := b.ctx

	do("opening the page", chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#drop")),
		chromedp.WaitVisible(chromedp.CSS("#samples"))) // offered to a Fashion-MNIST model
	model := text("#model")
	do("uploading an image", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
		chromedp.WaitVisible(chromedp.CSS("#result")),
		chromedp.Poll[chromedp.Void](`document.querySelector('#saliency').complete && document.querySelector('#saliency').naturalWidth > 0`))
	topClass, topProb, status := text("#top-class"), text("#top-prob"), text("#status")
	bars := eval(`document.querySelectorAll('#bars li').length`)
	salWidth := eval(`document.querySelector('#saliency').naturalWidth`)
	inputWidth := eval(`document.querySelector('#input').naturalWidth`)
	errorHidden := eval(`document.querySelector('#error').hidden ? 1 : 0`) == 1
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// A photo over the pixel limit is scaled down by the page, not refused.
	big := filepath.Join(t.TempDir(), "big.png")
	if err := os.WriteFile(big, encodePNG(t, scaled(testImages.ToImage(idx), 72)), 0o644); err != nil { // 2016 x 2016
		t.Fatal(err)
	}
	do("uploading an image over the pixel limit", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{big}),
		chromedp.Poll[chromedp.Void](`document.querySelector('#status').textContent.includes('big.png:') || !document.querySelector('#error').hidden`))
	bigStatus, bigError := text("#status"), eval(`document.querySelector('#error').hidden ? 0 : 1`)
	// The samples: a click classifies a Fashion-MNIST test image.
	do("clicking a sample", chromedp.Click(chromedp.CSS(`#sample-list button[title="Sneaker"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('#status').textContent.includes('Sneaker:')`))
	sampleStatus := text("#status")
	foreign, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin) && !n.startsWith('data:') && !n.startsWith('blob:'))`))
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv(screenshotEnv); p != "" {
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	if topClass != want.Predictions[0].Class {
		t.Errorf("the page shows %q, the API predicts %q", topClass, want.Predictions[0].Class)
	}
	if !strings.HasSuffix(topProb, "%") || bars != pageTop || salWidth != 28 || inputWidth != 28 || !errorHidden {
		t.Errorf("probability %q, %d bars (want %d), saliency %dpx, input %dpx (want 28), error hidden %v",
			topProb, bars, pageTop, salWidth, inputWidth, errorHidden)
	}
	if !strings.Contains(model, "epoch-0001") || !strings.Contains(model, "1x28x28") || !strings.Contains(model, "% on fashion-mnist-small/test") {
		t.Errorf("the model line says %q", model)
	}
	if !strings.Contains(status, "upload.png") || !strings.Contains(status, "epoch-0001") {
		t.Errorf("status %q", status)
	}
	if bigError != 0 || !strings.Contains(bigStatus, "big.png: answered by epoch-0001") {
		t.Errorf("a 2016 x 2016 upload: status %q, error shown %v", bigStatus, bigError == 1)
	}
	if !strings.Contains(sampleStatus, "a test image of a Sneaker") {
		t.Errorf("after a sample: status %q", sampleStatus)
	}
	if len(foreign) > 0 {
		t.Errorf("the page loaded from other sites: %v", foreign)
	}
}

// browserSession runs steps in a headless Chromium, failing the test with what it
// was doing.
type browserSession struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T, path string) *browserSession {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1200),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return &browserSession{t: t, ctx: ctx}
}

func (b *browserSession) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("in the browser, %s: %v", what, err)
	}
}

func (b *browserSession) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("in the browser, reading %s: %v", sel, err)
	}
	return s
}

func (b *browserSession) eval(js string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js))
	if err != nil {
		b.t.Fatalf("in the browser, %s: %v", js, err)
	}
	return n
}

// pageTop is the number of classes the page asks for (app.js).
const pageTop = 5
