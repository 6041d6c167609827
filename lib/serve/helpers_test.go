package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

// testDir holds what the tests share; testImages the embedded test set.
var (
	testDir    string
	testImages *data.Dataset
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gopherdl-serve-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testDir = dir
	_, testImages = embedded.MustLoad()
	return m.Run()
}

var (
	trainOnce  sync.Once
	trainedDir string
	trainErr   error
)

// testModel returns a checkpoint folder trained once for every test that asks (1
// epoch on part of the embedded dataset: a few seconds); the fuzz target's workers
// never ask.
func testModel(t testing.TB) string {
	t.Helper()
	trainOnce.Do(func() {
		trainDS, testDS := embedded.MustLoad()
		trainedDir = filepath.Join(testDir, "checkpoints")
		trainErr = trainTestModel(trainedDir, trainDS, testDS)
	})
	if trainErr != nil {
		t.Fatalf("training the test model: %v", trainErr)
	}
	return trainedDir
}

func trainTestModel(dir string, trainDS, testDS *data.Dataset) error {
	cfg := train.DefaultConfig()
	cfg.Epochs = 1
	cfg.LR = 0.05
	cfg.Momentum = 0.9
	cfg.Quiet = true
	cfg.CheckpointDir = dir
	m := train.New(nn.Net(10), cfg)
	_, err := m.Fit(context.Background(), trainDS.Head(2000), testDS.Head(200))
	return err
}

// copyDir copies the checkpoint folder src into a new temporary folder.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "checkpoints")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newServer starts a Server on the test model (or cfg.ModelDir) behind httptest,
// logging into the returned buffer.
func newServer(t testing.TB, cfg Config) (*Server, *httptest.Server, *syncBuffer) {
	t.Helper()
	return newServerWith(t, cfg, trainSource{})
}

// newServerWith is newServer with the models of src.
func newServerWith(t testing.TB, cfg Config, src source) (*Server, *httptest.Server, *syncBuffer) {
	t.Helper()
	if cfg.ModelDir == "" {
		cfg.ModelDir = testModel(t)
	}
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	cfg.LogRequests = true
	s, err := newWithSource(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts, logs
}

// pngOf encodes test image i as PNG.
func pngOf(t testing.TB, i int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImages.ToImage(i)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodePNG encodes img as PNG.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngBomb is a valid-looking PNG of about size bytes whose header claims w x h
// pixels: a 1x1 PNG with its IHDR width and height (and CRC) patched, and a large
// text chunk.
func pngBomb(t testing.TB, w, h uint32, size int) []byte {
	t.Helper()
	b := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	// signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ...
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	ihdrLen := binary.BigEndian.Uint32(b[8:])
	crcAt := 16 + int(ihdrLen)
	binary.BigEndian.PutUint32(b[crcAt:], crc32.ChecksumIEEE(b[12:crcAt]))
	text := append([]byte("Comment\x00"), bytes.Repeat([]byte("x"), size)...)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(text)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, text...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	end := crcAt + 4
	out := append(append(append([]byte{}, b[:end]...), chunk...), b[end:]...)
	return out
}

type part struct {
	field, name string
	body        []byte
}

// multipartBody builds a multipart/form-data body.
func multipartBody(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.name == "" {
			w, err = mw.CreateFormField(p.field)
		} else {
			w, err = mw.CreateFormFile(p.field, p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.body)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// post sends body with contentType and decodes the JSON answer into out (when not
// nil); it returns the response.
func post(t testing.TB, url, contentType string, body []byte, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req, out)
}

func do(t testing.TB, req *http.Request, out any) *http.Response {
	t.Helper()
	res, b := send(t, req)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: HTTP %d, body %q: %v", req.Method, req.URL, res.StatusCode, b, err)
		}
	}
	return res
}

// send makes a request and returns its answer with the body read.
func send(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// get returns the body of GET url.
func get(t testing.TB, url string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, b := send(t, req)
	return string(b)
}

// scaled enlarges img by an integer factor (nearest neighbour).
func scaled(img image.Image, f int) image.Image {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx()*f, b.Dy()*f))
	for y := range b.Dy() * f {
		for x := range b.Dx() * f {
			out.Set(x, y, img.At(b.Min.X+x/f, b.Min.Y+y/f))
		}
	}
	return out
}

// wrapping serves the checkpoints as trainSource does, with each model loaded
// wrapped by wrap: the tests' gates and counters sit inside the server's model calls.
type wrapping struct {
	trainSource
	wrap func(inference) inference
}

func (w wrapping) load(dir string, maxBatch int) (inference, checkpoint, error) {
	m, ck, err := w.trainSource.load(dir, maxBatch)
	if err != nil {
		return nil, ck, err
	}
	return w.wrap(m), ck, nil
}

// hooked runs its hooks inside a model's calls, once armed (after the warm-up).
type hooked struct {
	inference
	armed         *atomic.Bool
	beforePredict func(n int)
	beforeExplain func()
}

func (h *hooked) predict(imgs []image.Image) ([][]float64, error) {
	if h.beforePredict != nil && h.armed.Load() {
		h.beforePredict(len(imgs))
	}
	return h.inference.predict(imgs)
}

func (h *hooked) explain(img image.Image) ([]float64, []float32, error) {
	if h.beforeExplain != nil && h.armed.Load() {
		h.beforeExplain()
	}
	return h.inference.explain(img)
}

// withHooks is a source whose models run the hooks once armed is set.
func withHooks(armed *atomic.Bool, beforePredict func(n int), beforeExplain func()) source {
	return wrapping{wrap: func(m inference) inference {
		return &hooked{inference: m, armed: armed, beforePredict: beforePredict, beforeExplain: beforeExplain}
	}}
}
