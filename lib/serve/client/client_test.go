package client_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/serve"
	"github.com/gopherdl/gopherdl/lib/serve/client"
	"github.com/gopherdl/gopherdl/lib/serve/scrape"
	"github.com/gopherdl/gopherdl/lib/train"
)

// modelDir holds a model trained once for every test (1 epoch on 500 images).
var (
	modelDir string
	testSet  *data.Dataset
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gopherdl-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	modelDir = filepath.Join(dir, "checkpoints")
	trainSet, test := embedded.MustLoad()
	testSet = test
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.Quiet, cfg.CheckpointDir = 1, true, modelDir
	if _, err := train.New(nn.Net(10), cfg).Fit(context.Background(), trainSet.Head(500), test.Head(100)); err != nil {
		fmt.Fprintln(os.Stderr, "training the test model:", err)
		return 1
	}
	return m.Run()
}

// newServer serves the test model on a loopback port.
func newServer(t *testing.T) *client.Client {
	t.Helper()
	s, err := serve.New(serve.Config{ModelDir: modelDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return client.New(ts.URL)
}

func pngOf(t *testing.T, name string, i int) client.Image {
	t.Helper()
	img, err := client.PNG(name, testSet.ToImage(i))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPredict(t *testing.T) {
	c := newServer(t)
	ctx := context.Background()
	one, err := c.Predict(ctx, 2, pngOf(t, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	if one.Model != "epoch-0001" || len(one.Predictions) != 2 || len(one.Results) != 1 || one.Results[0].Name != "" {
		t.Errorf("one image: %+v", one)
	}
	three, err := c.Predict(ctx, 0, pngOf(t, "a.png", 0), pngOf(t, "b.png", 1), pngOf(t, "c.png", 2))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range three.Results {
		if want := string(rune('a'+i)) + ".png"; r.Name != want || len(r.Predictions) != 10 {
			t.Errorf("result %d: %q with %d classes, want %q with all 10", i, r.Name, len(r.Predictions), want)
		}
	}
	if one.Predictions[0] != three.Results[0].Predictions[0] {
		t.Errorf("the same image: %v alone, %v in a form", one.Predictions[0], three.Results[0].Predictions[0])
	}

	// Files, by their names.
	dir := t.TempDir()
	path := filepath.Join(dir, "shoe.png")
	if err := os.WriteFile(path, pngOf(t, "", 0).Data, 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := c.PredictFiles(ctx, 1, path)
	if err != nil || files.Results[0].Name != "shoe.png" || files.Predictions[0] != one.Predictions[0] {
		t.Errorf("PredictFiles: %+v, %v", files, err)
	}
	if _, err := c.PredictFiles(ctx, 1, filepath.Join(dir, "missing.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

// TestErrors: an answer that is not a success is an *Error with the status, the
// server's message and the request id sent.
func TestErrors(t *testing.T) {
	c := newServer(t)
	ctx := client.WithRequestID(context.Background(), "test-not-an-image")
	_, err := c.Predict(ctx, 1, client.Image{Data: []byte("not a PNG at all")})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnsupportedMediaType || !strings.Contains(e.Message, "not a valid image") || e.RequestID != "test-not-an-image" {
		t.Fatalf("a body that is no image: %#v", err)
	}
	if want := "415 Unsupported Media Type: "; !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "(request test-not-an-image)") {
		t.Errorf("%q", err)
	}
	if _, err := c.Predict(ctx, 1); err == nil {
		t.Errorf("no image: no error")
	}
	if _, err := client.New("http://127.0.0.1:1").Model(context.Background()); err == nil {
		t.Errorf("no server: no error")
	}
}

func TestExplainModelReady(t *testing.T) {
	c := newServer(t)
	ctx := context.Background()
	ex, err := c.Explain(ctx, 3, pngOf(t, "", 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Predictions) != 3 || ex.SaliencyClass != ex.Predictions[0].Class || ex.Model != "epoch-0001" {
		t.Errorf("explanation: %+v", ex)
	}
	for name, img := range map[string]image.Image{"input": ex.Input, "saliency": ex.Saliency} {
		if b := img.Bounds(); b.Dx() != 28 || b.Dy() != 28 {
			t.Errorf("%s is %v, want the model's 28x28", name, b)
		}
	}
	m, err := c.Model(ctx)
	if err != nil || m.Checkpoint != "epoch-0001" || len(m.Classes) != 10 || m.Shape.String() != "1x28x28" || len(m.History) != 1 {
		t.Errorf("model: %+v, %v", m, err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Errorf("ready: %v", err)
	}
}

// TestMetrics: two readings of /metrics, around known traffic, tell its requests,
// codes, latency, batches and predicted classes.
func TestMetrics(t *testing.T) {
	c := newServer(t)
	ctx := context.Background()
	before, err := c.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	imgs := make([]image.Image, 12)
	for i := range imgs {
		imgs[i] = testSet.ToImage(i)
	}
	answers, failed, err := c.PredictEach(ctx, 1, imgs, 4)
	if failed != 0 || err != nil {
		t.Fatalf("%d failed: %v", failed, err)
	}
	for i, a := range answers {
		if a == nil || len(a.Predictions) != 1 {
			t.Fatalf("answer %d: %+v", i, a)
		}
	}
	c.Predict(ctx, 1, client.Image{Data: []byte("junk")})
	after, err := c.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := after.Since(before)
	if n := d.Requests("/v1/predict"); n != 13 {
		t.Errorf("%v predictions counted, want 13", n)
	}
	if codes := d.Codes(); codes["200"] < 13 || codes["415"] != 1 { // 200s: the first /metrics too
		t.Errorf("codes: %v", codes)
	}
	if cl, srv := d.Errors(); cl != 1 || srv != 0 {
		t.Errorf("errors: %v client, %v server; want 1 and 0", cl, srv)
	}
	lat := d.Latency("/v1/predict")
	if lat.Count != 13 || lat.Mean() <= 0 || !(lat.Quantile(0.5) > 0) || lat.Quantile(0.99) < lat.Quantile(0.5) {
		t.Errorf("latency: %+v, p50 %v, p99 %v", lat, lat.Quantile(0.5), lat.Quantile(0.99))
	}
	if calls, mean := d.ModelCalls(), d.MeanBatch(); calls < 1 || calls > 12 || math.Abs(calls*mean-12) > 1e-9 {
		t.Errorf("%v model calls of %v images each, want 12 images", calls, mean)
	}
	total := 0.0
	for _, n := range d.Predicted() {
		total += n
	}
	shares := d.PredictedShares(testSet.Classes)
	sum := 0.0
	for _, s := range shares {
		sum += s
	}
	if total != 12 || math.Abs(sum-1) > 1e-9 {
		t.Errorf("%v predictions by class, shares summing to %v", total, sum)
	}
	if d.Elapsed <= 0 || d.RequestRate("/v1/predict") <= 0 || after.Value(scrape.ResidentMemory) <= 0 {
		t.Errorf("elapsed %v, rate %v, memory %v", d.Elapsed, d.RequestRate("/v1/predict"), after.Value(scrape.ResidentMemory))
	}
	if before.Requests("/v1/predict") != 0 || after.Requests("/v1/predict") != 13 {
		t.Errorf("the readings themselves: %v, %v", before.Requests("/v1/predict"), after.Requests("/v1/predict"))
	}
}

func TestParseMetricsErrors(t *testing.T) {
	if _, err := scrape.Parse(strings.NewReader("a_metric{label=\"x\" 1\n"), time.Time{}); err == nil || !strings.Contains(err.Error(), "reading metrics") {
		t.Errorf("a broken line: %v", err)
	}
}
