package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
)

var (
	fuzzOnce    sync.Once
	fuzzHandler http.Handler
	fuzzErr     error
)

// FuzzHTTP sends /v1/predict any body, content type and ?top=: every answer is JSON,
// a 200 with sorted classes as many as asked, or a 4xx (503 when busy) that says
// what was wrong; never a 500 or a crash. What it explores is the input path (the
// body, the form, the decoders, the limits): the model is a stand-in that answers
// in microseconds, so that each worker starts at once and runs many inputs.
func FuzzHTTP(f *testing.F) {
	img := pngOf(f, 0)
	ct, form := multipartBody(f, part{"image", "a.png", img}, part{"image", "b.png", pngOf(f, 1)})
	f.Add(img, "image/png", "3")
	f.Add(img, "", "")
	f.Add(form, ct, "0")
	f.Add(pngBomb(f, 40000, 40000, 100), "application/octet-stream", "1")
	f.Add([]byte("\x89PNG\r\n\x1a\nnoise"), "image/png", "-1")
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a\"\r\n\r\nGIF89a\r\n--x--\r\n"), "multipart/form-data; boundary=x", "10")
	f.Fuzz(func(t *testing.T, body []byte, contentType, top string) {
		fuzzOnce.Do(func() {
			var s *Server
			s, fuzzErr = newWithSource(Config{ModelDir: "fuzz", MaxBodyBytes: 1 << 20, MaxPixels: 512 * 512,
				MaxFiles: 4, Logger: slog.New(slog.DiscardHandler)}, standIn{})
			if s != nil {
				fuzzHandler = s.Handler()
			}
		})
		if fuzzErr != nil {
			t.Fatal(fuzzErr)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/predict?top="+url.QueryEscape(top), bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		fuzzHandler.ServeHTTP(rec, req)
		checkAnswer(t, rec, top)
	})
}

func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, top string) {
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("HTTP %d with Content-Type %q", rec.Code, ct)
	}
	switch rec.Code {
	case http.StatusOK:
		var got PredictResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Results) == 0 {
			t.Fatalf("200 with %q: %v", rec.Body.Bytes(), err)
		}
		for _, r := range got.Results {
			if len(r.Predictions) == 0 || len(r.Predictions) > 10 {
				t.Fatalf("%d classes for top=%q", len(r.Predictions), top)
			}
			for i := 1; i < len(r.Predictions); i++ {
				if r.Predictions[i].Probability > r.Predictions[i-1].Probability {
					t.Fatalf("not sorted: %v", r.Predictions)
				}
			}
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable:
		var got struct{ Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Error == "" {
			t.Fatalf("HTTP %d with %q: %v", rec.Code, rec.Body.Bytes(), err)
		}
	default:
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.Bytes())
	}
}

// standIn is a source of one model that answers from the images' mean brightness.
type standIn struct{}

func (standIn) latest(dir string) string { return filepath.Join(dir, "epoch-0001") }
func (standIn) version(string) time.Time { return time.Time{} }
func (standIn) load(dir string, _ int) (inference, checkpoint, error) {
	classes := make([]string, 10)
	for i := range classes {
		classes[i] = fmt.Sprint("class ", i)
	}
	return standInModel{}, checkpoint{folder: filepath.Join(dir, "epoch-0001"), classes: classes,
		shape: data.Shape{Channels: 1, Height: 28, Width: 28}}, nil
}

type standInModel struct{}

func (standInModel) predict(imgs []image.Image) ([][]float64, error) {
	out := make([][]float64, len(imgs))
	for i, img := range imgs {
		px, err := data.Pixels(img, data.Shape{Channels: 1, Height: 28, Width: 28})
		if err != nil {
			return nil, err
		}
		sum := 0
		for _, v := range px {
			sum += int(v)
		}
		out[i] = make([]float64, 10)
		out[i][sum/len(px)%10] = 1
	}
	return out, nil
}

func (m standInModel) explain(img image.Image) ([]float64, []float32, error) {
	p, err := m.predict([]image.Image{img})
	if err != nil {
		return nil, nil, err
	}
	return p[0], make([]float32, 28*28), nil
}

func (standInModel) close() error { return nil }
