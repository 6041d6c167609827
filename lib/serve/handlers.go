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
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/serve/api"
)

//go:embed web
var webFS embed.FS

// The answers' JSON types, defined in package api (which lib/serve/client reads
// too) and named here for the server's users.
type (
	// PredictResponse is the answer of POST /v1/predict.
	PredictResponse = api.PredictResponse
	// ExplainResponse is the answer of POST /v1/explain.
	ExplainResponse = api.ExplainResponse
	// ModelResponse is the answer of GET /v1/model.
	ModelResponse = api.ModelResponse
	// Prediction is one class's probability for an image.
	Prediction = api.Prediction
)

// RequestIDHeader carries a request's id (see api.RequestIDHeader).
const RequestIDHeader = api.RequestIDHeader

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

// request reads a request's ?top= and images.
func (s *Server) request(w http.ResponseWriter, r *http.Request, maxFiles int) (int, []upload, *httpError) {
	top, herr := s.parseTop(r)
	if herr != nil {
		return 0, nil, herr
	}
	ups, herr := s.readImages(w, r, maxFiles)
	return top, ups, herr
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	s.batch.arriving.Add(1) // the batcher waits for arriving requests to fill a batch
	top, ups, herr := s.request(w, r, s.cfg.MaxFiles)
	s.batch.arriving.Add(-1)
	if herr != nil {
		writeHTTPError(w, r, herr)
		return
	}
	imgs := make([]image.Image, len(ups))
	for i, u := range ups {
		imgs[i] = u.img
	}
	res, err := s.batch.submit(r.Context(), imgs)
	for i := 0; err == nil && i < len(res); i++ {
		err = res[i].err // the first image's error is usually every image's: one says it
	}
	if err != nil {
		writeHTTPError(w, r, modelError(err))
		return
	}
	out := PredictResponse{Model: res[0].model.name, Results: make([]api.Result, len(res))}
	for i, x := range res {
		preds, err := predictions(x.probs, x.model, ups[i].name)
		if err != nil {
			writeHTTPError(w, r, modelError(err))
			return
		}
		out.Results[i] = api.Result{Name: ups[i].name, Predictions: cut(preds, top)}
	}
	out.Predictions = out.Results[0].Predictions
	writeJSON(w, http.StatusOK, out)
}

// modelError answers a failed model call: 503 when the server is overloaded,
// closing, or the request ended, else 500 with the model's error.
func modelError(err error) *httpError {
	switch {
	case errors.Is(err, errOverloaded):
		return &httpError{code: http.StatusServiceUnavailable, msg: err.Error(), retry: true}
	case errors.Is(err, errShuttingDown):
		return errorf(http.StatusServiceUnavailable, "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, "the request ended before the model answered: %v", err)
	}
	return errorf(http.StatusInternalServerError, "%v", err)
}

// predictions turns a model's probabilities into classes, most probable first. A
// value that is not a probability (NaN, from weights that diverged) is an error
// that says so, not an answer.
func predictions(probs []float64, l *loaded, image string) ([]Prediction, error) {
	if len(probs) != len(l.classes) {
		return nil, fmt.Errorf("model %s answered %d probabilities for %d classes", l.name, len(probs), len(l.classes))
	}
	out := make([]Prediction, len(probs))
	for i, p := range probs {
		if math.IsNaN(p) || p < 0 || p > 1+1e-6 {
			if image == "" {
				image = "the image"
			}
			return nil, fmt.Errorf("model %s computed a probability of %v for class %q of %s: its weights are not usable (NaN or infinite: a training run that diverged?); serve another checkpoint",
				l.name, p, l.classes[i], image)
		}
		out[i] = Prediction{Class: l.classes[i], Index: i, Probability: p}
	}
	slices.SortStableFunc(out, func(a, b Prediction) int {
		switch {
		case a.Probability > b.Probability:
			return -1
		case a.Probability < b.Probability:
			return 1
		}
		return 0
	})
	return out, nil
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	top, ups, herr := s.request(w, r, 1)
	if herr != nil {
		writeHTTPError(w, r, herr)
		return
	}
	// Classes and map come from one call, outside the batcher: the saliency map
	// needs the forward pass of the saliency graph, whose activations the backward
	// pass uses, and the batch's inference graph keeps none.
	if err := s.explains.Acquire(r.Context(), 1); err != nil {
		writeHTTPError(w, r, modelError(err))
		return
	}
	l := s.acquire()
	if l == nil {
		s.explains.Release(1)
		writeHTTPError(w, r, modelError(errShuttingDown))
		return
	}
	probs, sal, err := l.model.explain(ups[0].img)
	s.release(l)
	s.explains.Release(1)
	var preds []Prediction
	if err != nil {
		err = fmt.Errorf("model %s: %w", l.name, err)
	} else {
		preds, err = predictions(probs, l, ups[0].name)
	}
	if err != nil {
		writeHTTPError(w, r, modelError(err))
		return
	}
	px, err := data.Pixels(ups[0].img, l.shape)
	if err != nil {
		writeHTTPError(w, r, errorf(http.StatusInternalServerError, "%v", err))
		return
	}
	seen := data.PixelsImage(px, l.shape) // the image as the model sees it
	heat, err := overlay(seen, sal)
	if err != nil {
		writeHTTPError(w, r, errorf(http.StatusInternalServerError, "model %s: %v", l.name, err))
		return
	}
	writeJSON(w, http.StatusOK, ExplainResponse{Model: l.name, Predictions: cut(preds, top),
		Input: pngDataURL(seen), Saliency: pngDataURL(heat), SaliencyClass: preds[0].Class})
}

func (s *Server) modelInfo(w http.ResponseWriter, r *http.Request) {
	l := s.model.Load()
	writeJSON(w, http.StatusOK, ModelResponse{Checkpoint: l.name, Path: l.folder, Classes: l.classes,
		Shape:  api.Shape{Channels: l.shape.Channels, Height: l.shape.Height, Width: l.shape.Width},
		Epochs: len(l.history), History: l.history, LoadedAt: l.loadedAt, LoadSeconds: l.loadTime.Seconds(),
		MaxBatch: s.cfg.MaxBatch, MaxFiles: s.cfg.MaxFiles, MaxBodySize: s.cfg.MaxBodyBytes,
		MaxPixels: s.cfg.MaxPixels, MaxMemory: s.cfg.MaxMemory})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, r, http.StatusServiceUnavailable, "shutting down")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "checkpoint": s.model.Load().name})
}

// cut keeps the k most probable classes (all when k is 0).
func cut(p []Prediction, k int) []Prediction {
	if k > 0 && k < len(p) {
		return p[:k]
	}
	return p
}

// pngDataURL encodes img as a PNG data URL.
func pngDataURL(img image.Image) string {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return ""
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}
