package serve

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gopherdl/gopherdl/lib/serve/api"
)

// reqInfo travels in a request's context: its id, and the error it was answered
// with, for the log line.
type reqInfo struct {
	id  string
	err string
}

type ctxKey struct{}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// RequestID returns the id of the request that ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return ri.id
	}
	return ""
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

// recorder remembers the status and size of an answer for the log line.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// middleware gives each request its id, recovers a panicking handler into a 500,
// and logs the request.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: r.Header.Get(RequestIDHeader)}
		if !validRequestID(ri.id) {
			ri.id = rand.Text()
		}
		w.Header().Set(RequestIDHeader, ri.id)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
		rec := &recorder{ResponseWriter: w}
		rc := http.NewResponseController(w)
		hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
		if hasBody {
			rc.EnableFullDuplex() // an error answer may go out before the body it refuses is read
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panic", "request_id", ri.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, r, http.StatusInternalServerError, "internal error: %v", p)
				}
			}
			s.logRequest(r, rec, ri, time.Since(start))
			if hasBody && rec.status >= 400 {
				s.drain(rc, r)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// drainTimeout bounds the time drain reads a refused body.
const drainTimeout = 5 * time.Second

// drain sends a refused request's answer, then reads and drops what is left of its
// body for up to drainTimeout, in no buffer of its own, as nginx's lingering close
// does: a connection closed with bytes unread is reset, and the client's TCP stack
// then drops the answer it had not read yet (RFC 9112, section 9.6).
func (s *Server) drain(rc *http.ResponseController, r *http.Request) {
	if err := rc.Flush(); err != nil {
		return
	}
	rc.SetReadDeadline(time.Now().Add(drainTimeout))
	io.Copy(io.Discard, r.Body)
}

func (s *Server) logRequest(r *http.Request, rec *recorder, ri *reqInfo, took time.Duration) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	if !s.cfg.LogRequests && level < slog.LevelError {
		return
	}
	attrs := []slog.Attr{slog.String("request_id", ri.id), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", status), slog.Float64("seconds", took.Seconds()),
		slog.Int64("bytes", rec.bytes), slog.String("remote", r.RemoteAddr)}
	if ri.err != "" {
		attrs = append(attrs, slog.String("error", ri.err))
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// writeError answers code with {"error": message, "request_id": ...}.
func writeError(w http.ResponseWriter, r *http.Request, code int, format string, args ...any) {
	ri := info(r)
	ri.err = fmt.Sprintf(format, args...)
	writeJSON(w, code, api.Error{Error: ri.err, RequestID: ri.id})
}

// writeHTTPError answers e, with Retry-After when it is worth retrying.
func writeHTTPError(w http.ResponseWriter, r *http.Request, e *httpError) {
	if e.retry {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, r, e.code, "%s", e.msg)
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(api.Error{Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// methods answers 405, with the Allow header, to a method other than allowed (HEAD
// is allowed where GET is).
func methods(h http.Handler, allowed ...string) http.Handler {
	if slices.Contains(allowed, http.MethodGet) {
		allowed = append(allowed, http.MethodHead)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(allowed, r.Method) {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, r, http.StatusMethodNotAllowed, "method %s not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allowed, " or "))
			return
		}
		h.ServeHTTP(w, r)
	})
}
