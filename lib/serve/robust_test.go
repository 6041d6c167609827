package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/plot"
	"github.com/gopherdl/gopherdl/lib/serve/api"
	"github.com/gopherdl/gopherdl/lib/train"
)

// TestNoPlottingLibrary: the server does not link gonum/plot (lib/plot draws the
// notebooks' figures; the server draws its one overlay itself).
func TestNoPlottingLibrary(t *testing.T) {
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gocmd, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "gonum") || strings.HasSuffix(pkg, "/lib/plot") {
			t.Errorf("lib/serve depends on %s", pkg)
		}
	}
}

// TestOverlayMatchesPlot: the server's overlay is lib/plot's SaliencyOverlay, up to
// rounding.
func TestOverlayMatchesPlot(t *testing.T) {
	img := testImages.ToImage(7)
	b := img.Bounds()
	sal := make([]float32, b.Dx()*b.Dy())
	for i := range sal {
		sal[i] = float32(i%b.Dx()) / float32(b.Dx()-1) // 0 on the left to 1 on the right
	}
	sal[3] = float32(math.NaN())
	got, err := overlay(img, sal)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plot.SaliencyOverlay(img, sal)
	if err != nil {
		t.Fatal(err)
	}
	for y := range b.Dy() {
		for x := range b.Dx() {
			g, w := color.NRGBAModel.Convert(got.At(x, y)).(color.NRGBA), color.NRGBAModel.Convert(want.At(x, y)).(color.NRGBA)
			for _, d := range []int{int(g.R) - int(w.R), int(g.G) - int(w.G), int(g.B) - int(w.B), int(g.A) - int(w.A)} {
				if d < -2 || d > 2 {
					t.Fatalf("pixel (%d, %d): %v, lib/plot draws %v", x, y, g, w)
				}
			}
		}
	}
	if _, err := overlay(img, sal[:10]); err == nil {
		t.Errorf("a map of 10 values for a 28x28 image: no error")
	}
}

// halfSent opens a connection that sends a prediction's headers, announcing a
// body of n bytes, and only the first bytes of it.
func halfSent(t *testing.T, addr string, n int64) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n\x89PNG", n)
	return c
}

// TestMemoryBudget: a request body is read only once its bytes are held in the
// budget; when bodies hold it all, a further request waits MemoryWait, then gets a
// JSON 503 with Retry-After; once one body is given up, requests go through again,
// and nothing stays held.
func TestMemoryBudget(t *testing.T) {
	const body = 1 << 20
	cfg := Config{MaxBodyBytes: body, MaxPixels: 64 * 64, MemoryWait: 300 * time.Millisecond}
	cfg.MaxMemory = 2*body + decodeReserve(cfg.MaxPixels) // room for two bodies
	s, ts, _ := newServer(t, cfg)
	addr := strings.TrimPrefix(ts.URL, "http://")
	first, second := halfSent(t, addr, body), halfSent(t, addr, body)
	defer second.Close()
	waitFor(t, 10*time.Second, "two bodies held", func() bool { return s.mem.inUse.Load() == 2*body })

	var got api.Error
	start := time.Now()
	res := post(t, ts.URL+"/v1/predict", "image/png", pngOf(t, 0), &got)
	took := time.Since(start)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(got.Error, "memory for requests") {
		t.Errorf("with the budget held: HTTP %d %q (Retry-After %q), want 503 saying the memory is in use", res.StatusCode, got.Error, res.Header.Get("Retry-After"))
	}
	if took < cfg.MemoryWait || took > cfg.MemoryWait+2*time.Second {
		t.Errorf("refused after %v, want after the MemoryWait of %v", took, cfg.MemoryWait)
	}
	if s.mem.inUse.Load() > cfg.MaxMemory {
		t.Errorf("%d bytes held, over the budget of %d", s.mem.inUse.Load(), cfg.MaxMemory)
	}

	first.Close() // its handler's read fails, and its share returns
	waitFor(t, 10*time.Second, "one body released", func() bool { return s.mem.inUse.Load() == body })
	if res := post(t, ts.URL+"/v1/predict", "image/png", pngOf(t, 0), nil); res.StatusCode != http.StatusOK {
		t.Errorf("with room again: HTTP %d", res.StatusCode)
	}
	second.Close()
	waitFor(t, 10*time.Second, "nothing held", func() bool { return s.mem.inUse.Load() == 0 })
	metrics := get(t, ts.URL+"/metrics")
	for _, want := range []string{"gopherdl_request_memory_bytes 0", "gopherdl_request_memory_limit_bytes " + strconv.FormatFloat(float64(cfg.MaxMemory), 'g', -1, 64)} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// TestMemoryConfig: a budget that cannot hold one largest body and one largest
// decode is refused, saying what to change.
func TestMemoryConfig(t *testing.T) {
	_, err := New(Config{ModelDir: testModel(t), MaxMemory: 16 << 20})
	if err == nil || !strings.Contains(err.Error(), "max memory 16777216 bytes cannot hold") {
		t.Errorf("a 16 MiB budget with the default limits: %v", err)
	}
}

// TestDecodeCost: the bytes held for a decode cover what Go's decoders allocate.
func TestDecodeCost(t *testing.T) {
	for _, c := range []struct {
		model  color.Model
		format string
		want   int64
	}{
		{color.GrayModel, "png", 2},
		{color.NRGBA64Model, "png", 16},
		{color.YCbCrModel, "jpeg", 15},
		{color.CMYKModel, "jpeg", 24},
		{color.Palette{color.Black}, "gif", 1},
		{color.NRGBAModel, "webp", 12},
		{color.RGBAModel, "bmp", 4},
	} {
		if got := decodeCost(image.Config{ColorModel: c.model, Width: 100, Height: 10}, c.format); got != 1000*c.want+decoderBuffers {
			t.Errorf("%s %T: %d bytes for 1000 pixels, want %d per pixel", c.format, c.model, got-decoderBuffers, c.want)
		}
	}
}

// TestReloadComparesFolders: a folder beside the checkpoints that train does not
// take for the newest (a user's epoch-0003.bak; epoch-9999 beside epoch-10000)
// never makes the watcher load again: it compares the folder served with the
// newest one, by name.
func TestReloadComparesFolders(t *testing.T) {
	for _, c := range []struct {
		names  [2]string
		newest string
	}{
		{[2]string{"epoch-0003", "epoch-0003.bak"}, "epoch-0003"},
		{[2]string{"epoch-9999", "epoch-10000"}, "epoch-10000"},
	} {
		names := c.names
		t.Run(names[1], func(t *testing.T) {
			dir := copyDir(t, testModel(t))
			for _, n := range names {
				if err := os.CopyFS(filepath.Join(dir, n), os.DirFS(filepath.Join(dir, "epoch-0001"))); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.RemoveAll(filepath.Join(dir, "epoch-0001")); err != nil {
				t.Fatal(err)
			}
			s, ts, logs := newServer(t, Config{ModelDir: dir, Poll: 5 * time.Millisecond})
			time.Sleep(300 * time.Millisecond) // 60 polls
			if got, want := s.Checkpoint(), filepath.Join(dir, c.newest); got != want || train.LatestCheckpoint(dir) != want {
				t.Errorf("serving %s, train's newest is %s, want %s", got, train.LatestCheckpoint(dir), want)
			}
			metrics := get(t, ts.URL+"/metrics")
			for _, want := range []string{`gopherdl_model_reloads_total{result="ok"} 0`, `gopherdl_model_reloads_total{result="error"} 0`} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics has no %s: the watcher loaded again", want)
				}
			}
			if strings.Contains(logs.String(), "checkpoint\",\"checkpoint") || strings.Count(logs.String(), `"msg":"model loaded"`) != 1 {
				t.Errorf("logs:\n%s", lastLines(logs.String(), 5))
			}
			t.Logf("%v: serving %s", names, filepath.Base(s.Checkpoint()))
		})
	}
}

// TestPollZero: Poll 0 never looks for a newer checkpoint; a negative one is an error.
func TestPollZero(t *testing.T) {
	dir := copyDir(t, testModel(t))
	s, _, _ := newServer(t, Config{ModelDir: dir})
	if err := os.CopyFS(filepath.Join(dir, "epoch-0002"), os.DirFS(filepath.Join(dir, "epoch-0001"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := filepath.Base(s.Checkpoint()); got != "epoch-0001" {
		t.Errorf("with Poll 0, the server switched to %s", got)
	}
	if _, err := New(Config{ModelDir: dir, Poll: -time.Second}); err == nil || !strings.Contains(err.Error(), "0 for never") {
		t.Errorf("a negative Poll: %v", err)
	}
}

// counting wraps each model loaded: it counts the models closed, and fails a call on
// a model after its close (which the test's requests would report).
type counting struct {
	closes atomic.Int64
}

type countedModel struct {
	inference
	c      *counting
	closed atomic.Bool
}

func (m *countedModel) predict(imgs []image.Image) ([][]float64, error) {
	if m.closed.Load() {
		return nil, errors.New("predict on a closed model")
	}
	return m.inference.predict(imgs)
}

func (m *countedModel) explain(img image.Image) ([]float64, []float32, error) {
	if m.closed.Load() {
		return nil, nil, errors.New("explain on a closed model")
	}
	return m.inference.explain(img)
}

func (m *countedModel) close() error {
	if m.closed.Swap(true) {
		return errors.New("closed twice")
	}
	m.c.closes.Add(1)
	return m.inference.close()
}

func (c *counting) source() source {
	return wrapping{wrap: func(m inference) inference { return &countedModel{inference: m, c: c} }}
}

// TestSwappedModelsClosed: across 20 reloads under load, each model swapped out is
// closed once, after its last call (no call fails on a closed model), and only the
// served model stays loaded.
func TestSwappedModelsClosed(t *testing.T) {
	var c counting
	s, ts, logs := newServerWith(t, Config{MaxBatch: 4}, c.source())
	img := pngOf(t, 1)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	answered := 0
	for i := range 4 {
		route := []string{"/v1/predict", "/v1/explain"}[i%2]
		wg.Go(func() {
			for !stop.Load() {
				res, err := http.Post(ts.URL+route, "image/png", strings.NewReader(string(img)))
				var b []byte
				if err == nil {
					b, _ = io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						err = fmt.Errorf("%s: HTTP %d: %s", route, res.StatusCode, b)
					}
				}
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				}
				answered++
				mu.Unlock()
			}
		})
	}
	most := int64(0)
	for range 20 {
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
		most = max(most, s.live.Load())
	}
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed, e.g. %s", len(failures), answered, failures[0])
	}
	waitFor(t, 5*time.Second, "the swapped-out models closed", func() bool { return c.closes.Load() == 20 })
	if n := s.live.Load(); n != 1 {
		t.Errorf("%d models loaded after 20 reloads, want 1", n)
	}
	if !strings.Contains(get(t, ts.URL+"/metrics"), "gopherdl_models_loaded 1\n") {
		t.Errorf("/metrics does not count 1 model loaded")
	}
	if strings.Contains(logs.String(), "closing a model") {
		t.Errorf("a close failed:\n%s", logs)
	}
	s.Close()
	if n := c.closes.Load(); n != 21 || s.live.Load() != 0 {
		t.Errorf("after Close: %d models closed of 21, %d still loaded", n, s.live.Load())
	}
	t.Logf("%d requests during 20 reloads; at most %d models loaded at once", answered, most)
}

// broken is a model whose calls give what its fields say.
type broken struct {
	inference
	armed *atomic.Bool
	probs []float64
	err   error
}

func (b *broken) predict(imgs []image.Image) ([][]float64, error) {
	if !b.armed.Load() {
		return b.inference.predict(imgs)
	}
	out := make([][]float64, len(imgs))
	for i := range out {
		out[i] = b.probs
	}
	return out, b.err
}

func (b *broken) explain(img image.Image) ([]float64, []float32, error) {
	if !b.armed.Load() {
		return b.inference.explain(img)
	}
	return b.probs, make([]float32, 28*28), b.err
}

// TestModelFailures: NaN probabilities (weights that diverged) get a JSON 500 that
// says so, not a bare encoding error; a model's error reads once, with the
// checkpoint that failed.
func TestModelFailures(t *testing.T) {
	nan := make([]float64, 10)
	nan[2] = math.NaN()
	for _, c := range []struct {
		name  string
		probs []float64
		err   error
		want  string
	}{
		{"NaN", nan, nil, `model epoch-0001 computed a probability of NaN for class "Pullover" of the image: its weights are not usable`},
		{"error", nil, errors.New("predicting: the backend failed"), "model epoch-0001: predicting: the backend failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var armed atomic.Bool
			src := wrapping{wrap: func(m inference) inference {
				return &broken{inference: m, armed: &armed, probs: c.probs, err: c.err}
			}}
			_, ts, _ := newServerWith(t, Config{}, src)
			armed.Store(true)
			for _, route := range []string{"/v1/predict", "/v1/explain"} {
				var got api.Error
				res := post(t, ts.URL+route, "image/png", pngOf(t, 0), &got)
				if res.StatusCode != http.StatusInternalServerError || !strings.Contains(got.Error, c.want) {
					t.Errorf("%s: HTTP %d %q, want 500 saying %q", route, res.StatusCode, got.Error, c.want)
				}
				if strings.Count(got.Error, "predicting") > 1 || strings.Count(got.Error, "epoch-0001") != 1 {
					t.Errorf("%s: %q says the same thing twice", route, got.Error)
				}
			}
		})
	}
}

// TestRefusedAnswersArrive: a body refused before it is read (over the limit, or no
// memory for it) still gets its JSON answer to a client that goes on sending it:
// the server reads and drops the rest instead of resetting the connection, which
// would make the client's TCP stack drop the answer.
func TestRefusedAnswersArrive(t *testing.T) {
	const limit = 1 << 20
	cfg := Config{MaxBodyBytes: limit, MaxPixels: 64 * 64, MemoryWait: 100 * time.Millisecond}
	cfg.MaxMemory = limit + decodeReserve(cfg.MaxPixels) // room for one body
	s, ts, _ := newServer(t, cfg)
	hold := halfSent(t, strings.TrimPrefix(ts.URL, "http://"), limit)
	defer hold.Close()
	waitFor(t, 10*time.Second, "the budget held", func() bool { return s.mem.inUse.Load() == limit })

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	big, fits := make([]byte, 4*limit), make([]byte, limit/2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 40 {
		body := [][]byte{big, fits}[i%2]
		wg.Go(func() {
			code := 0
			if res, err := client.Post(ts.URL+"/v1/predict", "image/png", bytes.NewReader(body)); err == nil {
				var e api.Error
				if json.NewDecoder(res.Body).Decode(&e) == nil && e.Error != "" {
					code = res.StatusCode
				}
				res.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusRequestEntityTooLarge] != 20 || codes[http.StatusServiceUnavailable] != 20 {
		t.Errorf("answers by status (0: none, or not JSON): %v; want 20 x 413 and 20 x 503", codes)
	}
}
