package serve

import (
	"bytes"
	"encoding/base64"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/serve/api"
)

func checkSorted(t *testing.T, preds []Prediction) {
	t.Helper()
	for i := 1; i < len(preds); i++ {
		if preds[i].Probability > preds[i-1].Probability {
			t.Fatalf("predictions not sorted by probability: %v", preds)
		}
	}
}

func TestPredictRawBody(t *testing.T) {
	_, ts, _ := newServer(t, Config{})
	var got PredictResponse
	res := post(t, ts.URL+"/v1/predict", "image/png", pngOf(t, 0), &got)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", res.StatusCode)
	}
	if got.Model != "epoch-0001" {
		t.Errorf("model %q, want epoch-0001", got.Model)
	}
	if len(got.Predictions) != DefaultTop || len(got.Results) != 1 || len(got.Results[0].Predictions) != DefaultTop {
		t.Fatalf("want %d predictions and one result: %+v", DefaultTop, got)
	}
	checkSorted(t, got.Predictions)
	if got.Results[0].Name != "" {
		t.Errorf("an image sent as the body has no name; got %q", got.Results[0].Name)
	}
	if id := res.Header.Get(RequestIDHeader); len(id) < 16 {
		t.Errorf("no generated request id: %q", id)
	}
	// Sent as application/octet-stream, with no content type, and as JPEG.
	for _, ct := range []string{"application/octet-stream", ""} {
		if res := post(t, ts.URL+"/v1/predict", ct, pngOf(t, 0), nil); res.StatusCode != http.StatusOK {
			t.Errorf("Content-Type %q: HTTP %d", ct, res.StatusCode)
		}
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, testImages.ToImage(1), nil); err != nil {
		t.Fatal(err)
	}
	if res := post(t, ts.URL+"/v1/predict", "image/jpeg", jpg.Bytes(), &got); res.StatusCode != http.StatusOK {
		t.Errorf("JPEG: HTTP %d", res.StatusCode)
	}
}

func TestPredictTop(t *testing.T) {
	_, ts, _ := newServer(t, Config{})
	for _, c := range []struct {
		query string
		want  int
	}{{"?top=0", 10}, {"?top=1", 1}, {"?top=3", 3}, {"?top=100", 10}, {"", DefaultTop}} {
		var got PredictResponse
		if res := post(t, ts.URL+"/v1/predict"+c.query, "image/png", pngOf(t, 2), &got); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: HTTP %d", c.query, res.StatusCode)
		}
		if len(got.Predictions) != c.want {
			t.Errorf("%s: %d predictions, want %d", c.query, len(got.Predictions), c.want)
		}
		checkSorted(t, got.Predictions)
		if c.want == 10 {
			sum := 0.0
			seen := map[int]bool{}
			for _, p := range got.Predictions {
				sum += p.Probability
				seen[p.Index] = true
				if p.Class != testImages.Classes[p.Index] {
					t.Errorf("class %q at index %d, want %q", p.Class, p.Index, testImages.Classes[p.Index])
				}
			}
			if math.Abs(sum-1) > 1e-4 || len(seen) != 10 {
				t.Errorf("%s: probabilities sum to %v over %d classes, want 1 over 10", c.query, sum, len(seen))
			}
		}
	}
}

func TestPredictMultipart(t *testing.T) {
	_, ts, _ := newServer(t, Config{})
	names := []string{"a.png", "b.png", "c.png"}
	var parts []part
	for i, n := range names {
		parts = append(parts, part{"image", n, pngOf(t, i*100)})
	}
	ct, body := multipartBody(t, parts...)
	var got PredictResponse
	if res := post(t, ts.URL+"/v1/predict?top=0", ct, body, &got); res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", res.StatusCode)
	}
	if len(got.Results) != len(names) {
		t.Fatalf("%d results for %d images", len(got.Results), len(names))
	}
	for i, r := range got.Results {
		if r.Name != names[i] {
			t.Errorf("result %d is %q, want %q (upload order)", i, r.Name, names[i])
		}
		checkSorted(t, r.Predictions)
		// Batched or alone, an image gets the same answer.
		var one PredictResponse
		post(t, ts.URL+"/v1/predict?top=0", "image/png", pngOf(t, i*100), &one)
		for k := range r.Predictions {
			a, b := r.Predictions[k], one.Predictions[k]
			if a.Index != b.Index || math.Abs(a.Probability-b.Probability) > 1e-5 {
				t.Errorf("image %d: %v in a batch, %v alone", i, a, b)
			}
		}
	}
	if got.Predictions[0] != got.Results[0].Predictions[0] {
		t.Errorf("predictions are not the first image's")
	}
}

func TestRequestID(t *testing.T) {
	_, ts, logs := newServer(t, Config{})
	for _, c := range []struct{ sent, want string }{
		{"abc-123.x_y:z", "abc-123.x_y:z"},
		{"has spaces", ""},
		{strings.Repeat("a", 200), ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/healthz", nil)
		req.Header.Set(RequestIDHeader, c.sent)
		res := do(t, req, nil)
		got := res.Header.Get(RequestIDHeader)
		if c.want != "" && got != c.want || c.want == "" && (got == c.sent || got == "") {
			t.Errorf("sent %q, answered %q", c.sent, got)
		}
		if !strings.Contains(logs.String(), `"request_id":"`+got+`"`) {
			t.Errorf("no log line with request id %q", got)
		}
	}
}

// TestBadInput: every refused request gets its status and a JSON error that says
// what was wrong.
func TestBadInput(t *testing.T) {
	_, ts, _ := newServer(t, Config{MaxBodyBytes: 2 << 20, MaxFiles: 2})
	img := pngOf(t, 0)
	corrupt := append([]byte{}, img[:len(img)/2]...)
	one := func(field string) (string, []byte) { return multipartBody(t, part{field, "x.png", img}) }
	threeCT, three := multipartBody(t, part{"image", "1.png", img}, part{"image", "2.png", img}, part{"image", "3.png", img})
	twoCT, two := multipartBody(t, part{"image", "1.png", img}, part{"image", "2.png", img})
	wrongCT, wrong := one("file")
	noneCT, none := multipartBody(t, part{"other", "", []byte("text")})
	emptyCT, emptyFile := multipartBody(t, part{"image", "e.png", nil})
	cases := []struct {
		name, method, path, ct string
		body                   []byte
		code                   int
		msg                    string
	}{
		{"oversize body", "POST", "/v1/predict", "image/png", make([]byte, 3<<20), 413, "over the limit of 2097152 bytes"},
		{"non-image", "POST", "/v1/predict", "image/png", []byte("hello, this is text"), 415, "not a valid image"},
		{"non-image octet-stream", "POST", "/v1/predict", "application/octet-stream", []byte("{}"), 415, "not a valid image"},
		{"corrupt image", "POST", "/v1/predict", "image/png", corrupt, 400, "not a valid png image"},
		{"empty body", "POST", "/v1/predict", "image/png", nil, 400, "empty body"},
		{"text content type", "POST", "/v1/predict", "text/plain", img, 415, `Content-Type "text/plain" is not accepted`},
		{"json content type", "POST", "/v1/predict", "application/json", img, 415, "is not accepted"},
		{"form content type", "POST", "/v1/predict", "application/x-www-form-urlencoded", img, 415, "is not accepted"},
		{"malformed content type", "POST", "/v1/predict", "image/", img, 415, "Content-Type"},
		{"too many files", "POST", "/v1/predict", threeCT, three, 400, "too many images: at most 2"},
		{"explain takes one image", "POST", "/v1/explain", twoCT, two, 400, "too many images: this endpoint takes one"},
		{"wrong field", "POST", "/v1/predict", wrongCT, wrong, 400, `unexpected form field "file"`},
		{"no file", "POST", "/v1/predict", noneCT, none, 400, `unexpected form field "other"`},
		{"empty file", "POST", "/v1/predict", emptyCT, emptyFile, 400, `image "e.png" is empty`},
		{"empty multipart", "POST", "/v1/predict", "multipart/form-data; boundary=x", []byte("--x--\r\n"), 400, "no image"},
		{"multipart without boundary", "POST", "/v1/predict", "multipart/form-data", img, 400, "multipart"},
		{"bad top", "POST", "/v1/predict?top=abc", "image/png", img, 400, `top="abc"`},
		{"negative top", "POST", "/v1/predict?top=-1", "image/png", img, 400, "want a whole number >= 0"},
		{"fractional top", "POST", "/v1/explain?top=1.5", "image/png", img, 400, "top="},
		{"GET predict", "GET", "/v1/predict", "", nil, 405, "method GET not allowed on /v1/predict: use POST"},
		{"PUT explain", "PUT", "/v1/explain", "image/png", img, 405, "use POST"},
		{"POST healthz", "POST", "/healthz", "", nil, 405, "use GET"},
		{"DELETE metrics", "DELETE", "/metrics", "", nil, 405, "use GET"},
		{"POST page", "POST", "/", "", nil, 405, "use GET"},
		{"unknown route", "GET", "/nope", "", nil, 404, "no such page: /nope"},
		{"predict sub-path", "POST", "/v1/predict/x", "image/png", img, 404, "no such page"},
		{"missing static file", "GET", "/static/nope.js", "", nil, 404, "no such file"},
		{"static folder", "GET", "/static/samples/", "", nil, 404, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, ts.URL+c.path, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			var got api.Error
			res := do(t, req, &got)
			if res.StatusCode != c.code {
				t.Errorf("HTTP %d, want %d (%q)", res.StatusCode, c.code, got.Error)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if !strings.Contains(got.Error, c.msg) {
				t.Errorf("error %q does not say %q", got.Error, c.msg)
			}
			if got.RequestID == "" || got.RequestID != res.Header.Get(RequestIDHeader) {
				t.Errorf("request id %q in the body, %q in the header", got.RequestID, res.Header.Get(RequestIDHeader))
			}
			if c.code == 405 && res.Header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
}

// TestOversizeChunkedBody: a body over the limit with no Content-Length is cut off
// at the limit.
func TestOversizeChunkedBody(t *testing.T) {
	_, ts, _ := newServer(t, Config{MaxBodyBytes: 1 << 20})
	body := io.MultiReader(bytes.NewReader(pngOf(t, 0)), bytes.NewReader(make([]byte, 2<<20)))
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/predict", body)
	req.Header.Set("Content-Type", "image/png")
	var got api.Error
	res := do(t, req, &got)
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(got.Error, "over the limit of 1048576 bytes") {
		t.Errorf("HTTP %d %q, want 413 over the limit", res.StatusCode, got.Error)
	}
}

// TestPixelBomb: a 1.5 MB PNG whose header claims 40000x40000 pixels is refused
// from its header: fast, and without allocating its pixels (1.6 GB as gray).
func TestPixelBomb(t *testing.T) {
	_, ts, _ := newServer(t, Config{})
	bomb := pngBomb(t, 40000, 40000, 1500<<10)
	if len(bomb) < 1500<<10 {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	for _, ct := range []string{"image/png", "multipart"} {
		body, contentType := bomb, ct
		if ct == "multipart" {
			contentType, body = multipartBody(t, part{"image", "bomb.png", bomb})
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		var got api.Error
		res := post(t, ts.URL+"/v1/predict", contentType, body, &got)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: HTTP %d (%q), want 413", ct, res.StatusCode, got.Error)
		}
		if !strings.Contains(got.Error, "40000x40000") || !strings.Contains(got.Error, "image too large") {
			t.Errorf("%s: error %q does not give the claimed size", ct, got.Error)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%s: %d MB allocated while refusing it", ct, alloc>>20)
		}
		if took > 2*time.Second {
			t.Errorf("%s: refused in %v, want fast", ct, took)
		}
	}
}

func TestExplain(t *testing.T) {
	_, ts, _ := newServer(t, Config{})
	var got ExplainResponse
	if res := post(t, ts.URL+"/v1/explain?top=3", "image/png", pngOf(t, 7), &got); res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", res.StatusCode)
	}
	if len(got.Predictions) != 3 || got.Model != "epoch-0001" {
		t.Fatalf("%d predictions from %q", len(got.Predictions), got.Model)
	}
	if got.SaliencyClass != got.Predictions[0].Class {
		t.Errorf("saliency of %q, want the most probable class %q", got.SaliencyClass, got.Predictions[0].Class)
	}
	for name, url := range map[string]string{"input": got.Input, "saliency": got.Saliency} {
		b64, ok := strings.CutPrefix(url, "data:image/png;base64,")
		if !ok {
			t.Fatalf("%s is not a PNG data URL: %.40q", name, url)
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds().Dx() != 28 || img.Bounds().Dy() != 28 {
			t.Errorf("%s is %v, want the model's 28x28", name, img.Bounds())
		}
	}
	// A large image is resized to the model's input first.
	if res := post(t, ts.URL+"/v1/explain", "image/png", encodePNG(t, scaled(testImages.ToImage(7), 10)), &got); res.StatusCode != http.StatusOK {
		t.Fatalf("a 280x280 image: HTTP %d", res.StatusCode)
	}
}

func TestPagesAndProbes(t *testing.T) {
	_, ts, _ := newServer(t, Config{})
	for _, c := range []struct{ path, ct, want string }{
		{"/", "text/html; charset=utf-8", "Drop an image here"},
		{"/static/app.js", "text/javascript; charset=utf-8", "/v1/explain"},
		{"/static/style.css", "text/css; charset=utf-8", "#top-class"},
		{"/static/samples/samples.json", "application/json", "Sneaker"},
		{"/healthz", "application/json", `"ok"`},
		{"/readyz", "application/json", `"ready"`},
		{"/v1/model", "application/json", `"checkpoint":"epoch-0001"`},
	} {
		res, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != c.ct || !strings.Contains(string(b), c.want) {
			t.Errorf("GET %s: HTTP %d, %q, want 200, %q with %q", c.path, res.StatusCode, res.Header.Get("Content-Type"), c.ct, c.want)
		}
	}
	var m ModelResponse
	do(t, mustRequest(t, "GET", ts.URL+"/v1/model"), &m)
	if len(m.Classes) != 10 || m.Shape.String() != "1x28x28" || m.Epochs != 1 || len(m.History) != 1 {
		t.Errorf("model info: %+v", m)
	}
	if res := do(t, mustRequest(t, "HEAD", ts.URL+"/healthz"), nil); res.StatusCode != 200 {
		t.Errorf("HEAD /healthz: HTTP %d", res.StatusCode)
	}
	// The page uses no other origin: no CDN.
	for _, f := range []string{"web/index.html", "web/static/app.js", "web/static/style.css"} {
		b, err := webFS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
			t.Errorf("%s refers to another site", f)
		}
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestMetrics(t *testing.T) {
	_, ts, _ := newServer(t, Config{})
	post(t, ts.URL+"/v1/predict", "image/png", pngOf(t, 0), nil)
	post(t, ts.URL+"/v1/predict", "text/plain", []byte("x"), nil)
	http.Get(ts.URL + "/nope")
	res, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(b)
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("Content-Type %q, want Prometheus text", res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`gopherdl_http_requests_total{code="200",method="post",route="/v1/predict"} 1`,
		`gopherdl_http_requests_total{code="415",method="post",route="/v1/predict"} 1`,
		`gopherdl_http_requests_total{code="404",method="get",route="other"} 1`,
		`gopherdl_http_request_duration_seconds_bucket{method="post",route="/v1/predict",le="0.064"}`,
		`gopherdl_http_request_duration_seconds_count{method="post",route="/v1/predict"} 2`,
		`gopherdl_predictions_total{class="`,
		`gopherdl_model_info{checkpoint="epoch-0001",path="` + filepath.Join(testModel(t), "epoch-0001") + `",shape="1x28x28"} 1`,
		`gopherdl_model_loaded_timestamp_seconds `,
		`gopherdl_model_load_duration_seconds `,
		`gopherdl_model_epochs 1`,
		`gopherdl_model_reloads_total{result="ok"} 0`,
		`gopherdl_batch_images_bucket{le="1"}`,
		`gopherdl_batch_duration_seconds_count`,
		`gopherdl_queue_images 0`,
		`gopherdl_http_requests_in_flight 1`,
		`process_resident_memory_bytes `,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

func TestCheckpointDir(t *testing.T) {
	// A walkthrough -out folder: OUT/checkpoints.
	out := t.TempDir()
	if err := os.CopyFS(filepath.Join(out, "checkpoints"), os.DirFS(testModel(t))); err != nil {
		t.Fatal(err)
	}
	if got, err := CheckpointDir(out); err != nil || got != filepath.Join(out, "checkpoints") {
		t.Errorf("walkthrough folder: %q, %v", got, err)
	}
	if got, err := CheckpointDir(testModel(t)); err != nil || got != testModel(t) {
		t.Errorf("checkpoint folder: %q, %v", got, err)
	}
	for _, c := range []struct{ dir, want string }{
		{filepath.Join(testModel(t), "epoch-0001"), "give the folder that holds it"},
		{t.TempDir(), "no checkpoint (epoch-NNNN folders)"},
		{filepath.Join(out, "missing"), "no such file"},
	} {
		if _, err := CheckpointDir(c.dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.dir, err, c.want)
		}
		if _, err := New(Config{ModelDir: c.dir}); err == nil {
			t.Errorf("New(%s) did not fail", c.dir)
		}
	}
	if _, err := New(Config{ModelDir: testModel(t), MaxBatch: -1}); err == nil || !strings.Contains(err.Error(), "max batch") {
		t.Errorf("negative max batch: %v", err)
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "no model folder") {
		t.Errorf("no folder: %v", err)
	}
}
