package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves one model folder's newest checkpoint over HTTP. Make it with New,
// mount Handler (or call ListenAndServe / Serve), and Close it when done.
type Server struct {
	cfg     Config
	ckptDir string
	log     *slog.Logger

	model    atomic.Pointer[loaded]
	reloadMu sync.Mutex
	mon      *monitor
	batch    *batcher
	decode   chan struct{} // bounds the images decoded at once (their memory)
	explains chan struct{} // bounds the saliency maps computed at once
	handler  http.Handler
	draining atomic.Bool

	stop      chan struct{} // closed by Close: ends the batcher and the watcher
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New loads the newest checkpoint of cfg.ModelDir, warms it up, and starts the
// batcher and the folder watcher. The server is ready when New returns.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dir, err := CheckpointDir(cfg.ModelDir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	l, err := loadModel(dir, cfg.MaxBatch)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s := &Server{cfg: cfg, ckptDir: dir, log: cfg.Logger, stop: make(chan struct{}),
		decode: make(chan struct{}, 2*runtime.GOMAXPROCS(0)), explains: make(chan struct{}, runtime.GOMAXPROCS(0))}
	s.batch = &batcher{queue: make(chan *job, cfg.MaxQueue), maxBatch: cfg.MaxBatch, maxWait: cfg.MaxWait,
		model: s.model.Load, beforeBatch: cfg.beforeBatch, stopped: s.stop}
	s.mon = newMetrics(cfg.MaxBatch, func() float64 { return float64(len(s.batch.queue)) })
	s.batch.observe = s.mon.observeBatch
	s.swap(l)
	if s.handler, err = s.routes(); err != nil {
		return nil, err
	}
	s.log.Info("model loaded", "checkpoint", l.checkpoint, "path", l.path, "classes", len(l.model.Classes),
		"shape", l.model.Shape.String(), "load_seconds", l.loadTime.Seconds(),
		"max_batch", cfg.MaxBatch, "max_wait", cfg.MaxWait.String())

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.batch.run()
	}()
	if cfg.Poll > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.watch()
		}()
	}
	return s, nil
}

// Handler returns the server's HTTP handler: every route, with request ids, logs,
// metrics and JSON errors.
func (s *Server) Handler() http.Handler { return s.handler }

// Checkpoint returns the epoch folder being served, e.g. "out/demo/checkpoints/epoch-0010".
func (s *Server) Checkpoint() string { return s.model.Load().path }

// Close stops the batcher and the folder watcher. Requests still waiting for the
// model fail; Serve drains them before returning, so call Close after it.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		close(s.stop)
		s.wg.Wait()
		// Answer what was still queued.
		for {
			select {
			case j := <-s.batch.queue:
				j.done <- jobResult{err: errShuttingDown}
			default:
				return
			}
		}
	})
	return nil
}

// Timeouts are the http.Server's limits that ListenAndServe and Serve set.
type Timeouts struct {
	ReadHeader time.Duration // reading a request's headers (default 10s)
	Read       time.Duration // reading a whole request, body included (default 30s)
	Write      time.Duration // from the end of the headers to the end of the answer (default 60s)
	Idle       time.Duration // a kept-alive connection waiting for its next request (default 120s)
	Drain      time.Duration // at shutdown, for the requests in flight to finish (default 30s)
	// NotReady is how long, at shutdown, the server keeps answering while /readyz
	// reports 503, before it stops accepting connections (default 0): behind a load
	// balancer that polls readiness, set it to a few polling periods so that no new
	// request meets a closed port.
	NotReady time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 10*time.Second)
	def(&t.Read, 30*time.Second)
	def(&t.Write, 60*time.Second)
	def(&t.Idle, 120*time.Second)
	def(&t.Drain, 30*time.Second)
	return t
}

// ListenAndServe listens on addr (host:port) and serves until ctx ends, then
// drains: see Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string, t Timeouts) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return s.Serve(ctx, ln, t)
}

// Serve answers requests on ln until ctx ends (cancel it on SIGTERM). Then it reports
// not ready, keeps answering for t.NotReady, stops accepting connections, waits up to
// t.Drain for the requests in flight to finish, and returns nil once they all have
// (an error when some were cut).
func (s *Server) Serve(ctx context.Context, ln net.Listener, t Timeouts) error {
	t = t.withDefaults()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "checkpoint", s.model.Load().checkpoint)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	if t.NotReady > 0 {
		s.log.Info("shutting down: not ready, still answering", "for", t.NotReady.String())
		select {
		case <-time.After(t.NotReady):
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		}
	}
	s.log.Info("shutting down: draining requests in flight", "timeout", t.Drain.String())
	start := time.Now()
	dctx, cancel := context.WithTimeout(context.Background(), t.Drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		srv.Close()
		return fmt.Errorf("serve: shutting down: requests still running after %s: %w", t.Drain, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info("stopped", "drain_seconds", time.Since(start).Seconds())
	return nil
}
