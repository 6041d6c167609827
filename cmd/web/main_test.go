package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/onnx"
	"github.com/gopherdl/gopherdl/lib/serve"
	"github.com/gopherdl/gopherdl/lib/train"
)

// need skips the test for lack of what, saying how to install it, except in CI
// (CI=true), where it fails.
func need(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// chromium returns $CHROMIUM, else Debian's chromium.
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
	need(t, "no chromium to run the browser test: apt-get install chromium (or set CHROMIUM)")
	return ""
}

// TestSiteMatchesPredict writes the site of a briefly trained model, serves the
// folder with a plain static file server, uploads test images in headless
// Chromium, and finds on the page the top 3 classes /v1/predict answers.
// GOPHERDL_WEB_SCREENSHOT=page.png saves a screenshot of the page at the end.
func TestSiteMatchesPredict(t *testing.T) {
	browser := chromium(t)
	if _, err := os.Stat(filepath.Join(onnx.NPMDir(), "node_modules", "onnxruntime-web")); err != nil {
		need(t, "no onnxruntime-web: make npm (apt-get install nodejs npm)")
	}
	dir := filepath.Join(t.TempDir(), "checkpoints")
	trainDS, testDS := embedded.MustLoad()
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.LR, cfg.Momentum, cfg.Quiet, cfg.CheckpointDir = 1, 0.05, 0.9, true, dir
	if _, err := train.New(nn.Net(10), cfg).Fit(context.Background(), trainDS.Head(2000), testDS.Head(200)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "site")
	if err := run([]string{"-model", dir, "-out", out}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	static := httptest.NewServer(http.FileServer(http.Dir(out)))
	defer static.Close()
	srv, err := serve.New(serve.Config{ModelDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	api := httptest.NewServer(srv.Handler())
	defer api.Close()

	ctx := browserContext(t, browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(static.URL+"/"),
		chromedp.Poll[chromedp.Void](`document.body.dataset.state === 'ready' || document.body.dataset.state === 'error'`)); err != nil {
		t.Fatalf("opening the page: %v", err)
	}
	images := []int{0, 1, 2, 3, 4, 105, 210, 315, 420, 525}
	for _, i := range images {
		var img bytes.Buffer
		if err := png.Encode(&img, testDS.ToImage(i)); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "upload.png")
		if err := os.WriteFile(file, img.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := http.Post(api.URL+"/v1/predict?top=3", "image/png", bytes.NewReader(img.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		var want serve.PredictResponse
		err = json.NewDecoder(res.Body).Decode(&want)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.body.dataset.state = 'uploading', true)`)); err != nil {
			t.Fatal(err)
		}
		err = chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
			chromedp.Poll[chromedp.Void](`document.body.dataset.state === 'done' || document.body.dataset.state === 'error'`))
		var got []string
		if err == nil {
			got, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#top li')).map(li => li.textContent)`))
		}
		if err != nil {
			t.Fatalf("image %d in the browser: %v", i, err)
		}
		var wantTop []string
		for _, p := range want.Predictions {
			wantTop = append(wantTop, p.Class)
		}
		if len(got) != 3 {
			status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#status")))
			t.Fatalf("image %d: the page lists %q (status %q), want 3 classes", i, got, status)
		}
		for k := range got {
			if !strings.HasPrefix(got[k], wantTop[k]+" ") {
				t.Errorf("image %d: the page's top 3 are %q, /v1/predict's %q", i, got, wantTop)
				break
			}
		}
	}
	t.Logf("%d test images: the page's top 3 in order equal /v1/predict's", len(images))
	if p := os.Getenv("GOPHERDL_WEB_SCREENSHOT"); p != "" { // for looking at the page
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(p, shot, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func browserContext(t *testing.T, path string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(cancel)
	return ctx
}
