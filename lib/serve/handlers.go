package serve

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/plot"
	"github.com/gopherdl/gopherdl/lib/train"
)

//go:embed web
var webFS embed.FS

// PredictResponse is the answer of POST /v1/predict.
type PredictResponse struct {
	// Model is the checkpoint that computed the answer, e.g. "epoch-0010" (the first
	// image's, in the rare case of a newer checkpoint swapped in between the images
	// of one request).
	Model string `json:"model"`
	// Predictions are the first image's classes, most probable first (the only
	// image's, for a request of one image).
	Predictions []train.Prediction `json:"predictions"`
	// Results has one entry per image, in the order they were sent.
	Results []Result `json:"results"`
}

// Result is one image's classes.
type Result struct {
	// Name is the file name of a multipart upload ("" for an image sent as the body).
	Name        string             `json:"name"`
	Predictions []train.Prediction `json:"predictions"`
}

// ExplainResponse is the answer of POST /v1/explain.
type ExplainResponse struct {
	Model       string             `json:"model"`
	Predictions []train.Prediction `json:"predictions"`
	// Input is the image as the model sees it (resized to its input shape, gray or
	// RGB), a PNG data URL.
	Input string `json:"input"`
	// Saliency is the gradient saliency map of the predicted class over Input (hot:
	// the pixels that move the class's score most), a PNG data URL.
	Saliency string `json:"saliency"`
	// SaliencyClass is the class the map explains: the most probable one.
	SaliencyClass string `json:"saliency_class"`
}

// ModelResponse is the answer of GET /v1/model.
type ModelResponse struct {
	Checkpoint  string          `json:"checkpoint"`
	Path        string          `json:"path"`
	Classes     []string        `json:"classes"`
	Shape       data.Shape      `json:"shape"`
	Epochs      int             `json:"epochs"`
	History     []metrics.Epoch `json:"history"`
	LoadedAt    time.Time       `json:"loaded_at"`
	LoadSeconds float64         `json:"load_seconds"`
	MaxBatch    int             `json:"max_batch"`
	MaxFiles    int             `json:"max_files"`
	MaxBodySize int64           `json:"max_body_bytes"`
	MaxPixels   int             `json:"max_pixels"`
}

// routes builds the handler: each route counted and timed under its name, unknown
// ones answered 404, all wrapped in the request-id, log and recover middleware.
func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	add := func(pattern, route string, h http.Handler, allowed ...string) {
		mux.Handle(pattern, s.mon.instrument(route, methods(h, allowed...)))
	}
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, fmt.Errorf("serve: the page's files: %w", err)
	}
	add("/{$}", "/", http.HandlerFunc(s.index), http.MethodGet)
	add("/static/", "/static", staticFiles(static), http.MethodGet)
	add("/v1/predict", "/v1/predict", http.HandlerFunc(s.predict), http.MethodPost)
	add("/v1/explain", "/v1/explain", http.HandlerFunc(s.explain), http.MethodPost)
	add("/v1/model", "/v1/model", http.HandlerFunc(s.modelInfo), http.MethodGet)
	add("/healthz", "/healthz", http.HandlerFunc(s.healthz), http.MethodGet)
	add("/readyz", "/readyz", http.HandlerFunc(s.readyz), http.MethodGet)
	add("/metrics", "/metrics", s.mon.handler(), http.MethodGet)
	mux.Handle("/", s.mon.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "no such page: %s (the API is POST /v1/predict, POST /v1/explain, GET /v1/model; the page is /)", r.URL.Path)
	})))
	return s.middleware(mux), nil
}

// staticFiles serves the page's files (no folder listings; JSON 404s).
func staticFiles(static fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if fi, err := fs.Stat(static, name); err != nil || fi.IsDir() {
			writeError(w, r, http.StatusNotFound, "no such file: %s", r.URL.Path)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, name)
	})
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	b, err := webFS.ReadFile("web/index.html")
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "the page is missing from the build: %v", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:")
	w.Write(b)
}

// classify reads a request's images and runs them through the batcher, answering
// the error itself when there is one.
func (s *Server) classify(w http.ResponseWriter, r *http.Request, maxFiles int) ([]upload, []jobResult, int, bool) {
	s.batch.arriving.Add(1)
	arriving := true
	defer func() {
		if arriving {
			s.batch.arriving.Add(-1)
		}
	}()
	top, herr := s.parseTop(r)
	if herr != nil {
		writeError(w, r, herr.code, "%s", herr.msg)
		return nil, nil, 0, false
	}
	ups, herr := s.readImages(w, r, maxFiles)
	if herr != nil {
		writeError(w, r, herr.code, "%s", herr.msg)
		return nil, nil, 0, false
	}
	imgs := make([]image.Image, len(ups)) // prepared for the model as they were decoded
	for i, u := range ups {
		imgs[i] = u.img
	}
	s.batch.arriving.Add(-1)
	arriving = false
	res, err := s.batch.submit(r.Context(), imgs)
	switch {
	case errors.Is(err, errOverloaded):
		w.Header().Set("Retry-After", "1")
		writeError(w, r, http.StatusServiceUnavailable, "%v", err)
		return nil, nil, 0, false
	case errors.Is(err, errShuttingDown):
		writeError(w, r, http.StatusServiceUnavailable, "%v", err)
		return nil, nil, 0, false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, r, http.StatusServiceUnavailable, "the request ended before the model answered: %v", err)
		return nil, nil, 0, false
	case err != nil:
		writeError(w, r, http.StatusInternalServerError, "%v", err)
		return nil, nil, 0, false
	}
	for _, x := range res {
		if errors.Is(x.err, errShuttingDown) {
			writeError(w, r, http.StatusServiceUnavailable, "%v", x.err)
			return nil, nil, 0, false
		}
		if x.err != nil {
			writeError(w, r, http.StatusInternalServerError, "%v", x.err)
			return nil, nil, 0, false
		}
	}
	return ups, res, top, true
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	ups, res, top, ok := s.classify(w, r, s.cfg.MaxFiles)
	if !ok {
		return
	}
	out := PredictResponse{Model: res[0].model.checkpoint, Results: make([]Result, len(res))}
	for i, x := range res {
		out.Results[i] = Result{Name: ups[i].name, Predictions: cut(x.preds, top)}
	}
	out.Predictions = out.Results[0].Predictions
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	ups, res, top, ok := s.classify(w, r, 1)
	if !ok {
		return
	}
	l := res[0].model
	// A saliency map is a forward and a backward pass outside the batcher: at most
	// GOMAXPROCS at once, the others wait their turn (or their request ends), so a
	// flood of explanations cannot take the memory and cores of the predictions.
	select {
	case s.explains <- struct{}{}:
	case <-r.Context().Done():
		writeError(w, r, http.StatusServiceUnavailable, "the request ended while waiting for the model: %v", r.Context().Err())
		return
	case <-s.stop:
		writeError(w, r, http.StatusServiceUnavailable, "%v", errShuttingDown)
		return
	}
	sal, pred, err := func() ([]float32, int, error) {
		defer func() { <-s.explains }() // the slot is the computation's, not the answer's
		if s.cfg.beforeExplain != nil {
			s.cfg.beforeExplain()
		}
		return l.model.SaliencyImage(ups[0].img)
	}()
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "%v", err)
		return
	}
	// The image as the model sees it: at its input size, gray or RGB.
	px, err := data.Pixels(ups[0].img, l.model.Shape)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "%v", err)
		return
	}
	seen := data.PixelsImage(px, l.model.Shape)
	overlay, err := plot.SaliencyOverlay(seen, sal)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "%v", err)
		return
	}
	out := ExplainResponse{Model: l.checkpoint, Predictions: cut(res[0].preds, top),
		Input: pngDataURL(seen), Saliency: pngDataURL(overlay), SaliencyClass: l.model.Classes[pred]}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) modelInfo(w http.ResponseWriter, r *http.Request) {
	l := s.model.Load()
	writeJSON(w, http.StatusOK, ModelResponse{Checkpoint: l.checkpoint, Path: l.path, Classes: l.model.Classes,
		Shape: l.model.Shape, Epochs: len(l.model.History), History: l.model.History, LoadedAt: l.loadedAt,
		LoadSeconds: l.loadTime.Seconds(), MaxBatch: s.cfg.MaxBatch, MaxFiles: s.cfg.MaxFiles,
		MaxBodySize: s.cfg.MaxBodyBytes, MaxPixels: s.cfg.MaxPixels})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, r, http.StatusServiceUnavailable, "shutting down")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "checkpoint": s.model.Load().checkpoint})
}

// cut keeps the k most probable classes (all when k is 0).
func cut(p []train.Prediction, k int) []train.Prediction {
	if k > 0 && k < len(p) {
		return p[:k]
	}
	return p
}

// prepare resizes img to the model's input size, so that the batcher does not
// spend its time resizing large images; an image of that size already is kept.
func prepare(img image.Image, shape data.Shape) (image.Image, error) {
	if b := img.Bounds(); b.Dx() == shape.Width && b.Dy() == shape.Height {
		return img, nil
	}
	px, err := data.Pixels(img, shape)
	if err != nil {
		return nil, err
	}
	return data.PixelsImage(px, shape), nil
}

// pngDataURL encodes img as a PNG data URL.
func pngDataURL(img image.Image) string {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return ""
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}
