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

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1200),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(alloc)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	// Each step in the browser, failing the test with what it was doing.
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("in the browser, %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("in the browser, reading %s: %v", sel, err)
		}
		return s
	}
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("in the browser, %s: %v", js, err)
		}
		return n
	}

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
	if !strings.Contains(sampleStatus, "a test image of a Sneaker") {
		t.Errorf("after a sample: status %q", sampleStatus)
	}
	if len(foreign) > 0 {
		t.Errorf("the page loaded from other sites: %v", foreign)
	}
}

// pageTop is the number of classes the page asks for (app.js).
const pageTop = 5
